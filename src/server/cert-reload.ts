/**
 * Serving certificates reloaded from disk without a restart. A mounted Secret changes by an atomic symlink swap,
 * which file watchers miss; polling the contents is simple and certain. A new pair is checked (key matches
 * certificate, both parse) before it replaces the old one, so a half-written update never breaks TLS; in-flight
 * connections keep the context they started with.
 */
import { X509Certificate, createPrivateKey } from 'node:crypto';
import { createSecureContext } from 'node:tls';
import { readKeyPair, type KeyPair } from './tls.js';

export function certificateNotAfter(certPem: string): Date {
  return new Date(new X509Certificate(certPem).validTo);
}

/** Throws with a reason when the pair cannot serve. */
export function checkKeyPair(pair: KeyPair): void {
  const cert = new X509Certificate(pair.cert);
  if (!cert.checkPrivateKey(createPrivateKey(pair.key))) throw new Error('the private key does not match the certificate');
  createSecureContext({ key: pair.key, cert: pair.cert });
}

export interface ReloaderOptions {
  readonly certFile: string;
  readonly keyFile: string;
  readonly intervalMs: number;
  readonly onReload: (pair: KeyPair) => void;
  readonly onError: (err: unknown) => void;
}

export class CertificateReloader {
  private timer: NodeJS.Timeout | undefined;
  private checking = false;

  constructor(
    private current: KeyPair,
    private readonly opts: ReloaderOptions,
  ) {}

  start(): void {
    this.timer = setInterval(() => void this.check(), this.opts.intervalMs);
    this.timer.unref();
  }

  stop(): void {
    clearInterval(this.timer);
  }

  /** Reads the files once; reloads when they changed and form a valid pair. */
  async check(): Promise<boolean> {
    if (this.checking) return false;
    this.checking = true;
    try {
      const pair = await readKeyPair(this.opts.certFile, this.opts.keyFile);
      if (pair.cert === this.current.cert && pair.key === this.current.key) return false;
      checkKeyPair(pair);
      this.current = pair;
      this.opts.onReload(pair);
      return true;
    } catch (err) {
      this.opts.onError(err);
      return false;
    } finally {
      this.checking = false;
    }
  }
}
