/**
 * Error responses: always `{"error": {code, category, message, ...context}}` with the status
 * of the category (ADR 0005). Framework errors (bad JSON, oversized or unsupported bodies,
 * schema violations) become SluiceErrors with clear messages; anything unexpected is a 500
 * whose details go to the log, not to the caller.
 */
import { relayedCode } from '../error-codes.ts';
import { SluiceError, httpStatusOf } from '../errors.ts';
import { excerpt } from '../text.ts';

const SECRET_KEY = /password|passwd|token|secret|authorization|credential|cookie|key/i;
/** Context keys that are for the CLI or internal bookkeeping, not for API callers. */
const HIDDEN_KEYS = new Set(['reported', 'problems']);

interface FrameworkError {
  code?: unknown;
  statusCode?: unknown;
  validation?: unknown;
  validationContext?: unknown;
  message?: unknown;
}

export function toSluiceError(err: unknown): SluiceError {
  if (err instanceof SluiceError) return err;
  const e = (typeof err === 'object' && err !== null ? err : {}) as FrameworkError;
  const message = typeof e.message === 'string' ? e.message : String(err);
  if (e.validation !== undefined) {
    return new SluiceError('REQUEST_INVALID', 'invalid-input', `invalid request: ${message}`);
  }
  switch (e.code) {
    case 'FST_ERR_CTP_BODY_TOO_LARGE':
      return new SluiceError(
        'PAYLOAD_TOO_LARGE',
        'invalid-input',
        'request body is larger than the limit for this endpoint',
      );
    case 'FST_ERR_CTP_INVALID_MEDIA_TYPE':
      return new SluiceError('UNSUPPORTED_MEDIA_TYPE', 'invalid-input', `unsupported content type: ${message}`);
    case 'FST_ERR_CTP_EMPTY_JSON_BODY':
      return new SluiceError('BODY_INVALID_JSON', 'invalid-input', 'request body is empty; expected JSON');
    case 'FST_ERR_CTP_INVALID_CONTENT_LENGTH':
      return new SluiceError('REQUEST_INVALID', 'invalid-input', 'Content-Length does not match the body');
    default:
      break;
  }
  const status = typeof e.statusCode === 'number' ? e.statusCode : 500;
  if (status >= 400 && status < 500) {
    return new SluiceError(
      typeof e.code === 'string' ? relayedCode(e.code) : 'REQUEST_INVALID',
      'invalid-input',
      message,
    );
  }
  return new SluiceError('INTERNAL', 'internal', message, {}, err);
}

const MAX_MESSAGE_CHARS = 2000;
const MAX_CONTEXT_CHARS = 1000;

export function statusOf(err: SluiceError): number {
  return httpStatusOf(err);
}

/** The response body. Internal errors say only where to look. */
export function errorBody(err: SluiceError, requestId: string): { error: Record<string, unknown> } {
  if (err.category === 'internal') {
    return {
      error: {
        code: 'INTERNAL',
        category: 'internal',
        message: `internal error; the server log has the details (request ${requestId})`,
        requestId,
      },
    };
  }
  const context: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(err.context)) {
    if (v === undefined || HIDDEN_KEYS.has(k) || SECRET_KEY.test(k)) continue;
    if (typeof v === 'string') context[k] = excerpt(v, MAX_CONTEXT_CHARS);
    else if (v === null || ['number', 'boolean'].includes(typeof v)) context[k] = v;
  }
  // Whatever input a message quotes, an answer stays readable (references quote less, see src/text.ts).
  const message = excerpt(err.message, MAX_MESSAGE_CHARS);
  return { error: { ...context, code: err.code, category: err.category, message } };
}
