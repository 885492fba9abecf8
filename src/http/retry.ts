/**
 * Waiting between attempts: Retry-After as servers send it, one abortable sleep, and a budget
 * that decides whether a further attempt is worth making at all.
 */

/** Retry-After as milliseconds (delta-seconds or an HTTP date, RFC 9110 10.2.3); uncapped. */
export function parseRetryAfter(value: string | null | undefined, now = Date.now()): number | undefined {
  if (value === null || value === undefined) return undefined;
  const v = value.trim();
  if (v === '') return undefined;
  if (/^\d+$/.test(v)) {
    const ms = Number(v) * 1000;
    return Number.isFinite(ms) ? ms : undefined;
  }
  // An HTTP date names its weekday and month; Date.parse alone takes `-5` or `1.5` for dates.
  if (!/^[A-Za-z]{3},? /.test(v)) return undefined;
  const at = Date.parse(v);
  return Number.isNaN(at) ? undefined : Math.max(0, at - now);
}

/** Seconds as people read them in a message: `45 s`, `1h`, `1h30m`. */
export function formatWait(ms: number): string {
  const s = Math.ceil(ms / 1000);
  if (s < 120) return `${s} s`;
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  return h === 0 ? `${m} min` : m === 0 ? `${h}h` : `${h}h${m}m`;
}

/** Waits `ms`; rejects with the signal's reason as soon as it aborts, so shutdowns are not held up. */
export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(signal.reason);
    const onAbort = () => {
      clearTimeout(timer);
      reject(signal?.reason);
    };
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}

export interface RetryPolicy {
  /** Attempts in all, the first included. */
  attempts: number;
  /** Backoff before retry n is baseDelayMs·2^(n-1), capped at maxDelayMs. */
  baseDelayMs: number;
  maxDelayMs?: number;
  /**
   * `quarter` adds up to 25 % (one client, spread a little); `full` draws from [0, backoff]
   * (many clients hitting one failing server).
   */
  jitter?: 'quarter' | 'full' | 'none';
  /** The longest Retry-After honoured; a longer one ends the attempts at once. */
  maxRetryAfterMs?: number;
  /** Used when the server asked to retry (429) without saying when. */
  defaultRetryAfterMs?: number;
  /** All waits of one request together. */
  budgetMs?: number;
}

export type RetryDecision =
  | { retry: true; waitMs: number }
  | { retry: false; reason: 'attempts' | 'retry-after' | 'budget'; retryAfterMs?: number };

/** The attempts of one request: which attempt this is and how long was waited so far. */
export class RetryBudget {
  readonly policy: Readonly<RetryPolicy>;
  /** The attempt being made, 1-based. */
  attempt = 1;
  waitedMs = 0;

  constructor(policy: RetryPolicy) {
    this.policy = { ...policy, attempts: Math.max(1, Math.floor(policy.attempts)) };
  }

  get last(): boolean {
    return this.attempt >= this.policy.attempts;
  }

  /** Whether to make another attempt after a failure, and after how long. */
  next(retryAfterMs?: number): RetryDecision {
    const p = this.policy;
    if (this.last) return { retry: false, reason: 'attempts' };
    if (retryAfterMs !== undefined && p.maxRetryAfterMs !== undefined && retryAfterMs > p.maxRetryAfterMs) {
      return { retry: false, reason: 'retry-after', retryAfterMs };
    }
    const asked = retryAfterMs ?? p.defaultRetryAfterMs ?? 0;
    const waitMs = Math.max(this.backoff(), asked);
    if (p.budgetMs !== undefined && this.waitedMs + waitMs > p.budgetMs) {
      return { retry: false, reason: 'budget', ...(retryAfterMs !== undefined ? { retryAfterMs } : {}) };
    }
    return { retry: true, waitMs };
  }

  /** Waits as decided and moves on to the next attempt. */
  async wait(waitMs: number, signal?: AbortSignal): Promise<void> {
    await sleep(waitMs, signal);
    this.waitedMs += waitMs;
    this.attempt++;
  }

  private backoff(): number {
    const p = this.policy;
    const raw = p.baseDelayMs * 2 ** (this.attempt - 1);
    const cap = p.maxDelayMs === undefined ? raw : Math.min(raw, p.maxDelayMs);
    switch (p.jitter ?? 'quarter') {
      case 'full':
        return Math.round(Math.random() * cap);
      case 'none':
        return cap;
      default:
        return cap * (1 + Math.random() * 0.25);
    }
  }
}
