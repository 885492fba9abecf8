/** When an apply counts as having fallen short of its plan (the CLI exits non-zero then). */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { applyShortfall, type ApplyReport, type ItemReport } from '../../../src/retention/apply.ts';

function report(items: Array<Pick<ItemReport, 'outcome' | 'cause'> & { detail?: string }>): ApplyReport {
  const full: ItemReport[] = items.map((i, k) => ({
    kind: 'manifest',
    item: `sha256:${String(k).padStart(64, '0')}`,
    digest: `sha256:${String(k).padStart(64, '0')}`,
    detail: i.detail ?? i.outcome,
    outcome: i.outcome,
    ...(i.cause ? { cause: i.cause } : {}),
  }));
  const totals = { deleted: 0, skipped: 0, failed: 0, 'not-attempted': 0, noticed: 0, bytesFreed: 0 };
  for (const i of full) totals[i.outcome]++;
  return {
    fingerprint: 'f'.repeat(64),
    run: 'run-1',
    actor: 'mallory',
    repositories: [{ registry: 'local', repository: 'acme-dev/app', mode: 'automatic', items: full, bytesFreed: 0 }],
    totals,
    notes: [],
  };
}

describe('apply shortfall', () => {
  it('an empty plan, or one carried out, is no shortfall', () => {
    assert.equal(applyShortfall(report([])), undefined);
    assert.equal(applyShortfall(report([{ outcome: 'deleted' }, { outcome: 'skipped', cause: 'changed' }])), undefined);
    assert.equal(applyShortfall(report([{ outcome: 'noticed' }])), undefined, 'notice mode announced it');
  });

  it('items already gone count as done: a re-run after a crash succeeds', () => {
    assert.equal(applyShortfall(report([{ outcome: 'skipped', cause: 'gone' }])), undefined);
  });

  it('any item skipped for lack of permission is a shortfall, even beside deletions', () => {
    const s = applyShortfall(
      report([
        { outcome: 'deleted' },
        { outcome: 'skipped', cause: 'forbidden', detail: 'mallory may not apply retention for team acme' },
      ]),
    );
    assert.equal(s?.code, 'RETENTION_FORBIDDEN');
    assert.equal(s?.category, 'forbidden');
    assert.match(
      s!.message,
      /^1 item\(s\) skipped for lack of permission: mallory may not apply retention for team acme: deleted 1 of 2/,
    );
    assert.deepEqual(s?.counts.skippedBy, { forbidden: 1 });
    assert.equal(s?.counts.planned, 2);
  });

  it('nothing done of what was planned is a shortfall, whatever the reasons', () => {
    for (const cause of ['not-approved', 'scheduled', 'incomplete', 'held', 'changed'] as const) {
      const s = applyShortfall(report([{ outcome: 'skipped', cause }]));
      assert.equal(s?.code, 'RETENTION_NOTHING_APPLIED', cause);
      assert.match(
        s!.message,
        new RegExp(`^nothing applied: deleted 0 of 1 planned item\\(s\\), skipped 1 \\(${cause} 1\\)`),
      );
    }
  });

  it('a failed deletion comes first: the same apply must run again', () => {
    const s = applyShortfall(
      report([
        { outcome: 'failed' },
        { outcome: 'not-attempted', cause: 'stopped' },
        { outcome: 'skipped', cause: 'forbidden' },
      ]),
    );
    assert.equal(s?.code, 'RETENTION_INCOMPLETE');
    assert.match(s!.message, /^1 deletion\(s\) failed; run the same apply again to finish/);
  });
});
