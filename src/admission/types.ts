/**
 * admission.k8s.io/v1 AdmissionReview, as the API server sends it and as we answer. The inbound shape is checked
 * with a schema (only what we rely on; unknown fields are allowed, the API adds some over time).
 */
import { Type, type Static } from '@sinclair/typebox';

export const ADMISSION_API_VERSION = 'admission.k8s.io/v1';
export const ADMISSION_KIND = 'AdmissionReview';
export const OPERATIONS = ['CREATE', 'UPDATE', 'DELETE', 'CONNECT'] as const;

const Open = { additionalProperties: true } as const;
const GroupVersionKind = Type.Object({ group: Type.String(), version: Type.String(), kind: Type.String() }, Open);
const GroupVersionResource = Type.Object({ group: Type.String(), version: Type.String(), resource: Type.String() }, Open);

export const AdmissionRequest = Type.Object(
  {
    uid: Type.String({ minLength: 1 }),
    kind: GroupVersionKind,
    resource: GroupVersionResource,
    subResource: Type.Optional(Type.String()),
    requestKind: Type.Optional(GroupVersionKind),
    requestResource: Type.Optional(GroupVersionResource),
    requestSubResource: Type.Optional(Type.String()),
    name: Type.Optional(Type.String()),
    namespace: Type.Optional(Type.String()),
    operation: Type.Unsafe<(typeof OPERATIONS)[number]>({ type: 'string', enum: [...OPERATIONS] }),
    userInfo: Type.Optional(Type.Object({}, Open)),
    object: Type.Optional(Type.Unknown()),
    oldObject: Type.Optional(Type.Unknown()),
    dryRun: Type.Optional(Type.Boolean()),
    options: Type.Optional(Type.Unknown()),
  },
  Open,
);

export const AdmissionReviewRequest = Type.Object(
  {
    apiVersion: Type.Literal(ADMISSION_API_VERSION),
    kind: Type.Literal(ADMISSION_KIND),
    request: AdmissionRequest,
  },
  Open,
);

export type AdmissionRequest = Static<typeof AdmissionRequest>;
export type AdmissionReviewRequest = Static<typeof AdmissionReviewRequest>;

/** metav1.StatusCause: kubectl prints each as `field: message` under "The Kind "name" is invalid". */
export interface StatusCause {
  reason: string;
  message: string;
  field: string;
}

export interface AdmissionStatus {
  code: number;
  message: string;
  reason?: string;
  details?: { name?: string; kind?: string; causes?: StatusCause[] };
}

export interface AdmissionResponse {
  uid: string;
  allowed: boolean;
  status?: AdmissionStatus;
  patch?: string;
  patchType?: 'JSONPatch';
  warnings?: string[];
}

export interface AdmissionReviewResponse {
  apiVersion: typeof ADMISSION_API_VERSION;
  kind: typeof ADMISSION_KIND;
  response: AdmissionResponse;
}
