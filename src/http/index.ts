/** Outbound HTTP for adapters that are not registries; the pieces registries share too. */
export { readLimited, type ReadLimitedOptions } from './body.ts';
export {
  CREDENTIAL_HEADERS,
  DEFAULT_CONNECT_TIMEOUT_MS,
  DEFAULT_MAX_RESPONSE_BYTES,
  DEFAULT_TIMEOUT_MS,
  MAX_REDIRECTS,
  OutboundClient,
  formatMs,
  isLoopbackHostname,
  type OutboundClientOptions,
  type OutboundRequest,
  type OutboundResponse,
  type TlsSettings,
} from './client.ts';
export {
  HttpFailure,
  errnoCode,
  isHttpFailure,
  isTlsProtocolError,
  isTlsTrustError,
  type HttpFailureKind,
} from './failure.ts';
export { RetryBudget, formatWait, parseRetryAfter, sleep, type RetryDecision, type RetryPolicy } from './retry.ts';
export { categoryForStatus, type StatusCategoryOptions } from './status.ts';
