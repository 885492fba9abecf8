import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { firstRunAt, staleCronSchedule } from '../../../src/scheduler/index.ts';

const at = (iso: string) => new Date(iso);
const iso = (d: Date) => d.toISOString();

describe('firstRunAt', () => {
  it('puts a cron job at the next time its expression names, not at registration', () => {
    // The reported case: the weekly prod retention registered on a Wednesday.
    const wednesday = at('2025-03-26T10:00:00.000Z');
    assert.equal(iso(firstRunAt({ cron: '0 3 * * 0' }, wednesday)), '2025-03-30T03:00:00.000Z');
    // A first-run delay is for interval jobs; it never pulls a cron job earlier.
    assert.equal(iso(firstRunAt({ cron: '0 3 * * 0', firstRunDelayMs: 0 }, wednesday)), '2025-03-30T03:00:00.000Z');
    // Exactly at a named time: that run is due now only if the job existed before; a new job waits for the next one.
    assert.equal(iso(firstRunAt({ cron: '0 3 * * 0' }, at('2025-03-30T03:00:00.000Z'))), '2025-04-06T03:00:00.000Z');
  });

  it('reads the expression in the job time zone, across daylight-saving changes', () => {
    // Europe/Berlin springs forward on 2025-03-30 at 02:00 CET: 02:30 is skipped and fires at 03:30 CEST.
    assert.equal(
      iso(firstRunAt({ cron: '30 2 * * *', timeZone: 'Europe/Berlin' }, at('2025-03-29T23:00:00.000Z'))),
      '2025-03-30T01:30:00.000Z',
    );
    // It falls back on 2025-10-26 at 03:00 CEST: 02:30 happens twice and fires at the first.
    assert.equal(
      iso(firstRunAt({ cron: '30 2 * * *', timeZone: 'Europe/Berlin' }, at('2025-10-25T23:00:00.000Z'))),
      '2025-10-26T00:30:00.000Z',
    );
    assert.equal(
      iso(firstRunAt({ cron: '0 3 * * 0', timeZone: 'America/New_York' }, at('2025-03-26T10:00:00.000Z'))),
      '2025-03-30T07:00:00.000Z',
    );
  });

  it('puts an interval job after its first-run delay', () => {
    const now = at('2025-03-26T10:00:00.000Z');
    assert.equal(iso(firstRunAt({ intervalMs: 60_000 }, now)), iso(now));
    assert.equal(iso(firstRunAt({ intervalMs: 60_000, firstRunDelayMs: 5000 }, now)), '2025-03-26T10:00:05.000Z');
  });
});

describe('staleCronSchedule', () => {
  const now = at('2025-03-26T10:00:00.000Z');
  it('finds a next run the expression or zone does not name', () => {
    const sunday3utc = Date.parse('2025-03-30T03:00:00.000Z');
    assert.equal(staleCronSchedule({ cron: '0 3 * * 0' }, sunday3utc, now), false);
    assert.equal(staleCronSchedule({ cron: '0 4 * * 0' }, sunday3utc, now), true, 'expression changed');
    assert.equal(staleCronSchedule({ cron: '0 3 * * 0', timeZone: 'Europe/Berlin' }, sunday3utc, now), true, 'zone');
    assert.equal(staleCronSchedule({ cron: '0 3 * * 0' }, sunday3utc + 1, now), true, 'off by a millisecond');
  });

  it('leaves due runs (missed or triggered) and interval jobs alone', () => {
    assert.equal(staleCronSchedule({ cron: '0 3 * * 0' }, now.getTime(), now), false, 'a trigger');
    assert.equal(staleCronSchedule({ cron: '0 3 * * 0' }, now.getTime() - 3600_000, now), false, 'missed');
    assert.equal(staleCronSchedule({ intervalMs: 60_000 }, now.getTime() + 12_345, now), false);
  });
});
