/**
 * One error type for the whole product. Modules throw `SluiceError` with a stable `code`
 * (what went wrong, for scripts and tests) and a `category` (what kind of failure, which
 * the CLI maps to an exit code and the server to an HTTP status). Anything else that
 * escapes is a bug and is reported as `internal`. The codes and their categories are listed
 * in `src/error-codes.ts`; the constructor accepts a code only with its own category.
 */
import { isErrorCode, ownStatusOf, type CategoryOf, type ErrorCode, type RelayedCode } from './error-codes.ts';

export type { ErrorCode } from './error-codes.ts';

export type ErrorCategory =
  /** The command line itself is wrong (unknown flag, missing argument); only src/cli/ throws it. */
  | 'usage'
  /** Input the user gave is malformed: a reference, a policy file, a payload. */
  | 'invalid-input'
  /** Something named does not exist (image, tag, repository, record). */
  | 'not-found'
  /** Credentials missing or rejected. */
  | 'unauthorized'
  /** Authenticated, but the role or the registry forbids the operation. */
  | 'forbidden'
  /** The operation conflicts with current state (immutable tag, concurrent change). */
  | 'conflict'
  /** A policy said no: a gate failed, a signature did not verify. Expected, not a fault. */
  | 'policy-violation'
  /** A peer misbehaved: wrong digest, oversize manifest, unsupported media type. */
  | 'integrity'
  /** A dependency is unreachable or failing (registry down, database gone, timeouts). */
  | 'unavailable'
  /** A bug. */
  | 'internal';

export interface ErrorContext {
  registry?: string;
  repository?: string;
  reference?: string;
  digest?: string;
  operation?: string;
  /** OCI distribution error code from the registry's body (MANIFEST_UNKNOWN, DENIED, ...). */
  ociCode?: string;
  httpStatus?: number;
  /** file:line:column for input files. */
  location?: string;
  [key: string]: unknown;
}

/** A listed code, or one a peer chose (see `relayedCode`). */
export type AnyErrorCode = ErrorCode | RelayedCode;

/** The category argument a code allows: its own for a listed code, any for a relayed one. */
type CategoryFor<C extends AnyErrorCode> = C extends ErrorCode ? CategoryOf<C> : ErrorCategory;

export class SluiceError<C extends AnyErrorCode = AnyErrorCode> extends Error {
  readonly code: C;
  readonly category: ErrorCategory;
  readonly context: ErrorContext;

  constructor(code: C, category: CategoryFor<C>, message: string, context: ErrorContext = {}, cause?: unknown) {
    super(message, cause === undefined ? undefined : { cause });
    this.name = 'SluiceError';
    this.code = code;
    this.category = category;
    this.context = context;
  }

  toJSON(): Record<string, unknown> {
    return { code: this.code, category: this.category, message: this.message, ...this.context };
  }
}

export function isSluiceError(err: unknown, code?: ErrorCode): err is SluiceError {
  return err instanceof SluiceError && (code === undefined || err.code === code);
}

/** Wraps anything thrown into a SluiceError without losing the original. */
export function asSluiceError(err: unknown): SluiceError {
  if (err instanceof SluiceError) return err;
  const message = err instanceof Error ? err.message : String(err);
  return new SluiceError('INTERNAL', 'internal', message, {}, err);
}

/** Exit codes: 0 ok, 1 operation failed, 2 usage or input error (skopeo's precedent for not-found). */
export function exitCodeFor(category: ErrorCategory): number {
  switch (category) {
    case 'usage':
    case 'invalid-input':
    case 'not-found':
      return 2;
    default:
      return 1;
  }
}

export function httpStatusFor(category: ErrorCategory): number {
  switch (category) {
    case 'usage':
    case 'invalid-input':
      return 400;
    case 'unauthorized':
      return 401;
    case 'forbidden':
      return 403;
    case 'not-found':
      return 404;
    case 'conflict':
      return 409;
    case 'policy-violation':
      return 422;
    case 'integrity':
      return 502;
    case 'unavailable':
      return 503;
    default:
      return 500;
  }
}

/** The HTTP status of an error: its code's own where the table gives one, else its category's. */
export function httpStatusOf(err: SluiceError): number {
  return (isErrorCode(err.code) ? ownStatusOf(err.code) : undefined) ?? httpStatusFor(err.category);
}
