/**
 * Failed-login limits per user name and per client address. Failures inside a sliding window
 * are counted; reaching the limit locks the key out for a while. A success clears the user's
 * count only: an address that guesses passwords for many names must not unlock itself by
 * logging in to its own account. State lives in memory, bounded in keys, and time comes from
 * the caller's clock so that tests decide it.
 */
import { SluiceError } from '../errors.ts';

export interface LoginLimits {
  /** Failures within `windowMs` that lock a key. */
  maxFailures: number;
  windowMs: number;
  /** How long a locked key stays locked. */
  lockoutMs: number;
  /** Keys kept at most; the least recently failed go first. */
  maxKeys: number;
}

export const DEFAULT_LOGIN_LIMITS: LoginLimits = {
  maxFailures: 5,
  windowMs: 15 * 60_000,
  lockoutMs: 15 * 60_000,
  maxKeys: 10_000,
};

export type LimitDecision = { allowed: true } | { allowed: false; retryAfterMs: number; by: 'user' | 'address' };

interface Entry {
  /** Times of failures still inside the window, oldest first. */
  failures: number[];
  lockedUntil: number;
}

export class LoginRateLimiter {
  readonly #limits: LoginLimits;
  readonly #now: () => number;
  // Map iteration order is insertion order: re-inserting on failure keeps the oldest first.
  readonly #users = new Map<string, Entry>();
  readonly #addresses = new Map<string, Entry>();

  constructor(limits: Partial<LoginLimits> = {}, now: () => number = Date.now) {
    this.#limits = { ...DEFAULT_LOGIN_LIMITS, ...limits };
    for (const [k, v] of Object.entries(this.#limits)) {
      if (!Number.isInteger(v) || v < 1) throw new RangeError(`login limit ${k} must be a positive integer`);
    }
    this.#now = now;
  }

  /** Whether a login attempt for `user` from `address` may be tried now. */
  check(user: string, address: string): LimitDecision {
    const now = this.#now();
    const u = this.#lockedFor(this.#users, userKey(user), now);
    const a = this.#lockedFor(this.#addresses, address, now);
    if (u === 0 && a === 0) return { allowed: true };
    return u >= a
      ? { allowed: false, retryAfterMs: u, by: 'user' }
      : { allowed: false, retryAfterMs: a, by: 'address' };
  }

  recordFailure(user: string, address: string): void {
    const now = this.#now();
    this.#fail(this.#users, userKey(user), now);
    this.#fail(this.#addresses, address, now);
  }

  recordSuccess(user: string): void {
    this.#users.delete(userKey(user));
  }

  /** Number of keys held, for tests and metrics. */
  get size(): { users: number; addresses: number } {
    return { users: this.#users.size, addresses: this.#addresses.size };
  }

  #lockedFor(map: Map<string, Entry>, key: string, now: number): number {
    const e = map.get(key);
    if (!e) return 0;
    if (e.lockedUntil > now) return e.lockedUntil - now;
    prune(e, now - this.#limits.windowMs);
    if (e.failures.length === 0) map.delete(key);
    return 0;
  }

  #fail(map: Map<string, Entry>, key: string, now: number): void {
    const e = map.get(key) ?? { failures: [], lockedUntil: 0 };
    map.delete(key);
    prune(e, now - this.#limits.windowMs);
    e.failures.push(now);
    if (e.failures.length >= this.#limits.maxFailures) {
      e.lockedUntil = now + this.#limits.lockoutMs;
      e.failures = [];
    }
    map.set(key, e);
    while (map.size > this.#limits.maxKeys) {
      const oldest = map.keys().next().value as string;
      map.delete(oldest);
    }
  }
}

function prune(e: Entry, cutoff: number): void {
  let i = 0;
  while (i < e.failures.length && (e.failures[i] as number) <= cutoff) i++;
  if (i > 0) e.failures.splice(0, i);
}

// Directory user names compare case-insensitively (uid, sAMAccountName): "Alice" and "alice" are
// one account and share a count.
function userKey(user: string): string {
  return user.normalize('NFC').toLowerCase();
}

/** The error a refused attempt answers with; it says how long to wait, never whether the user exists. */
export function rateLimitedError(decision: Extract<LimitDecision, { allowed: false }>): SluiceError {
  const seconds = Math.ceil(decision.retryAfterMs / 1000);
  return new SluiceError('LOGIN_RATE_LIMITED', 'unavailable', `too many failed logins; retry in ${seconds}s`, {
    retryAfterSeconds: seconds,
  });
}
