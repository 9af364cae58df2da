/**
 * Where the rules document lives in a cluster: a ConfigMap, under one key, marked by one label (the validating
 * webhook checks every ConfigMap so labelled, so that a bad edit never reaches the running webhooks). The one home of
 * these names.
 */

/** The ConfigMap key that holds the rules document. */
export const RULES_CONFIGMAP_KEY = 'rules.yaml';

/** The label (value `"true"`) that marks a rules ConfigMap for validation. */
export const RULES_CONFIGMAP_LABEL = 'placement-webhook/rules';

/** The rules ConfigMap that `webhook-config/` installs. */
export const RULES_CONFIGMAP = { namespace: 'placement-webhook', name: 'placement-webhook-rules' } as const;
