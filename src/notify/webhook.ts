/**
 * Generic webhooks: each event is POSTed as a CloudEvents 1.0 JSON document in structured
 * mode (cloudevents/spec `http-protocol-binding.md` v1.0.2 §3.2, `json-format.md`):
 * `Content-Type: application/cloudevents+json`, and the body holds `specversion` "1.0", `id`,
 * `source` (a URI-reference, `/sluice`), `type` (reverse-DNS, `dev.sluice.<event type>`),
 * `time` (RFC 3339), `subject`, `datacontenttype` and `data`.
 *
 * Two headers make deliveries safe to receive:
 * - `X-Signature-256: sha256=<hex HMAC-SHA256 of the exact body bytes>` when the channel has
 *   a secret (GitHub's webhook signature convention); receivers check it with
 *   `verifyWebhookSignature` over the raw body, before parsing it.
 * - `Idempotency-Key: <event id>`: the same on every retry of one event, so a receiver that
 *   saw a delivery whose answer got lost can drop the repeat.
 *
 * 2xx is delivered. 5xx, 429 and network failures are retried with exponential backoff
 * (3 attempts by default, honouring Retry-After); 4xx is the receiver's final answer and is
 * never retried; redirects are not followed (the URL may carry a token).
 */
import { createHmac, timingSafeEqual } from 'node:crypto';
import { SluiceError, isSluiceError } from '../errors.ts';
import type { LifecycleEvent, Notifier } from './event.ts';
import { OutboundClient, RetryBudget, categoryForStatus, formatMs, parseRetryAfter } from '../http/index.ts';
import {
  DEFAULT_REQUEST_TIMEOUT_MS,
  abortedError,
  checkWebhookUrl,
  describeTarget,
  post,
  type Target,
} from './http.ts';

export const CLOUDEVENTS_CONTENT_TYPE = 'application/cloudevents+json';
export const EVENT_SOURCE = '/sluice';
export const EVENT_TYPE_PREFIX = 'dev.sluice.';
export const SIGNATURE_HEADER = 'X-Signature-256';
export const IDEMPOTENCY_HEADER = 'Idempotency-Key';

export interface CloudEvent {
  specversion: '1.0';
  id: string;
  source: string;
  type: string;
  /** RFC 3339, UTC. */
  time: string;
  subject: string;
  datacontenttype: 'application/json';
  /** The event's data, with its one-line `summary`. */
  data: Record<string, unknown>;
}

export function toCloudEvent(event: LifecycleEvent): CloudEvent {
  return {
    specversion: '1.0',
    id: event.id,
    source: EVENT_SOURCE,
    type: `${EVENT_TYPE_PREFIX}${event.type}`,
    time: event.time.toISOString(),
    subject: event.subject,
    datacontenttype: 'application/json',
    data: { summary: event.summary, ...event.data },
  };
}

/** `sha256=<hex>` over exactly these bytes. */
export function signBody(rawBody: string | Uint8Array, secret: string): string {
  return `sha256=${createHmac('sha256', secret).update(rawBody).digest('hex')}`;
}

/**
 * For receivers: whether `header` (the `X-Signature-256` value) is the HMAC-SHA256 of
 * `rawBody` (the bytes as received, before any JSON parsing) under `secret`. Constant-time in
 * the signature; false for a missing, malformed or wrong header.
 */
export function verifyWebhookSignature(
  rawBody: string | Uint8Array,
  header: string | null | undefined,
  secret: string,
): boolean {
  if (typeof header !== 'string' || secret === '') return false;
  const m = /^sha256=([0-9a-fA-F]{64})$/.exec(header.trim());
  if (!m) return false;
  const given = Buffer.from(m[1]!.toLowerCase(), 'hex');
  const expected = createHmac('sha256', secret).update(rawBody).digest();
  return given.length === expected.length && timingSafeEqual(given, expected);
}

export interface WebhookNotifierOptions {
  /** Channel name (from the policy) used in errors; default `webhook`. */
  name?: string;
  /** Shared by the channels of one hub; default a client of this notifier's own. */
  client?: OutboundClient;
  /** Per request; default 10 s. */
  timeoutMs?: number;
  /** Attempts in all, including the first; default 3. */
  attempts?: number;
  /** Backoff before retry n is retryDelayMs·2^(n-1), plus up to 25 % jitter; default 500 ms. */
  retryDelayMs?: number;
  /** Longest Retry-After waited for (ms); a longer one ends the delivery at once. Default 10 s. */
  maxRetryAfterMs?: number;
}

export class WebhookNotifier implements Notifier {
  readonly #url: string;
  readonly #secret: string | undefined;
  readonly #target: Target;
  readonly #client: OutboundClient;
  readonly #timeoutMs: number;
  readonly #attempts: number;
  readonly #retryDelayMs: number;
  readonly #maxRetryAfterMs: number;

  constructor(url: string, secret?: string, options: WebhookNotifierOptions = {}) {
    this.#target = { channel: options.name ?? 'webhook', adapter: 'webhook' };
    checkWebhookUrl(url, this.#target);
    if (secret === '') {
      throw new SluiceError(
        'NOTIFY_SECRET_INVALID',
        'invalid-input',
        `${describeTarget(this.#target)}: the signing secret is empty`,
        { ...this.#target },
      );
    }
    this.#url = url;
    this.#secret = secret;
    this.#client = options.client ?? new OutboundClient();
    this.#timeoutMs = options.timeoutMs ?? DEFAULT_REQUEST_TIMEOUT_MS;
    this.#attempts = Math.max(1, Math.floor(options.attempts ?? 3));
    this.#retryDelayMs = options.retryDelayMs ?? 500;
    this.#maxRetryAfterMs = options.maxRetryAfterMs ?? 10_000;
  }

  async send(event: LifecycleEvent, signal?: AbortSignal): Promise<void> {
    // Serialised once: every attempt sends, and signs, the same bytes.
    const body = JSON.stringify(toCloudEvent(event));
    const headers: Record<string, string> = {
      'content-type': CLOUDEVENTS_CONTENT_TYPE,
      'user-agent': 'sluice',
      [IDEMPOTENCY_HEADER]: event.id,
    };
    if (this.#secret !== undefined) headers[SIGNATURE_HEADER] = signBody(body, this.#secret);
    const target = this.#target;
    const budget = new RetryBudget({
      attempts: this.#attempts,
      baseDelayMs: this.#retryDelayMs,
      jitter: 'quarter',
      maxRetryAfterMs: this.#maxRetryAfterMs,
    });
    for (;;) {
      const attempt = budget.attempt;
      let retryAfter: number | undefined;
      let failure: SluiceError;
      try {
        const res = await post(this.#client, this.#url, { headers, body, timeoutMs: this.#timeoutMs, signal }, target);
        if (res.status >= 200 && res.status < 300) return;
        if (res.status >= 300 && res.status < 400) {
          throw new SluiceError(
            'NOTIFY_REJECTED',
            'unavailable',
            `${describeTarget(target)}: the receiver answered HTTP ${res.status}, a redirect, which is not followed`,
            { ...target, httpStatus: res.status },
          );
        }
        if (res.status !== 429 && res.status < 500) {
          throw new SluiceError(
            'NOTIFY_REJECTED',
            categoryForStatus(res.status),
            `${describeTarget(target)}: the receiver answered HTTP ${res.status}; not retried (a 4xx answer is final)`,
            { ...target, httpStatus: res.status, attempts: attempt },
          );
        }
        retryAfter = parseRetryAfter(res.header('retry-after'));
        failure = new SluiceError(
          'NOTIFY_UNAVAILABLE',
          'unavailable',
          `${describeTarget(target)}: the receiver answered HTTP ${res.status}${attemptsNote(attempt)}`,
          { ...target, httpStatus: res.status, attempts: attempt },
        );
      } catch (err) {
        if (!isSluiceError(err) || err.code !== 'NOTIFY_UNAVAILABLE' || signal?.aborted) throw err;
        failure = new SluiceError('NOTIFY_UNAVAILABLE', 'unavailable', `${err.message}${attemptsNote(attempt)}`, {
          ...err.context,
          attempts: attempt,
        });
      }
      const next = budget.next(retryAfter);
      if (!next.retry && next.reason === 'retry-after') {
        throw new SluiceError(
          'NOTIFY_UNAVAILABLE',
          'unavailable',
          `${failure.message}; it asks to wait ${formatMs(next.retryAfterMs!)}, longer than Sluice waits`,
          { ...failure.context, retryAfterMs: next.retryAfterMs },
        );
      }
      if (!next.retry) throw failure;
      await budget.wait(next.waitMs, signal).catch(() => {
        throw abortedError(target);
      });
    }
  }
}

function attemptsNote(attempt: number): string {
  return attempt > 1 ? ` (after ${attempt} attempts)` : '';
}
