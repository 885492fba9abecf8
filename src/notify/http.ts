/**
 * The little HTTP the notifiers share. Webhook URLs carry tokens, so nothing here ever puts a
 * URL, or an error text that might contain one (Node's "Failed to parse URL from <url>"), into
 * an error: failures are described by channel, adapter, HTTP status and errno code only.
 */
import type { ReceiverAnswerCategory } from '../error-codes.ts';
import { SluiceError } from '../errors.ts';

export type FetchLike = (url: string, init: RequestInit) => Promise<Response>;

/** Responses are read for a status word or a short error; anything longer is cut off. */
export const MAX_RESPONSE_BYTES = 64 * 1024;
export const DEFAULT_REQUEST_TIMEOUT_MS = 10_000;

export interface Target {
  /** Channel name from the policy, shown in every error. */
  channel: string;
  adapter: 'slack' | 'webhook';
}

/** Checks a resolved webhook URL without ever quoting it. */
export function checkWebhookUrl(url: string, target: Target): URL {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    throw new SluiceError(
      'NOTIFY_URL_INVALID',
      'invalid-input',
      `${describeTarget(target)}: the configured URL is not a valid URL (not shown)`,
      { ...target },
    );
  }
  if (u.protocol !== 'https:' && u.protocol !== 'http:') {
    throw new SluiceError(
      'NOTIFY_URL_INVALID',
      'invalid-input',
      `${describeTarget(target)}: the configured URL must be http(s), not ${u.protocol.slice(0, -1)}`,
      { ...target },
    );
  }
  if (u.username !== '' || u.password !== '') {
    throw new SluiceError(
      'NOTIFY_URL_INVALID',
      'invalid-input',
      `${describeTarget(target)}: the configured URL must not carry user info`,
      { ...target },
    );
  }
  return u;
}

export function describeTarget(t: Target): string {
  return `notification channel ${t.channel} (${t.adapter})`;
}

export interface PostResult {
  status: number;
  headers: Headers;
  /** At most MAX_RESPONSE_BYTES, decoded as UTF-8. */
  body: string;
}

/**
 * One POST with a timeout, redirects not followed (a redirect would carry the token-bearing
 * body elsewhere). Network failures and timeouts become `unavailable` SluiceErrors that name
 * only the target and the errno code.
 */
export async function post(
  fetchImpl: FetchLike,
  url: string,
  init: { headers: Record<string, string>; body: string; timeoutMs: number; signal?: AbortSignal },
  target: Target,
): Promise<PostResult> {
  const timeout = AbortSignal.timeout(init.timeoutMs);
  const signal = init.signal ? AbortSignal.any([init.signal, timeout]) : timeout;
  let res: Response;
  try {
    res = await fetchImpl(url, { method: 'POST', headers: init.headers, body: init.body, redirect: 'manual', signal });
  } catch (err) {
    throw transportError(err, target, timeout, init.timeoutMs, init.signal);
  }
  let body: string;
  try {
    body = await readLimited(res, MAX_RESPONSE_BYTES);
  } catch (err) {
    throw transportError(err, target, timeout, init.timeoutMs, init.signal);
  }
  return { status: res.status, headers: res.headers, body };
}

function transportError(
  err: unknown,
  target: Target,
  timeout: AbortSignal,
  timeoutMs: number,
  outer: AbortSignal | undefined,
): SluiceError {
  if (outer?.aborted) return abortedError(target);
  if (timeout.aborted) {
    return new SluiceError(
      'NOTIFY_UNAVAILABLE',
      'unavailable',
      `${describeTarget(target)}: no answer within ${formatMs(timeoutMs)}`,
      { ...target, reason: 'timeout' },
    );
  }
  const code = errnoCode(err);
  return new SluiceError(
    'NOTIFY_UNAVAILABLE',
    'unavailable',
    `${describeTarget(target)}: the request failed (${code ?? 'network error'})`,
    { ...target, reason: code ?? 'network error' },
  );
}

export function abortedError(target: Target): SluiceError {
  return new SluiceError('NOTIFY_TIMEOUT', 'unavailable', `${describeTarget(target)}: delivery was cut off`, {
    ...target,
    reason: 'aborted',
  });
}

/** `ECONNREFUSED`, `ENOTFOUND`, `UND_ERR_SOCKET`..., from the error or its cause chain. */
export function errnoCode(err: unknown): string | undefined {
  for (let e = err, depth = 0; e instanceof Error && depth < 4; e = e.cause, depth++) {
    const code = (e as NodeJS.ErrnoException).code;
    if (typeof code === 'string' && /^[A-Z0-9_]{2,40}$/.test(code)) return code;
  }
  return undefined;
}

async function readLimited(res: Response, max: number): Promise<string> {
  if (!res.body) return '';
  const reader = res.body.getReader();
  const chunks: Uint8Array[] = [];
  let total = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    const room = max - total;
    if (value.length >= room) {
      chunks.push(value.subarray(0, room));
      await reader.cancel();
      break;
    }
    chunks.push(value);
    total += value.length;
  }
  return Buffer.concat(chunks).toString('utf8');
}

/** Retry-After in ms: delta-seconds or an HTTP date; undefined when absent or unreadable. */
export function parseRetryAfter(value: string | null, now = Date.now()): number | undefined {
  if (value === null) return undefined;
  const v = value.trim();
  if (/^\d{1,9}$/.test(v)) return Number(v) * 1000;
  const at = Date.parse(v);
  return Number.isNaN(at) ? undefined : Math.max(0, at - now);
}

/** Waits `ms`, or rejects with the target's abort error as soon as `signal` aborts. */
export function sleep(ms: number, target: Target, signal?: AbortSignal): Promise<void> {
  if (signal?.aborted) return Promise.reject(abortedError(target));
  return new Promise((resolve, reject) => {
    const onAbort = () => {
      clearTimeout(timer);
      reject(abortedError(target));
    };
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}

export function formatMs(ms: number): string {
  return ms % 1000 === 0 ? `${ms / 1000} s` : `${ms} ms`;
}

/** The category of a non-2xx answer when nothing more specific is known. */
export function categoryForStatus(status: number): ReceiverAnswerCategory {
  switch (status) {
    case 401:
      return 'unauthorized';
    case 403:
      return 'forbidden';
    case 404:
    case 410:
      return 'not-found';
    default:
      return status >= 500 || status === 429 ? 'unavailable' : 'invalid-input';
  }
}
