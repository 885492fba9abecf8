/**
 * WebhookNotifier against a local receiver. The request is checked against the CloudEvents
 * 1.0 HTTP binding, structured mode (cloudevents/spec `http-protocol-binding.md` v1.0.2 §3.2:
 * `Content-Type: application/cloudevents+json`, attributes in the JSON body per
 * `json-format.md`), with GitHub-style `X-Signature-256: sha256=<hex HMAC>` over the raw body
 * and an `Idempotency-Key`. The receiver answers 2xx, 4xx, 5xx, 429 + Retry-After, hangs, or
 * drops the connection, to exercise what is retried and what is final.
 */
import assert from 'node:assert/strict';
import { createHmac } from 'node:crypto';
import { after, describe, it } from 'node:test';
import { isSluiceError, type SluiceError } from '../../../src/errors.ts';
import { lifecycleEvent } from '../../../src/notify/event.ts';
import { WebhookNotifier, signBody, toCloudEvent, verifyWebhookSignature } from '../../../src/notify/webhook.ts';
import { closedPortOrigin, startFakeServer, type Answer, type FakeServer } from './fake-server.ts';

const SECRET = 'hmac-k3y-n0t-for-logs';
const TOKEN = 'tok-in-query-123';
const PATH = `/hooks/sluice?token=${TOKEN}`;

const event = lifecycleEvent('gate.failed', {
  id: '0b9f4a52-5d1e-4f3b-9a8e-6c7d8e9f0a1b',
  time: new Date('2026-11-21T21:00:05.250Z'),
  subject: 'quay.example.com/acme-staging/api@sha256:' + 'b'.repeat(64),
  summary: 'acme/api 1.4.2-7 failed the prod gate: 2 critical findings',
  data: { stage: 'prod', result: 'failed', missing: ['scan'], findings: { critical: 2 } },
});

const servers: FakeServer[] = [];
after(async () => {
  await Promise.all(servers.map((s) => s.close()));
});

async function receiver(answers: Answer[]) {
  const server = await startFakeServer((_req, i) => answers[i] ?? answers.at(-1)!);
  servers.push(server);
  return server;
}

function notifier(server: FakeServer, secret?: string, extra: { attempts?: number; timeoutMs?: number } = {}) {
  return new WebhookNotifier(server.origin + PATH, secret, { name: 'cmdb', retryDelayMs: 5, ...extra });
}

async function rejection(p: Promise<unknown>): Promise<SluiceError> {
  try {
    await p;
  } catch (err) {
    assert.ok(isSluiceError(err), `expected a SluiceError, got ${String(err)}`);
    return err;
  }
  assert.fail('expected a rejection');
}

function assertNoSecret(err: SluiceError): void {
  const text = JSON.stringify({ message: err.message, ...err.toJSON() });
  for (const s of [SECRET, TOKEN, '/hooks/']) assert.ok(!text.includes(s), `leaked ${s}: ${text}`);
}

describe('WebhookNotifier: the request', () => {
  it('sends a structured-mode CloudEvent, signed, with the event id as idempotency key', async () => {
    const server = await receiver([{ status: 202 }]);
    await notifier(server, SECRET).send(event);
    const req = server.received[0]!;
    assert.equal(req.method, 'POST');
    assert.equal(req.url, PATH);
    assert.equal(req.headers['content-type'], 'application/cloudevents+json');
    assert.equal(req.headers['idempotency-key'], event.id);
    assert.deepEqual(JSON.parse(req.body), {
      specversion: '1.0',
      id: event.id,
      source: '/sluice',
      type: 'dev.sluice.gate.failed',
      time: '2026-11-21T21:00:05.250Z',
      subject: event.subject,
      datacontenttype: 'application/json',
      data: {
        summary: event.summary,
        stage: 'prod',
        result: 'failed',
        missing: ['scan'],
        findings: { critical: 2 },
      },
    });
    const header = req.headers['x-signature-256'];
    assert.equal(header, `sha256=${createHmac('sha256', SECRET).update(req.body).digest('hex')}`);
    assert.equal(verifyWebhookSignature(req.body, header as string, SECRET), true);
  });

  it('sends no signature header without a secret', async () => {
    const server = await receiver([{ status: 200 }]);
    await notifier(server).send(event);
    assert.equal(server.received[0]!.headers['x-signature-256'], undefined);
    assert.equal(server.received[0]!.headers['idempotency-key'], event.id);
  });

  it('builds the CloudEvent without the transport', () => {
    const ce = toCloudEvent(event);
    assert.equal(ce.type, 'dev.sluice.gate.failed');
    assert.equal(ce.source, '/sluice');
  });
});

describe('WebhookNotifier: retries', () => {
  it('retries 5xx, 429 and dropped connections with the same bytes, signature and key', async () => {
    const server = await receiver([
      { status: 503 },
      'reset',
      { status: 429, headers: { 'retry-after': '0' } },
      { status: 204 },
    ]);
    await notifier(server, SECRET, { attempts: 4 }).send(event);
    assert.equal(server.received.length, 4);
    const first = server.received[0]!;
    for (const r of server.received) {
      assert.equal(r.body, first.body);
      assert.equal(r.headers['x-signature-256'], first.headers['x-signature-256']);
      assert.equal(r.headers['idempotency-key'], event.id);
    }
  });

  it('gives up after 3 attempts by default', async () => {
    const server = await receiver([{ status: 500 }]);
    const err = await rejection(notifier(server, SECRET).send(event));
    assert.equal(server.received.length, 3);
    assert.equal(err.code, 'NOTIFY_UNAVAILABLE');
    assert.equal(err.message, 'notification channel cmdb (webhook): the receiver answered HTTP 500 (after 3 attempts)');
    assert.equal(err.context.attempts, 3);
    assertNoSecret(err);
  });

  for (const [status, category] of [
    [400, 'invalid-input'],
    [401, 'unauthorized'],
    [403, 'forbidden'],
    [404, 'not-found'],
    [410, 'not-found'],
    [422, 'invalid-input'],
  ] as const) {
    it(`never retries ${status}`, async () => {
      const server = await receiver([{ status, body: `secret-ish receiver text ${TOKEN}` }]);
      const err = await rejection(notifier(server, SECRET).send(event));
      assert.equal(server.received.length, 1);
      assert.equal(err.code, 'NOTIFY_REJECTED');
      assert.equal(err.category, category);
      assert.equal(err.context.httpStatus, status);
      assertNoSecret(err);
    });
  }

  it('does not follow redirects', async () => {
    const server = await receiver([{ status: 307, headers: { location: 'http://127.0.0.1:1/steal' } }]);
    const err = await rejection(notifier(server, SECRET).send(event));
    assert.equal(server.received.length, 1);
    assert.match(err.message, /HTTP 307, a redirect, which is not followed/);
  });

  it('does not wait for a Retry-After longer than allowed', async () => {
    const server = await receiver([{ status: 503, headers: { 'retry-after': '3600' } }]);
    const err = await rejection(notifier(server, SECRET).send(event));
    assert.equal(server.received.length, 1);
    assert.match(err.message, /asks to wait 3600 s, longer than Sluice waits/);
  });

  it('retries timeouts and unreachable receivers, then reports the errno', async () => {
    const hanging = await receiver(['hang']);
    const t = await rejection(notifier(hanging, SECRET, { attempts: 2, timeoutMs: 80 }).send(event));
    assert.equal(hanging.received.length, 2);
    assert.equal(t.message, 'notification channel cmdb (webhook): no answer within 80 ms (after 2 attempts)');

    const down = new WebhookNotifier((await closedPortOrigin()) + PATH, SECRET, { name: 'cmdb', retryDelayMs: 1 });
    const e = await rejection(down.send(event));
    assert.match(e.message, /the request failed \(ECONNREFUSED\) \(after 3 attempts\)$/);
    assertNoSecret(e);
  });

  it('stops retrying as soon as the caller aborts', async () => {
    const server = await receiver([{ status: 503 }]);
    const n = new WebhookNotifier(server.origin + PATH, SECRET, { name: 'cmdb', retryDelayMs: 10_000 });
    const controller = new AbortController();
    setTimeout(() => controller.abort(), 50);
    const started = Date.now();
    const err = await rejection(n.send(event, controller.signal));
    assert.ok(Date.now() - started < 2000);
    assert.equal(err.code, 'NOTIFY_TIMEOUT');
    assert.equal(server.received.length, 1);
  });
});

describe('verifyWebhookSignature', () => {
  const body = JSON.stringify(toCloudEvent(event));
  const header = signBody(body, SECRET);

  it('accepts the signature of the exact bytes, as string or bytes, in any hex case', () => {
    assert.equal(verifyWebhookSignature(body, header, SECRET), true);
    assert.equal(verifyWebhookSignature(Buffer.from(body), header, SECRET), true);
    assert.equal(verifyWebhookSignature(body, header.toUpperCase().replace('SHA256=', 'sha256='), SECRET), true);
  });

  it('rejects a changed body, another secret, and missing or malformed headers', () => {
    assert.equal(verifyWebhookSignature(body + ' ', header, SECRET), false);
    assert.equal(verifyWebhookSignature(body.replace('prod', 'dev'), header, SECRET), false);
    assert.equal(verifyWebhookSignature(body, header, 'other-secret'), false);
    assert.equal(verifyWebhookSignature(body, header, ''), false);
    assert.equal(verifyWebhookSignature(body, undefined, SECRET), false);
    assert.equal(verifyWebhookSignature(body, null, SECRET), false);
    assert.equal(verifyWebhookSignature(body, header.slice('sha256='.length), SECRET), false);
    assert.equal(verifyWebhookSignature(body, header.replace('sha256=', 'sha1='), SECRET), false);
    assert.equal(verifyWebhookSignature(body, header.slice(0, -2), SECRET), false);
    assert.equal(verifyWebhookSignature(body, `${header}00`, SECRET), false);
  });
});
