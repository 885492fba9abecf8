/**
 * The last line of defence of `sluice serve`: what the process does with an error nobody
 * handled (an 'error' event without a listener, a rejection nobody awaited). The fixes belong
 * where such errors start: every stream handles its own. This only decides, should one slip
 * through anyway, whether the API, the webhooks and the scheduler go down with it.
 *
 * A peer's failure (a connection reset, a timeout, a registry that broke off) concerns the one
 * stream or request it surfaced on, which is already destroyed: it is logged and the server
 * serves on. Anything else is a bug whose damage is unknown: it is logged and the server shuts
 * down gracefully with exit 1, so the supervisor starts a clean process.
 */
import { SluiceError } from '../errors.ts';

const PEER_FAILURE_CODES = new Set([
  'ECONNRESET',
  'ECONNREFUSED',
  'ECONNABORTED',
  'EPIPE',
  'ETIMEDOUT',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'EAI_AGAIN',
  'ENOTFOUND',
  'ERR_STREAM_PREMATURE_CLOSE',
]);

/** Whether an unhandled error is a peer failing rather than a bug in this process. */
export function isPeerFailure(err: unknown): boolean {
  if (err instanceof SluiceError) return err.category === 'unavailable' || err.category === 'integrity';
  const code = (err as { code?: unknown } | null)?.code;
  return typeof code === 'string' && PEER_FAILURE_CODES.has(code);
}

interface GuardLog {
  error(obj: object, msg: string): void;
  fatal(obj: object, msg: string): void;
}

function describe(err: unknown): Record<string, unknown> {
  if (!(err instanceof Error)) return { message: String(err) };
  return { name: err.name, message: err.message, code: (err as { code?: unknown }).code, stack: err.stack };
}

/**
 * Installs the guard on this process. `onFatal` is called (once per error) for anything that
 * is not a peer's failure. Returns the function that removes the guard.
 */
export function installCrashGuard(log: GuardLog, onFatal: (err: unknown) => void): () => void {
  // With a listener, unhandled rejections arrive here too (origin 'unhandledRejection').
  const listener = (err: unknown, origin: string): void => {
    if (isPeerFailure(err)) {
      log.error({ err: describe(err), origin }, `${origin} from a peer's failure, serving on`);
      return;
    }
    log.fatal({ err: describe(err), origin }, `${origin}: shutting down`);
    onFatal(err);
  };
  process.on('uncaughtException', listener);
  return () => process.off('uncaughtException', listener);
}
