import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import type { Severity, SlaTarget } from '../../../src/policy/index.ts';
import { clockState, dueDate, dueWithin } from '../../../src/findings/sla.ts';

const H = 3_600_000;
const D = 24 * H;
const SLA: Record<Severity, SlaTarget> = {
  critical: 24 * H,
  high: 7 * D,
  medium: 30 * D,
  low: 'nextCycle',
  negligible: 'nextCycle',
  unknown: 30 * D,
};
const cycle = { fallbackMs: 90 * D };

describe('due dates', () => {
  const seen = Date.parse('2026-03-27T10:00:00Z');

  it('adds the policy duration per severity', () => {
    assert.deepEqual(dueDate(seen, 'critical', SLA, cycle), { at: seen + 24 * H, basis: 'policy' });
    assert.equal(dueDate(seen, 'high', SLA, cycle).at, Date.parse('2026-04-03T10:00:00Z'));
    assert.equal(dueDate(seen, 'medium', SLA, cycle).at, Date.parse('2026-04-26T10:00:00Z'));
    assert.equal(dueDate(seen, 'unknown', SLA, cycle).basis, 'policy');
  });

  it('takes the next rebuild for nextCycle, then the cadence, then the fallback (and says so)', () => {
    const rebuild = seen + 3 * D;
    assert.deepEqual(dueDate(seen, 'low', SLA, { ...cycle, nextRebuildAt: rebuild, rebuildCadenceMs: 14 * D }), {
      at: rebuild,
      basis: 'next-rebuild',
    });
    assert.deepEqual(dueDate(seen, 'low', SLA, { ...cycle, nextRebuildAt: seen - 1, rebuildCadenceMs: 14 * D }), {
      at: seen + 14 * D,
      basis: 'rebuild-cadence',
    });
    const fallback = dueDate(seen, 'negligible', SLA, cycle);
    assert.equal(fallback.at, seen + 90 * D);
    assert.equal(fallback.basis, 'fallback');
    assert.match(fallback.note!, /no rebuild schedule or cadence is known/);
  });

  it('counts elapsed time across daylight-saving changes, whatever the time zone', () => {
    // 2026-03-29 01:00 UTC: Europe/Berlin moves from UTC+1 to UTC+2; 2026-11-01: New York back to UTC-5.
    const script = fileURLToPath(new URL('./sla-tz.fixture.ts', import.meta.url));
    const results = ['UTC', 'Europe/Berlin', 'America/New_York', 'Asia/Kolkata', 'Pacific/Chatham'].map((tz) => {
      const out = spawnSync(process.execPath, [script], { env: { ...process.env, TZ: tz }, encoding: 'utf8' });
      assert.equal(out.status, 0, out.stderr);
      return out.stdout.trim();
    });
    assert.equal(new Set(results).size, 1, `results differ by time zone: ${results.join(' | ')}`);
    assert.deepEqual(JSON.parse(results[0]!), ['2026-03-29T09:30:00.000Z', '2026-11-08T05:30:00.000Z']);
  });
});

describe('clock states', () => {
  const due = Date.parse('2026-06-01T00:00:00Z');
  const soon = 48 * H;

  it('moves from on track to due soon to breached as time passes', () => {
    assert.equal(clockState({ due, state: 'open' }, due - 3 * D, soon), 'on-track');
    assert.equal(clockState({ due, state: 'open' }, due - soon, soon), 'due-soon');
    assert.equal(clockState({ due, state: 'open' }, due - 1, soon), 'due-soon');
    assert.equal(clockState({ due, state: 'open' }, due, soon), 'breached');
  });

  it('closes fixed and not-affected findings whatever the date', () => {
    for (const state of ['fixed', 'not-affected'] as const)
      assert.equal(clockState({ due, state }, due + 10 * D, soon), 'closed');
  });

  it('stops counting while a waiver is valid and resumes from the original due date when it lapses', () => {
    const waivedUntil = due + 5 * D;
    assert.equal(clockState({ due, state: 'open', waivedUntil }, due + 1 * D, soon), 'waived');
    assert.equal(
      clockState({ due, state: 'open', waivedUntil }, waivedUntil, soon),
      'breached',
      'lapsed: the original due date applies',
    );
    assert.equal(clockState({ due: due + 30 * D, state: 'open', waivedUntil }, waivedUntil, soon), 'on-track');
  });

  it('answers --due-within for overdue and soon-due findings only', () => {
    assert.equal(dueWithin({ due, state: 'open' }, due - 47 * H, soon), true);
    assert.equal(dueWithin({ due, state: 'open' }, due - 49 * H, soon), false);
    assert.equal(dueWithin({ due, state: 'open' }, due + H, soon), true);
    assert.equal(dueWithin({ due, state: 'open', waivedUntil: due + D }, due + H, soon), false);
  });
});
