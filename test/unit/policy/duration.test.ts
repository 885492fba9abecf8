import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { isSluiceError } from '../../../src/errors.ts';
import { formatDuration, parseDuration } from '../../../src/policy/index.ts';

const S = 1000;
const M = 60 * S;
const H = 60 * M;
const D = 24 * H;

describe('parseDuration', () => {
  const cases: Array<[string, number]> = [
    ['90s', 90 * S],
    ['15m', 15 * M],
    ['24h', 24 * H],
    ['7d', 7 * D],
    ['2w', 14 * D],
    ['2y', 730 * D],
    ['1h30m', 90 * M],
    ['1d12h', 36 * H],
    ['250ms', 250],
    ['0s', 0],
  ];
  for (const [text, ms] of cases) it(`parses ${text}`, () => assert.equal(parseDuration(text), ms));

  const bad: Array<[string, RegExp]> = [
    ['', /empty/],
    ['-5d', /negative/],
    ['30', /unit is required/],
    ['1.5h', /fractions/],
    ['5 days', /number followed by a unit/],
    ['30m1h', /largest first/],
    ['1d1d', /largest first/],
    ['h', /number followed by a unit/],
    ['2000y', /1000 years/],
  ];
  for (const [text, why] of bad) {
    it(`rejects "${text}"`, () => {
      assert.throws(
        () => parseDuration(text),
        (err: unknown) =>
          isSluiceError(err, 'DURATION_INVALID') && err.category === 'invalid-input' && why.test(err.message),
      );
    });
  }
});

describe('formatDuration', () => {
  it('writes the defaults the way the documentation does', () => {
    assert.equal(formatDuration(30 * D), '30d');
    assert.equal(formatDuration(7 * D), '7d');
    assert.equal(formatDuration(730 * D), '2y');
    assert.equal(formatDuration(90 * M), '1h30m');
    assert.equal(formatDuration(0), '0s');
    assert.equal(formatDuration(1500), '1s500ms');
  });

  it('round-trips through parseDuration', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 900 * 365 * D }), (ms) => parseDuration(formatDuration(ms)) === ms),
    );
  });

  it('rejects negative and fractional input', () => {
    assert.throws(() => formatDuration(-1), RangeError);
    assert.throws(() => formatDuration(1.5), RangeError);
  });
});
