/**
 * NotificationHub built from a policy's `notifications`, delivering to local receivers that
 * answer like Slack (200 `ok`, or a documented error word) and like a generic webhook.
 */
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, describe, it } from 'node:test';
import { lifecycleEvent, type LifecycleEvent } from '../../../src/notify/event.ts';
import { NotificationHub, type DeliveryResult } from '../../../src/notify/hub.ts';
import { verifyWebhookSignature } from '../../../src/notify/webhook.ts';
import type { Notification } from '../../../src/policy/schema.ts';
import { startFakeServer, type Answer, type FakeServer } from './fake-server.ts';

const SLACK_TOKEN = 'slackT0kenValue';
const HMAC = 'hub-hmac-secret';

const servers: FakeServer[] = [];
const dirs: string[] = [];
after(async () => {
  await Promise.all(servers.map((s) => s.close()));
  await Promise.all(dirs.map((d) => rm(d, { recursive: true, force: true })));
});

async function receiver(answer: Answer | ((i: number) => Answer)) {
  const server = await startFakeServer((_r, i) => (typeof answer === 'function' ? answer(i) : answer));
  servers.push(server);
  return server;
}

const gateFailed = (): LifecycleEvent =>
  lifecycleEvent('gate.failed', { subject: 'reg/acme-prod/api@sha256:' + 'c'.repeat(64), summary: 'gate failed' });

describe('NotificationHub', () => {
  it('delivers to the channels subscribed to the event type (or to *), concurrently', async () => {
    const slack = await receiver({ status: 200, body: 'ok' });
    const all = await receiver({ status: 200 });
    const other = await receiver({ status: 200 });
    const channels: Notification[] = [
      { name: 'chat', kind: 'slack', url: 'env:SLACK_URL', events: ['gate.failed', 'sla.breached'] },
      { name: 'cmdb', kind: 'webhook', url: 'env:CMDB_URL', secret: 'env:CMDB_HMAC', events: ['*'] },
      { name: 'deploys', kind: 'webhook', url: 'env:DEPLOY_URL', events: ['promotion.succeeded'] },
    ];
    const env = {
      SLACK_URL: `${slack.origin}/services/T1/B1/${SLACK_TOKEN}`,
      CMDB_URL: `${all.origin}/events\n`,
      CMDB_HMAC: HMAC,
      DEPLOY_URL: `${other.origin}/deploys`,
    };
    const seen: DeliveryResult[] = [];
    const hub = new NotificationHub(channels, { env, onResult: (r) => seen.push(r) });
    assert.deepEqual(
      hub.channelsFor('gate.failed').map((c) => c.name),
      ['chat', 'cmdb'],
    );

    const event = gateFailed();
    const results = await hub.publish(event);
    assert.deepEqual(
      results.map((r) => [r.channel, r.kind, r.ok, r.eventId, r.eventType]),
      [
        ['chat', 'slack', true, event.id, 'gate.failed'],
        ['cmdb', 'webhook', true, event.id, 'gate.failed'],
      ],
    );
    assert.deepEqual(seen, results);
    assert.equal(slack.received.length, 1);
    assert.equal(other.received.length, 0);
    const req = all.received[0]!;
    assert.equal(req.url, '/events');
    assert.equal(verifyWebhookSignature(req.body, req.headers['x-signature-256'] as string, HMAC), true);

    await hub.publish(lifecycleEvent('promotion.succeeded', { subject: 's', summary: 'promoted' }));
    assert.equal(other.received.length, 1);
    assert.equal(all.received.length, 2);
    assert.equal(slack.received.length, 1);
  });

  it('resolves secrets lazily and keeps trying when they are missing, without throwing', async () => {
    const ok = await receiver({ status: 200 });
    const channels: Notification[] = [
      { name: 'chat', kind: 'slack', url: 'env:MISSING_SLACK_URL', events: ['*'] },
      { name: 'cmdb', kind: 'webhook', url: 'env:CMDB_URL', events: ['*'] },
    ];
    const env: NodeJS.ProcessEnv = { CMDB_URL: `${ok.origin}/e` };
    const hub = new NotificationHub(channels, { env });
    const first = await hub.publish(gateFailed());
    assert.equal(first[1]!.ok, true, 'the other channel is not blocked');
    const failed = first[0]!;
    assert.equal(failed.ok, false);
    assert.equal(failed.error!.code, 'SECRET_UNRESOLVED');
    assert.equal(
      failed.error!.message,
      'notification channel chat (slack): secret reference env:MISSING_SLACK_URL: environment variable MISSING_SLACK_URL is not set',
    );
    assert.equal(failed.error!.context.channel, 'chat');

    const slack = await receiver({ status: 200, body: 'ok' });
    env.MISSING_SLACK_URL = `${slack.origin}/services/T/B/${SLACK_TOKEN}`;
    const second = await hub.publish(gateFailed());
    assert.deepEqual(
      second.map((r) => r.ok),
      [true, true],
    );
  });

  it('resolves file: references against the policy directory', async () => {
    const ok = await receiver({ status: 200 });
    const dir = await mkdtemp(path.join(tmpdir(), 'sluice-hub-'));
    dirs.push(dir);
    await writeFile(path.join(dir, 'cmdb.url'), `${ok.origin}/from-file\n`);
    await writeFile(path.join(dir, 'cmdb.key'), `${HMAC}\n`);
    const hub = NotificationHub.fromPolicy({
      baseDir: dir,
      notifications: [{ name: 'cmdb', kind: 'webhook', url: 'file:cmdb.url', secret: 'file:cmdb.key', events: ['*'] }],
    });
    const [r] = await hub.publish(gateFailed());
    assert.equal(r!.ok, true);
    const req = ok.received[0]!;
    assert.equal(req.url, '/from-file');
    assert.equal(verifyWebhookSignature(req.body, req.headers['x-signature-256'] as string, HMAC), true);
  });

  it('reports failures per channel, cuts a hanging channel at its timeout, and leaks no secrets', async () => {
    const archived = await receiver({ status: 410, body: 'channel_is_archived' });
    const hanging = await receiver('hang');
    const ok = await receiver({ status: 200 });
    const env = {
      A: `${archived.origin}/services/T/B/${SLACK_TOKEN}`,
      H: `${hanging.origin}/hook?token=${SLACK_TOKEN}`,
      O: `${ok.origin}/ok`,
      K: HMAC,
    };
    const hub = new NotificationHub(
      [
        { name: 'archived', kind: 'slack', url: 'env:A', events: ['*'] },
        { name: 'hanging', kind: 'webhook', url: 'env:H', secret: 'env:K', events: ['*'] },
        { name: 'fine', kind: 'webhook', url: 'env:O', events: ['*'] },
      ],
      {
        env,
        timeoutMs: 300,
        onResult: () => {
          throw new Error('a broken observer');
        },
      },
    );
    const started = Date.now();
    const results = await hub.publish(gateFailed());
    assert.ok(Date.now() - started < 2000, 'bounded by the channel timeout');
    const [a, h, f] = results;
    assert.equal(f!.ok, true);
    assert.equal(a!.ok, false);
    assert.equal(a!.error!.context.reason, 'channel_is_archived');
    assert.equal(a!.error!.context.httpStatus, 410);
    assert.equal(h!.ok, false);
    assert.equal(h!.error!.code, 'NOTIFY_TIMEOUT');
    assert.equal(h!.error!.message, 'notification channel hanging (webhook): not delivered within 300 ms');
    const dump = JSON.stringify(results.map((r) => ({ ...r, error: r.error?.toJSON(), message: r.error?.message })));
    for (const secret of [SLACK_TOKEN, HMAC, '/services/', 'token=']) assert.ok(!dump.includes(secret), secret);
  });

  it('turns an unexpected exception into a failed result without its text', async () => {
    const hub = new NotificationHub([{ name: 'x', kind: 'webhook', url: 'env:U', events: ['*'] }], {
      env: { U: 'https://example.invalid/hook?token=abc' },
      createNotifier: () => ({
        send: async () => {
          throw new TypeError('Failed to parse URL from https://example.invalid/hook?token=abc');
        },
      }),
    });
    const [r] = await hub.publish(gateFailed());
    assert.equal(r!.ok, false);
    assert.equal(r!.error!.code, 'NOTIFY_FAILED');
    assert.doesNotMatch(r!.error!.message, /token=abc/);
  });

  it('publishes to nobody when no channel matches', async () => {
    const hub = new NotificationHub([{ name: 'x', kind: 'slack', url: 'env:NOPE', events: ['sla.breached'] }]);
    assert.deepEqual(await hub.publish(gateFailed()), []);
  });
});
