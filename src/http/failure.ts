/**
 * What went wrong on the wire, in terms an adapter can turn into its own SluiceError. The
 * message names the host and the errno code only: URLs carry tokens (webhooks), headers carry
 * credentials, and Node's own messages quote the URL ("Failed to parse URL from <url>").
 */

export type HttpFailureKind =
  | 'timeout'
  | 'connect-timeout'
  | 'aborted'
  | 'tls-untrusted'
  | 'tls-protocol'
  | 'network'
  | 'too-large'
  | 'too-many-redirects'
  | 'redirect-refused';

export class HttpFailure extends Error {
  readonly kind: HttpFailureKind;
  /** The errno (`ECONNREFUSED`, `CERT_HAS_EXPIRED`...), when the failure had one. */
  readonly code: string | undefined;
  readonly host: string;

  constructor(kind: HttpFailureKind, host: string, detail: string, code?: string) {
    super(`${host}: ${detail}`);
    this.name = 'HttpFailure';
    this.kind = kind;
    this.host = host;
    this.code = code;
  }
}

export function isHttpFailure(err: unknown): err is HttpFailure {
  return err instanceof HttpFailure;
}

/** `ECONNREFUSED`, `ENOTFOUND`, `UND_ERR_SOCKET`..., from the error or its cause chain. */
export function errnoCode(err: unknown): string | undefined {
  for (let e = err, depth = 0; e instanceof Error && depth < 4; e = e.cause, depth++) {
    const code = (e as NodeJS.ErrnoException).code;
    if (typeof code === 'string' && /^[A-Z0-9_]{2,40}$/.test(code)) return code;
  }
  return undefined;
}

export function isTlsProtocolError(err: unknown): boolean {
  const e = err as { code?: string; message?: string };
  return (
    e?.code === 'EPROTO' ||
    e?.code === 'ERR_SSL_WRONG_VERSION_NUMBER' ||
    /wrong version number|packet length too long|unknown protocol/i.test(e?.message ?? '')
  );
}

export function isTlsTrustError(err: unknown): boolean {
  const code = errnoCode(err) ?? '';
  return (
    code.startsWith('ERR_TLS_CERT') ||
    [
      'DEPTH_ZERO_SELF_SIGNED_CERT',
      'SELF_SIGNED_CERT_IN_CHAIN',
      'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
      'CERT_HAS_EXPIRED',
      'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
      'CERT_NOT_YET_VALID',
      'CERT_UNTRUSTED',
    ].includes(code)
  );
}
