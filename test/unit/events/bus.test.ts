/**
 * The lifecycle event bus: ordered, isolated, awaitable delivery.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { EventBus, type LifecycleEvents, type SubscriberFailure } from '../../../src/events/index.ts';

const evidence: LifecycleEvents['evidence.recorded'] = {
  registry: 'local',
  repository: 'payments-dev/api',
  digest: 'sha256:' + 'a'.repeat(64),
  type: 'unit-tests',
  status: 'passed',
  stage: null,
  actor: 'user:ci',
  autoPromote: true,
};

describe('EventBus', () => {
  it('delivers to subscribers of the event, in subscription order, one after another', async () => {
    const bus = new EventBus();
    const seen: string[] = [];
    bus.subscribe('evidence.recorded', async (e) => {
      seen.push(`first:start:${e.type}`);
      await new Promise((r) => setTimeout(r, 10));
      seen.push('first:end');
    });
    bus.subscribe('evidence.recorded', (e) => {
      seen.push(`second:${e.status}`);
    });
    bus.subscribe('hold.placed', () => {
      seen.push('hold');
    });
    await bus.publish('evidence.recorded', evidence);
    assert.deepEqual(seen, ['first:start:unit-tests', 'first:end', 'second:passed']);
  });

  it('runs no subscriber before the publisher continues', async () => {
    const bus = new EventBus();
    const seen: string[] = [];
    bus.subscribe('evidence.recorded', () => {
      seen.push('subscriber');
    });
    const delivery = bus.publish('evidence.recorded', evidence);
    seen.push('publisher');
    await delivery;
    assert.deepEqual(seen, ['publisher', 'subscriber']);
  });

  it('isolates a failing subscriber: the others run, the publisher resolves, the failure is reported', async () => {
    const failures: SubscriberFailure[] = [];
    const bus = new EventBus({ onSubscriberFailure: (f) => void failures.push(f) });
    const seen: string[] = [];
    bus.subscribe(
      'evidence.recorded',
      () => {
        throw new Error('boom');
      },
      'promotion.auto',
    );
    bus.subscribe(
      'evidence.recorded',
      async () => {
        await Promise.reject(new Error('async boom'));
      },
      'notify',
    );
    bus.subscribe('evidence.recorded', () => {
      seen.push('third');
    });
    await bus.publish('evidence.recorded', evidence);
    assert.deepEqual(seen, ['third']);
    assert.deepEqual(
      failures.map((f) => [f.event, f.subscriber, (f.error as Error).message]),
      [
        ['evidence.recorded', 'promotion.auto', 'boom'],
        ['evidence.recorded', 'notify', 'async boom'],
      ],
    );
  });

  it('survives a failure reporter that throws', async () => {
    const bus = new EventBus({
      onSubscriberFailure: () => {
        throw new Error('reporter broken');
      },
    });
    const seen: string[] = [];
    bus.subscribe('hold.placed', () => {
      throw new Error('boom');
    });
    bus.subscribe('hold.placed', () => {
      seen.push('after');
    });
    await bus.publish('hold.placed', { ...evidence, kind: 'quarantine', reason: 'cve', actor: 'user:sec' });
    assert.deepEqual(seen, ['after']);
  });

  it('names an anonymous subscriber by its function name when no label is given', async () => {
    const failures: SubscriberFailure[] = [];
    const bus = new EventBus({ onSubscriberFailure: (f) => void failures.push(f) });
    bus.subscribe('retention.applied', function archiveReport() {
      throw new Error('x');
    });
    await bus.publish('retention.applied', {
      subject: 'plan',
      summary: 'retention deleted 1 item(s)',
      data: {},
      fingerprint: 'plan',
      deleted: 1,
      failed: 0,
    });
    assert.equal(failures[0]?.subscriber, 'archiveReport');
  });

  it('stops delivering after unsubscribe', async () => {
    const bus = new EventBus();
    let calls = 0;
    const off = bus.subscribe('tags.changed', () => {
      calls++;
    });
    const change: LifecycleEvents['tags.changed'] = {
      registry: 'local',
      host: '127.0.0.1:5000',
      repository: 'payments-prod/api',
      tag: '1.0.0-1',
      change: 'moved',
      digest: 'sha256:' + 'b'.repeat(64),
      previous: 'sha256:' + 'c'.repeat(64),
    };
    await bus.publish('tags.changed', change);
    off();
    off();
    await bus.publish('tags.changed', change);
    assert.equal(calls, 1);
  });

  it('drain() waits for deliveries not awaited, including events published by subscribers', async () => {
    const bus = new EventBus();
    const seen: string[] = [];
    bus.subscribe('evidence.recorded', async (e) => {
      await new Promise((r) => setTimeout(r, 5));
      seen.push('evidence');
      // A follow-up published and awaited from inside a delivery must not deadlock.
      await bus.publish('promotion.succeeded', {
        subject: `${e.registry}/${e.repository}@${e.digest}`,
        summary: 'payments/api:1.0.0-1 promoted to test',
        data: { versionTag: '1.0.0-1' },
      });
    });
    bus.subscribe('promotion.succeeded', async (e) => {
      await new Promise((r) => setTimeout(r, 5));
      seen.push(`promoted:${String(e.data.versionTag)}`);
    });
    void bus.publish('evidence.recorded', evidence);
    assert.equal(bus.pending, 1);
    await bus.drain();
    assert.deepEqual(seen, ['evidence', 'promoted:1.0.0-1']);
    assert.equal(bus.pending, 0);
  });

  it('resolves publish at once when nobody subscribes', async () => {
    const bus = new EventBus();
    await bus.publish('compliance.violation', { subject: 's', summary: 'x', data: {} });
    assert.equal(bus.pending, 0);
  });

  it('does not deliver an event to a subscription made after it was published', async () => {
    const bus = new EventBus();
    let late = 0;
    const delivery = bus.publish('hold.released', { ...evidence, kind: 'quarantine', reason: 'fixed', actor: 'u' });
    bus.subscribe('hold.released', () => {
      late++;
    });
    await delivery;
    assert.equal(late, 0);
  });
});
