import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { isSluiceError } from '../../../src/errors.ts';
import { activeWindow, isValidTimeZone, nextRun, parseCron } from '../../../src/policy/index.ts';

const at = (iso: string) => new Date(iso);
const iso = (d: Date) => d.toISOString();

describe('parseCron', () => {
  it('expands lists, ranges, steps and names', () => {
    const c = parseCron('*/15 9-17 1,15 jan-mar MON-FRI');
    assert.deepEqual(
      c.minutes.flatMap((on, i) => (on ? [i] : [])),
      [0, 15, 30, 45],
    );
    assert.deepEqual(
      c.hours.flatMap((on, i) => (on ? [i] : [])),
      [9, 10, 11, 12, 13, 14, 15, 16, 17],
    );
    assert.deepEqual(
      c.months.flatMap((on, i) => (on ? [i] : [])),
      [1, 2, 3],
    );
    assert.deepEqual(
      c.daysOfWeek.flatMap((on, i) => (on ? [i] : [])),
      [1, 2, 3, 4, 5],
    );
    assert.equal(c.domRestricted, true);
    assert.equal(c.dowRestricted, true);
  });

  it('reads 7 as Sunday and "5/20" as from 5 every 20', () => {
    assert.deepEqual(
      parseCron('0 0 * * 7').daysOfWeek.flatMap((on, i) => (on ? [i] : [])),
      [0],
    );
    assert.deepEqual(
      parseCron('5/20 * * * *').minutes.flatMap((on, i) => (on ? [i] : [])),
      [5, 25, 45],
    );
  });

  it('knows the macros', () => {
    assert.deepEqual(parseCron('@daily').minutes, parseCron('0 0 * * *').minutes);
    assert.equal(iso(nextRun('@weekly', at('2025-06-04T10:00:00Z'))), '2025-06-08T00:00:00.000Z');
  });

  const bad: Array<[string, RegExp]> = [
    ['0 22 * *', /expected 5 fields.*found 4/],
    ['0 0 22 * * 6', /found 6; seconds are not supported/],
    ['61 * * * *', /minute field: 61 is out of range 0-59/],
    ['0 24 * * *', /hour field: 24 is out of range 0-23/],
    ['0 0 0 * *', /day-of-month field: 0 is out of range 1-31/],
    ['0 0 * 13 *', /month field: 13/],
    ['0 0 * foo *', /month field: "foo" is not a number or a name/],
    ['0 0 * * moon', /day-of-week field: "moon"/],
    ['*/0 * * * *', /step "0" must be a positive number/],
    ['30-10 * * * *', /runs backwards/],
    ['1,,2 * * * *', /empty list element/],
    ['0 0 30 2 *', /never runs/],
    ['0 0 31 apr,jun *', /never runs/],
    ['@reboot', /unknown macro/],
  ];
  for (const [expr, why] of bad) {
    it(`rejects "${expr}"`, () => {
      assert.throws(
        () => parseCron(expr),
        (err: unknown) => isSluiceError(err, 'CRON_INVALID') && why.test(err.message),
      );
    });
  }

  it('accepts February 29 (it does occur)', () => {
    assert.equal(iso(nextRun('0 0 29 2 *', at('2025-01-01T00:00:00Z'))), '2028-02-29T00:00:00.000Z');
  });
});

describe('nextRun in UTC', () => {
  it('is strictly after the start', () => {
    assert.equal(iso(nextRun('0 * * * *', at('2025-06-01T10:00:00Z'))), '2025-06-01T11:00:00.000Z');
    assert.equal(iso(nextRun('0 * * * *', at('2025-06-01T09:59:59.999Z'))), '2025-06-01T10:00:00.000Z');
  });

  it('matches day-of-month OR day-of-week when both are restricted (Vixie cron)', () => {
    // The 13th, or any Friday.
    const cron = '0 0 13 * 5';
    assert.equal(iso(nextRun(cron, at('2025-06-01T00:00:00Z'))), '2025-06-06T00:00:00.000Z');
    assert.equal(iso(nextRun(cron, at('2025-07-05T00:00:00Z'))), '2025-07-11T00:00:00.000Z');
    assert.equal(iso(nextRun(cron, at('2025-07-11T00:00:00Z'))), '2025-07-13T00:00:00.000Z');
  });

  it('needs both when one of them starts with * (even with a step)', () => {
    // */2 is the odd days; Monday June 2 is even, Monday June 9 is odd.
    assert.equal(iso(nextRun('0 0 */2 * 1', at('2025-06-01T00:00:00Z'))), '2025-06-09T00:00:00.000Z');
  });

  it('agrees with a minute-by-minute search', () => {
    const num = (lo: number, hi: number) => fc.integer({ min: lo, max: hi }).map(String);
    const field = (lo: number, hi: number) =>
      fc.oneof(
        fc.constant('*'),
        num(lo, hi),
        fc
          .tuple(fc.integer({ min: lo, max: hi }), fc.integer({ min: 0, max: hi - lo }))
          .map(([a, w]) => `${a}-${Math.min(hi, a + w)}`),
        fc.integer({ min: 1, max: hi - lo + 1 }).map((s) => `*/${s}`),
        fc.uniqueArray(fc.integer({ min: lo, max: hi }), { minLength: 1, maxLength: 4 }).map((xs) => xs.join(',')),
      );
    const expr = fc.tuple(field(0, 59), field(0, 23), field(1, 28), field(1, 12), field(0, 6)).map((f) => f.join(' '));
    const start = fc.integer({ min: Date.UTC(2024, 0, 1), max: Date.UTC(2026, 0, 1) });
    fc.assert(
      fc.property(expr, start, (e, from) => {
        const c = parseCron(e);
        const matches = (t: number) => {
          const d = new Date(t);
          const dom = c.daysOfMonth[d.getUTCDate()]!;
          const dow = c.daysOfWeek[d.getUTCDay()]!;
          const day = c.domRestricted && c.dowRestricted ? dom || dow : dom && dow;
          return c.minutes[d.getUTCMinutes()]! && c.hours[d.getUTCHours()]! && c.months[d.getUTCMonth() + 1]! && day;
        };
        const got = nextRun(c, new Date(from)).getTime();
        assert.ok(matches(got), `${e}: ${new Date(got).toISOString()} does not match`);
        for (let t = Math.floor(from / 60_000) * 60_000 + 60_000; t < got; t += 60_000) {
          if (matches(t))
            assert.fail(`${e} from ${new Date(from).toISOString()}: skipped ${new Date(t).toISOString()}`);
        }
      }),
      { numRuns: 60 },
    );
  });
});

describe('nextRun in a time zone', () => {
  const BERLIN = 'Europe/Berlin';

  it('uses the zone offset, winter and summer', () => {
    assert.equal(iso(nextRun('0 22 * * 6', at('2025-01-01T00:00:00Z'), BERLIN)), '2025-01-04T21:00:00.000Z');
    assert.equal(iso(nextRun('0 22 * * 6', at('2025-07-01T00:00:00Z'), BERLIN)), '2025-07-05T20:00:00.000Z');
    assert.equal(iso(nextRun('0 9 * * *', at('2025-01-01T00:00:00Z'), 'Asia/Kolkata')), '2025-01-01T03:30:00.000Z');
  });

  it('moves a wall time skipped by spring-forward past the gap, once', () => {
    // 2025-03-30: 02:00 CET jumps to 03:00 CEST, so 02:30 does not exist that night.
    const first = nextRun('30 2 * * *', at('2025-03-29T12:00:00Z'), BERLIN);
    assert.equal(iso(first), '2025-03-30T01:30:00.000Z'); // 03:30 CEST
    assert.equal(iso(nextRun('30 2 * * *', first, BERLIN)), '2025-03-31T00:30:00.000Z'); // 02:30 CEST
  });

  it('fires a wall time repeated by fall-back only at its first occurrence', () => {
    // 2025-10-26: 03:00 CEST falls back to 02:00 CET, so 02:30 happens twice.
    const first = nextRun('30 2 * * *', at('2025-10-25T12:00:00Z'), BERLIN);
    assert.equal(iso(first), '2025-10-26T00:30:00.000Z'); // 02:30 CEST
    assert.equal(iso(nextRun('30 2 * * *', first, BERLIN)), '2025-10-27T01:30:00.000Z'); // 02:30 CET, next day
    // An hourly job does not repeat the repeated hour either.
    assert.equal(iso(nextRun('0 * * * *', at('2025-10-26T00:30:00Z'), BERLIN)), '2025-10-26T02:00:00.000Z');
  });

  it('finds the maintenance window that spans the spring-forward night', () => {
    const w = { cron: '0 22 * * 6', duration: 4 * 3_600_000, timeZone: BERLIN };
    const inside = activeWindow(w, at('2025-03-30T00:30:00Z'));
    assert.ok(inside);
    assert.equal(iso(inside.start), '2025-03-29T21:00:00.000Z');
    assert.equal(iso(inside.end), '2025-03-30T01:00:00.000Z'); // 03:00 CEST: 4 real hours
    assert.equal(activeWindow(w, at('2025-03-30T01:00:00Z')), undefined);
    assert.equal(activeWindow(w, at('2025-03-29T20:59:59Z')), undefined);
    assert.ok(activeWindow(w, at('2025-03-29T21:00:00Z')));
  });

  it('rejects unknown zones', () => {
    assert.equal(isValidTimeZone('Europe/Berlin'), true);
    assert.equal(isValidTimeZone('UTC'), true);
    assert.equal(isValidTimeZone('Mars/Olympus'), false);
    assert.equal(isValidTimeZone(''), false);
    assert.throws(
      () => nextRun('0 0 * * *', new Date(), 'Europe/Berlim'),
      (err: unknown) => isSluiceError(err, 'TIME_ZONE_INVALID') && /Europe\/Berlim/.test(err.message),
    );
  });
});
