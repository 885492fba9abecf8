import assert from 'node:assert/strict';
import { Readable } from 'node:stream';
import { describe, it } from 'node:test';
import { RetryBudget, categoryForStatus, parseRetryAfter, readLimited, sleep } from '../../../src/http/index.ts';

describe('parseRetryAfter', () => {
  const now = Date.parse('2025-01-01T00:00:00Z');
  it('reads delta-seconds and HTTP dates (RFC 9110 10.2.3)', () => {
    assert.equal(parseRetryAfter('120'), 120_000);
    assert.equal(parseRetryAfter(' 7 '), 7000);
    assert.equal(parseRetryAfter('Wed, 01 Jan 2025 00:00:30 GMT', now), 30_000);
    assert.equal(parseRetryAfter('Tue, 31 Dec 2024 23:00:00 GMT', now), 0, 'a date in the past means now');
  });
  it('ignores what is absent or unreadable', () => {
    for (const v of [undefined, null, '', 'soon', '-5', '1.5']) assert.equal(parseRetryAfter(v), undefined, String(v));
    assert.equal(parseRetryAfter('9'.repeat(400)), undefined, 'a number too big to be a wait');
  });
});

describe('sleep', () => {
  it('waits, and rejects with the reason as soon as the signal aborts', async () => {
    const started = performance.now();
    await sleep(30);
    assert.ok(performance.now() - started >= 25);
    const controller = new AbortController();
    const reason = new Error('shutting down');
    setTimeout(() => controller.abort(reason), 20);
    const t = performance.now();
    await assert.rejects(sleep(10_000, controller.signal), (e) => e === reason);
    assert.ok(performance.now() - t < 1000, 'the abort cut the wait short');
    await assert.rejects(sleep(10, AbortSignal.abort(reason)), (e) => e === reason);
  });
});

describe('RetryBudget', () => {
  it('stops after the attempts allowed', async () => {
    const b = new RetryBudget({ attempts: 2, baseDelayMs: 1 });
    assert.equal(b.last, false);
    const first = b.next();
    assert.ok(first.retry);
    await b.wait(first.waitMs);
    assert.equal(b.attempt, 2);
    assert.equal(b.last, true);
    assert.deepEqual(b.next(), { retry: false, reason: 'attempts' });
  });
  it('backs off exponentially, capped, and waits at least what Retry-After asks', () => {
    const b = new RetryBudget({ attempts: 10, baseDelayMs: 100, maxDelayMs: 250, jitter: 'none' });
    assert.deepEqual(b.next(), { retry: true, waitMs: 100 });
    b.attempt = 3;
    assert.deepEqual(b.next(), { retry: true, waitMs: 250 });
    assert.deepEqual(b.next(5000), { retry: true, waitMs: 5000 });
    const quarter = new RetryBudget({ attempts: 3, baseDelayMs: 400 });
    for (let i = 0; i < 20; i++) {
      const d = quarter.next();
      assert.ok(d.retry && d.waitMs >= 400 && d.waitMs <= 500, JSON.stringify(d));
    }
  });
  it('refuses a Retry-After beyond what the caller waits, and waits beyond the budget', () => {
    const b = new RetryBudget({ attempts: 5, baseDelayMs: 10, jitter: 'none', maxRetryAfterMs: 1000, budgetMs: 1500 });
    assert.deepEqual(b.next(60_000), { retry: false, reason: 'retry-after', retryAfterMs: 60_000 });
    b.waitedMs = 1000;
    assert.deepEqual(b.next(900), { retry: false, reason: 'budget', retryAfterMs: 900 });
    assert.deepEqual(b.next(400), { retry: true, waitMs: 400 });
  });
  it('waits the default when the server asked for a retry without saying when', () => {
    const b = new RetryBudget({ attempts: 2, baseDelayMs: 0, defaultRetryAfterMs: 1000 });
    assert.deepEqual(b.next(), { retry: true, waitMs: 1000 });
    assert.deepEqual(b.next(200), { retry: true, waitMs: 200 });
  });
});

describe('categoryForStatus', () => {
  it('maps statuses to categories once, with the exceptions an API documents', () => {
    const table: Array<[number, string]> = [
      [401, 'unauthorized'],
      [403, 'forbidden'],
      [404, 'not-found'],
      [410, 'not-found'],
      [409, 'invalid-input'],
      [408, 'invalid-input'],
      [429, 'unavailable'],
      [400, 'invalid-input'],
      [422, 'invalid-input'],
      [500, 'unavailable'],
      [503, 'unavailable'],
    ];
    for (const [status, category] of table) assert.equal(categoryForStatus(status), category, String(status));
    assert.equal(categoryForStatus(412, { otherClientError: 'integrity' }), 'integrity');
    assert.equal(categoryForStatus(302, { otherClientError: 'unavailable' }), 'unavailable');
    assert.equal(categoryForStatus(405, { overrides: { 405: 'forbidden' } }), 'forbidden');
    assert.equal(categoryForStatus(401, { otherClientError: 'integrity' }), 'unauthorized');
  });
});

describe('readLimited', () => {
  const tooLarge = ({ limit, declared }: { limit: number; declared?: number }) =>
    new Error(`over ${limit}${declared !== undefined ? ` (declared ${declared})` : ''}`);
  it('reads a body within the limit', async () => {
    const r = await readLimited(Readable.from([Buffer.from('ab'), Buffer.from('cd')]), 4, { tooLarge });
    assert.deepEqual(r, { data: Buffer.from('abcd'), truncated: false });
  });
  it('fails on a declared or an actual length over the limit, and truncates when asked', async () => {
    await assert.rejects(readLimited(Readable.from([Buffer.from('ab')]), 4, { declaredLength: 99, tooLarge }), {
      message: 'over 4 (declared 99)',
    });
    await assert.rejects(readLimited(Readable.from([Buffer.from('abc'), Buffer.from('de')]), 4, { tooLarge }), {
      message: 'over 4',
    });
    const cut = await readLimited(Readable.from([Buffer.from('abc'), Buffer.from('de')]), 4, {
      truncate: true,
      declaredLength: 5,
      tooLarge,
    });
    assert.deepEqual(cut, { data: Buffer.from('abcd'), truncated: true });
  });
});
