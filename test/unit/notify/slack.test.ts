/**
 * SlackNotifier against a local server that answers as Slack's incoming webhooks are
 * documented to:
 * - success: HTTP 200 with the plain-text body `ok` ("Sending messages using incoming webhooks");
 * - errors: plain-text bodies with their statuses from "Improving error conditions for Incoming
 *   Webhooks" (api.slack.com/changelog/2016-05-17-changes-to-errors-for-incoming-webhooks):
 *   400 invalid_payload, 403 action_prohibited, 404 channel_not_found, 410 channel_is_archived,
 *   500 rollup_error; and 404 no_service / no_active_hooks for a removed or deactivated hook;
 * - rate limiting: HTTP 429 with `Retry-After: <seconds>` (api.slack.com/docs/rate-limits).
 * The webhook URL has Slack's documented form `/services/T.../B.../<token>`.
 */
import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { isSluiceError, type SluiceError } from '../../../src/errors.ts';
import { lifecycleEvent } from '../../../src/notify/event.ts';
import { SlackNotifier, slackMessage } from '../../../src/notify/slack.ts';
import { closedPortOrigin, startFakeServer, type Answer, type FakeServer } from './fake-server.ts';

const TOKEN = 'xoxTok3nS3cretValue';
const HOOK_PATH = `/services/T00000000/B00000000/${TOKEN}`;

const event = lifecycleEvent('promotion.succeeded', {
  id: '8d3c1f0e-2b7a-4c55-9f1e-0a6b2c3d4e5f',
  time: new Date('2026-11-21T22:15:00Z'),
  subject: 'quay.example.com/acme-prod/api@sha256:' + 'a'.repeat(64),
  summary: 'acme/api 1.4.2-7 promoted to prod <!channel> & friends',
  data: { stage: 'prod', actor: 'bob', result: 'succeeded', from: 'preprod' },
});

const servers: FakeServer[] = [];
after(async () => {
  await Promise.all(servers.map((s) => s.close()));
});

async function slack(answers: Answer[] | ((i: number) => Answer)) {
  const server = await startFakeServer((_req, i) =>
    typeof answers === 'function' ? answers(i) : (answers[i] ?? answers.at(-1)!),
  );
  servers.push(server);
  const notifier = new SlackNotifier(server.origin + HOOK_PATH, { name: 'ops-chat', maxRetryAfterMs: 2000 });
  return { server, notifier };
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
  assert.doesNotMatch(text, new RegExp(TOKEN));
  assert.doesNotMatch(text, /services\/T0/);
}

describe('SlackNotifier: the message', () => {
  it('POSTs {text, blocks} as JSON and treats 200 `ok` as delivered', async () => {
    const { server, notifier } = await slack([{ status: 200, body: 'ok' }]);
    await notifier.send(event);
    assert.equal(server.received.length, 1);
    const req = server.received[0]!;
    assert.equal(req.method, 'POST');
    assert.equal(req.url, HOOK_PATH);
    assert.equal(req.headers['content-type'], 'application/json');
    const body = JSON.parse(req.body) as ReturnType<typeof slackMessage>;
    assert.deepEqual(body, slackMessage(event));
    assert.deepEqual(Object.keys(body).sort(), ['blocks', 'text']);
  });

  it('has a header, the summary with subject/stage/actor/result fields, and a context line', () => {
    const msg = slackMessage(event);
    assert.equal(msg.text, 'Promotion succeeded: acme/api 1.4.2-7 promoted to prod &lt;!channel&gt; &amp; friends');
    const [header, section, context] = msg.blocks as Array<Record<string, any>>; // eslint-disable-line @typescript-eslint/no-explicit-any
    assert.deepEqual(header, {
      type: 'header',
      text: { type: 'plain_text', text: 'Promotion succeeded', emoji: false },
    });
    assert.equal(section!.type, 'section');
    // Mentions and links cannot be smuggled in through a summary.
    assert.equal(section!.text.text, 'acme/api 1.4.2-7 promoted to prod &lt;!channel&gt; &amp; friends');
    assert.deepEqual(
      section!.fields.map((f: { text: string }) => f.text),
      [`*Subject*\n\`${event.subject}\``, '*Stage*\nprod', '*Actor*\nbob', '*Result*\nsucceeded'],
    );
    assert.equal(context!.type, 'context');
    assert.match(context!.elements[0].text, /^promotion\.succeeded · 2026-11-21T22:15:00\.000Z · event 8d3c1f0e-/);
  });

  it('leaves out fields the event does not have and clips to Block Kit limits', () => {
    const long = lifecycleEvent('audit.chain-broken', { subject: 'audit', summary: 'x'.repeat(5000) });
    const msg = slackMessage(long);
    const section = msg.blocks[1] as { text: { text: string }; fields: unknown[] };
    assert.equal(section.fields.length, 1);
    assert.equal(section.text.text.length, 3000);
    assert.equal((msg.blocks[0] as { text: { text: string } }).text.text, 'Audit chain broken');
  });
});

describe('SlackNotifier: documented errors', () => {
  const cases: Array<[number, string, string, RegExp]> = [
    [400, 'invalid_payload', 'internal', /could not parse the message/],
    [403, 'action_prohibited', 'forbidden', /workspace restriction/],
    [404, 'channel_not_found', 'not-found', /channel no longer exists/],
    [410, 'channel_is_archived', 'not-found', /archived/],
    [404, 'no_service', 'unauthorized', /disabled, removed or invalid/],
    [404, 'no_active_hooks', 'unauthorized', /no longer active/],
    [403, 'invalid_token', 'unauthorized', /token in the webhook URL is invalid/],
    [500, 'rollup_error', 'unavailable', /Slack failed internally/],
  ];
  for (const [status, body, category, explain] of cases) {
    it(`reports ${status} ${body} as ${category}, naming the channel, not the URL`, async () => {
      const { server, notifier } = await slack([{ status, body, headers: { 'content-type': 'text/plain' } }]);
      const err = await rejection(notifier.send(event));
      assert.equal(server.received.length, 1, 'not retried');
      assert.equal(err.category, category);
      assert.equal(err.code, category === 'unavailable' ? 'NOTIFY_UNAVAILABLE' : 'NOTIFY_REJECTED');
      assert.equal(err.context.httpStatus, status);
      assert.equal(err.context.reason, body);
      assert.equal(err.context.channel, 'ops-chat');
      assert.match(
        err.message,
        new RegExp(`^notification channel ops-chat \\(slack\\): Slack answered HTTP ${status} ${body}: `),
      );
      assert.match(err.message, explain);
      assertNoSecret(err);
    });
  }

  for (const body of ['constructor', '__proto__', 'tostring']) {
    it(`takes an error word ${body} that Object.prototype knows as an unknown one`, async () => {
      const { notifier } = await slack([{ status: 400, body, headers: { 'content-type': 'text/plain' } }]);
      const err = await rejection(notifier.send(event));
      assert.equal(err.message, `notification channel ops-chat (slack): Slack answered HTTP 400 ${body}`);
      assert.equal(err.category, 'invalid-input');
    });
  }

  it('does not repeat an error body that is not a Slack error word', async () => {
    const { notifier } = await slack([{ status: 502, body: '<html>Bad gateway at /services/T0/B0</html>' }]);
    const err = await rejection(notifier.send(event));
    assert.equal(err.message, 'notification channel ops-chat (slack): Slack answered HTTP 502');
    assert.equal(err.category, 'unavailable');
  });

  it('refuses a 200 without `ok` (not a Slack webhook)', async () => {
    const { notifier } = await slack([{ status: 200, body: '<html>login</html>' }]);
    const err = await rejection(notifier.send(event));
    assert.equal(err.code, 'NOTIFY_UNEXPECTED_RESPONSE');
    assert.equal(err.category, 'integrity');
  });

  it('does not follow a redirect with the message', async () => {
    const { server, notifier } = await slack([{ status: 302, headers: { location: '/elsewhere' } }]);
    const err = await rejection(notifier.send(event));
    assert.equal(server.received.length, 1);
    assert.match(err.message, /HTTP 302, a redirect, which is not followed/);
  });
});

describe('SlackNotifier: rate limiting and transport', () => {
  it('waits the Retry-After once and then delivers', async () => {
    const { server, notifier } = await slack([
      { status: 429, headers: { 'retry-after': '1' }, body: '{"ok":false,"error":"rate_limited"}' },
      { status: 200, body: 'ok' },
    ]);
    const started = Date.now();
    await notifier.send(event);
    assert.ok(Date.now() - started >= 950, 'waited about a second');
    assert.equal(server.received.length, 2);
    assert.equal(server.received[1]!.body, server.received[0]!.body);
  });

  it('gives up when rate-limited a second time', async () => {
    const { server, notifier } = await slack([{ status: 429, headers: { 'retry-after': '0' } }]);
    const err = await rejection(notifier.send(event));
    assert.equal(server.received.length, 2);
    assert.equal(err.code, 'NOTIFY_UNAVAILABLE');
    assert.equal(err.context.reason, 'rate_limited');
    assert.match(err.message, /rate-limited the webhook again/);
  });

  it('does not wait longer than allowed', async () => {
    const { server, notifier } = await slack([{ status: 429, headers: { 'retry-after': '120' } }]);
    const err = await rejection(notifier.send(event));
    assert.equal(server.received.length, 1);
    assert.equal(err.context.retryAfterMs, 120_000);
    assert.match(err.message, /asks to wait 120 s, longer than Sluice waits/);
  });

  it('reports an unreachable endpoint by errno, without the URL', async () => {
    const notifier = new SlackNotifier((await closedPortOrigin()) + HOOK_PATH, { name: 'ops-chat' });
    const err = await rejection(notifier.send(event));
    assert.equal(err.code, 'NOTIFY_UNAVAILABLE');
    assert.match(err.message, /the request failed \(ECONNREFUSED\)/);
    assertNoSecret(err);
  });

  it('times out a hanging endpoint', async () => {
    const server = await startFakeServer(() => 'hang');
    servers.push(server);
    const notifier = new SlackNotifier(server.origin + HOOK_PATH, { name: 'ops-chat', timeoutMs: 100 });
    const err = await rejection(notifier.send(event));
    assert.equal(err.message, 'notification channel ops-chat (slack): no answer within 100 ms');
  });

  it('rejects a malformed URL without quoting it', () => {
    assert.throws(
      () => new SlackNotifier(`hooks.slack.com/services/T0/B0/${TOKEN}`, { name: 'ops-chat' }),
      (err: unknown) => isSluiceError(err, 'NOTIFY_URL_INVALID') && !err.message.includes(TOKEN),
    );
  });
});
