/**
 * The little HTTP the notifiers share. Webhook URLs carry tokens, so nothing here ever puts a
 * URL, or an error text that might contain one (Node's "Failed to parse URL from <url>"), into
 * an error: failures are described by channel, adapter, HTTP status and errno code only.
 */
import { SluiceError } from '../errors.ts';
import { errnoCode, formatMs, isHttpFailure, type OutboundClient } from '../http/index.ts';

export { categoryForStatus, formatMs, parseRetryAfter } from '../http/index.ts';

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
  header(name: string): string | undefined;
  /** At most MAX_RESPONSE_BYTES, decoded as UTF-8. */
  body: string;
}

/**
 * One POST with a timeout, redirects not followed (a redirect would carry the token-bearing
 * body elsewhere). Network failures and timeouts become `unavailable` SluiceErrors that name
 * only the target and the errno code.
 */
export async function post(
  client: OutboundClient,
  url: string,
  init: { headers: Record<string, string>; body: string; timeoutMs: number; signal?: AbortSignal },
  target: Target,
): Promise<PostResult> {
  try {
    const res = await client.request({
      method: 'POST',
      url,
      headers: init.headers,
      body: init.body,
      timeoutMs: init.timeoutMs,
      signal: init.signal,
      maxResponseBytes: MAX_RESPONSE_BYTES,
      truncate: true,
    });
    return { status: res.status, header: (name) => res.header(name), body: res.text() };
  } catch (err) {
    throw transportError(err, target, init.timeoutMs, init.signal);
  }
}

function transportError(err: unknown, target: Target, timeoutMs: number, outer: AbortSignal | undefined): SluiceError {
  if (outer?.aborted) return abortedError(target);
  const kind = isHttpFailure(err) ? err.kind : undefined;
  if (kind === 'timeout' || kind === 'connect-timeout') {
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
