import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { ScanPolicy } from '../../../src/policy/index.ts';
import { planRescans, retryDelay, type ScanHistory, type TaggedImage } from '../../../src/findings/rescan.ts';

const H = 3_600_000;
const D = 24 * H;
const NOW = Date.UTC(2026, 5, 10, 12);
const d = (n: number) => `sha256:${n.toString(16).padStart(64, '0')}`;
const schedules = new Map<string, ScanPolicy>([
  ['dev', { schedule: 'onPush', onPush: true }],
  ['staging', { schedule: 'weekly', onPush: false, cron: '0 2 * * 1', interval: 7 * D }],
  ['preprod', { schedule: 'weekly', onPush: false, cron: '0 2 * * 1', interval: 7 * D }],
  ['prod', { schedule: 'daily', onPush: false, cron: '0 2 * * *', interval: D }],
]);
const options = { stageOrder: ['dev', 'staging', 'preprod', 'prod'], perRegistryPerMinute: 60 };
const ok = (at: number): ScanHistory => ({ lastOk: at, lastAttempt: at, failures: 0 });

describe('rescan planning', () => {
  it('scans what was never scanned, and what its most demanding stage says is due', () => {
    const images: TaggedImage[] = [
      { digest: d(1), registry: 'r', stages: ['staging', 'prod'] },
      { digest: d(2), registry: 'r', stages: ['staging'] },
      { digest: d(3), registry: 'r', stages: ['dev'] },
      { digest: d(4), registry: 'r', stages: ['dev'] },
    ];
    const history = new Map([
      [d(1), ok(NOW - 25 * H)],
      [d(2), ok(NOW - 25 * H)],
      [d(3), ok(NOW - 300 * D)],
    ]);
    const plan = planRescans(images, history, schedules, NOW, options);
    assert.deepEqual(
      plan.map((p) => [p.digest, p.reason, p.stage]),
      [
        [d(1), 'interval-elapsed', 'prod'],
        [d(4), 'never-scanned', 'dev'],
      ],
      'd2 (weekly, 25 h ago) is not due; d3 (onPush only, scanned once) is not rescanned on a schedule',
    );
  });

  it('puts later stages first, then the longest unscanned', () => {
    const images: TaggedImage[] = [
      { digest: d(1), registry: 'r', stages: ['staging'] },
      { digest: d(2), registry: 'r', stages: ['prod'] },
      { digest: d(3), registry: 'r', stages: ['prod'] },
    ];
    const history = new Map([
      [d(1), ok(NOW - 30 * D)],
      [d(2), ok(NOW - 2 * D)],
      [d(3), ok(NOW - 5 * D)],
    ]);
    assert.deepEqual(
      planRescans(images, history, schedules, NOW, options).map((p) => p.digest),
      [d(3), d(2), d(1)],
    );
  });

  it('spreads the starts per registry at the configured rate', () => {
    const images: TaggedImage[] = Array.from({ length: 6 }, (_, i) => ({
      digest: d(i + 1),
      registry: i % 2 ? 'quay' : 'harbor',
      stages: ['prod'],
    }));
    const plan = planRescans(images, new Map(), schedules, NOW, { ...options, perRegistryPerMinute: 2 });
    const starts = (r: string) => plan.filter((p) => p.registry === r).map((p) => (p.startAt - NOW) / 1000);
    assert.deepEqual(starts('harbor'), [0, 30, 60]);
    assert.deepEqual(starts('quay'), [0, 30, 60]);
  });

  it('retries failed scans with a doubling backoff, capped', () => {
    assert.deepEqual(
      [0, 1, 2, 3].map((n) => retryDelay(n, 60_000, 5 * 60_000)),
      [0, 60_000, 120_000, 240_000],
    );
    assert.equal(retryDelay(40, 60_000, 5 * 60_000), 5 * 60_000);
    const images: TaggedImage[] = [{ digest: d(1), registry: 'r', stages: ['prod'] }];
    const failing = (attemptAgo: number, failures: number) =>
      new Map([[d(1), { lastOk: NOW - 10 * D, lastAttempt: NOW - attemptAgo, failures }]]);
    const opts = { ...options, backoffMs: 60_000, maxBackoffMs: 3_600_000 };
    assert.deepEqual(planRescans(images, failing(59_000, 1), schedules, NOW, opts), [], 'too soon after the failure');
    assert.equal(planRescans(images, failing(60_000, 1), schedules, NOW, opts)[0]?.reason, 'retry');
    assert.deepEqual(
      planRescans(images, failing(100_000, 2), schedules, NOW, opts),
      [],
      'the second failure waits twice as long',
    );
  });

  it('ignores images in stages without a schedule and honours the limit', () => {
    const images: TaggedImage[] = [
      { digest: d(1), registry: 'r', stages: ['sandbox'] },
      ...Array.from({ length: 5 }, (_, i) => ({ digest: d(i + 2), registry: 'r', stages: ['prod'] })),
    ];
    const plan = planRescans(images, new Map(), schedules, NOW, { ...options, limit: 3 });
    assert.equal(plan.length, 3);
    assert.ok(plan.every((p) => p.digest !== d(1)));
  });
});
