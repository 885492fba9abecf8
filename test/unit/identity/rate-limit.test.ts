import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { LoginRateLimiter, rateLimitedError } from '../../../src/identity/rate-limit.ts';

function clock(start = 1_000_000): { now: () => number; advance: (ms: number) => void } {
  let t = start;
  return { now: () => t, advance: (ms) => void (t += ms) };
}

const limits = { maxFailures: 3, windowMs: 60_000, lockoutMs: 300_000, maxKeys: 100 };

describe('LoginRateLimiter', () => {
  it('allows attempts below the limit and locks at it', () => {
    const c = clock();
    const l = new LoginRateLimiter(limits, c.now);
    l.recordFailure('alice', '10.0.0.1');
    l.recordFailure('alice', '10.0.0.1');
    assert.deepEqual(l.check('alice', '10.0.0.1'), { allowed: true });
    l.recordFailure('alice', '10.0.0.1');
    const d = l.check('alice', '10.0.0.9');
    assert.deepEqual(d, { allowed: false, retryAfterMs: 300_000, by: 'user' });
  });

  it('unlocks after the lockout', () => {
    const c = clock();
    const l = new LoginRateLimiter(limits, c.now);
    for (let i = 0; i < 3; i++) l.recordFailure('alice', '10.0.0.1');
    c.advance(299_999);
    assert.equal(l.check('alice', '10.0.0.2').allowed, false);
    c.advance(1);
    assert.deepEqual(l.check('alice', '10.0.0.2'), { allowed: true });
  });

  it('forgets failures older than the window', () => {
    const c = clock();
    const l = new LoginRateLimiter(limits, c.now);
    l.recordFailure('alice', 'a1');
    l.recordFailure('alice', 'a2');
    c.advance(60_001);
    l.recordFailure('alice', 'a3');
    assert.deepEqual(l.check('alice', 'a4'), { allowed: true });
    l.recordFailure('alice', 'a5');
    l.recordFailure('alice', 'a6');
    assert.equal(l.check('alice', 'a7').allowed, false);
  });

  it('locks an address that tries many users', () => {
    const c = clock();
    const l = new LoginRateLimiter(limits, c.now);
    l.recordFailure('u1', '10.0.0.1');
    l.recordFailure('u2', '10.0.0.1');
    l.recordFailure('u3', '10.0.0.1');
    assert.deepEqual(l.check('u4', '10.0.0.1'), { allowed: false, retryAfterMs: 300_000, by: 'address' });
    assert.deepEqual(l.check('u4', '10.0.0.2'), { allowed: true });
  });

  it('clears the user on success but not the address', () => {
    const c = clock();
    const l = new LoginRateLimiter(limits, c.now);
    l.recordFailure('alice', '10.0.0.1');
    l.recordFailure('bob', '10.0.0.1');
    l.recordFailure('alice', '10.0.0.2');
    l.recordSuccess('alice');
    l.recordFailure('alice', '10.0.0.3');
    l.recordFailure('alice', '10.0.0.4');
    assert.deepEqual(l.check('alice', '10.0.0.5'), { allowed: true });
    l.recordFailure('carol', '10.0.0.1');
    assert.equal(l.check('mallory', '10.0.0.1').allowed, false);
  });

  it('counts user names case-insensitively', () => {
    const l = new LoginRateLimiter(limits, clock().now);
    l.recordFailure('Alice', 'a');
    l.recordFailure('ALICE', 'b');
    l.recordFailure('alice', 'c');
    assert.equal(l.check('aLiCe', 'd').allowed, false);
  });

  it('reports the longer of two locks', () => {
    const c = clock();
    const l = new LoginRateLimiter(limits, c.now);
    for (let i = 0; i < 3; i++) l.recordFailure(`u${i}`, 'addr');
    c.advance(100_000);
    for (let i = 0; i < 3; i++) l.recordFailure('alice', `x${i}`);
    assert.deepEqual(l.check('alice', 'addr'), { allowed: false, retryAfterMs: 300_000, by: 'user' });
    c.advance(250_000);
    assert.deepEqual(l.check('bob', 'addr'), { allowed: true });
    assert.deepEqual(l.check('alice', 'addr'), { allowed: false, retryAfterMs: 50_000, by: 'user' });
  });

  it('keeps at most maxKeys keys, dropping the oldest', () => {
    const c = clock();
    const l = new LoginRateLimiter({ ...limits, maxKeys: 2 }, c.now);
    l.recordFailure('u1', 'a1');
    l.recordFailure('u2', 'a2');
    l.recordFailure('u3', 'a3');
    assert.deepEqual(l.size, { users: 2, addresses: 2 });
    l.recordFailure('u3', 'a3');
    l.recordFailure('u3', 'a3');
    assert.equal(l.check('u3', 'zz').allowed, false);
  });

  it('drops keys whose failures all left the window', () => {
    const c = clock();
    const l = new LoginRateLimiter(limits, c.now);
    l.recordFailure('alice', 'a');
    c.advance(60_001);
    l.check('alice', 'a');
    assert.deepEqual(l.size, { users: 0, addresses: 0 });
  });

  it('refuses limits that are not positive integers', () => {
    assert.throws(() => new LoginRateLimiter({ maxFailures: 0 }), /maxFailures/);
    assert.throws(() => new LoginRateLimiter({ windowMs: 1.5 }), /windowMs/);
  });
});

describe('rateLimitedError', () => {
  it('rounds the wait up to seconds and names no user', () => {
    const err = rateLimitedError({ allowed: false, retryAfterMs: 1_001, by: 'user' });
    assert.equal(err.code, 'LOGIN_RATE_LIMITED');
    assert.equal(err.message, 'too many failed logins; retry in 2s');
    assert.deepEqual(err.context, { retryAfterSeconds: 2 });
  });
});
