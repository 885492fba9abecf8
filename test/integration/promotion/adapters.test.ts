/**
 * Change approval from ServiceNow and notifications in the promotion flow. ServiceNow and the
 * webhook receiver cannot run here; local servers replay ServiceNow's documented Table API
 * shapes and receive the signed CloudEvents.
 */
import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, test } from 'node:test';
import { buildImage, pushImage, skopeoDigest } from '../../helpers/images.ts';
import { startRegistry, type RegistryHandle } from '../../helpers/registry.ts';
import { createWorkspace, type Workspace } from '../../helpers/workspace.ts';
import { describeEachEngine } from '../../helpers/db.ts';
import { verifyWebhookSignature } from '../../../src/notify/webhook.ts';

let reg: RegistryHandle;
let ws: Workspace;
let snow: http.Server;
let hook: http.Server;
const received: Array<{ headers: http.IncomingHttpHeaders; body: string }> = [];
const snowRequests: Array<{ url: string; auth: string | undefined }> = [];
const SECRET = 'hmac-shared-secret';

function fmt(d: Date): string {
  return d.toISOString().slice(0, 19).replace('T', ' ');
}

async function listen(server: http.Server): Promise<string> {
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

let snowUrl: string;
let hookUrl: string;

// ServiceNow and the webhook receiver are shared by both engines' suites; each suite has a
// registry of its own, since its promotion fixes the version tag in preprod.
before(async () => {
  const now = Date.now();
  const changes: Record<string, Record<string, string>> = {
    CHG0030001: {
      approval: 'approved',
      state: '-1',
      start_date: fmt(new Date(now - 3600_000)),
      end_date: fmt(new Date(now + 3600_000)),
    },
    CHG0030002: {
      approval: 'requested',
      state: '-4',
      start_date: fmt(new Date(now - 3600_000)),
      end_date: fmt(new Date(now + 3600_000)),
    },
  };
  // Table API: GET /api/now/table/change_request?sysparm_query=number=… → {"result":[…]}
  snow = http.createServer((req, res) => {
    snowRequests.push({ url: req.url ?? '', auth: req.headers.authorization });
    const q = new URL(req.url ?? '', 'http://x').searchParams.get('sysparm_query') ?? '';
    const number = q.replace(/^number=/, '');
    const c = changes[number];
    res.setHeader('content-type', 'application/json');
    res.end(
      JSON.stringify({
        result: c
          ? [
              {
                number,
                sys_id: number === 'CHG0030001' ? 'a'.repeat(32) : 'b'.repeat(32),
                short_description: 'release',
                ...c,
              },
            ]
          : [],
      }),
    );
  });
  hook = http.createServer((req, res) => {
    let body = '';
    req.on('data', (c) => (body += c));
    req.on('end', () => {
      received.push({ headers: req.headers, body });
      res.statusCode = 202;
      res.end();
    });
  });
  [snowUrl, hookUrl] = await Promise.all([listen(snow), listen(hook)]);
});
after(() => {
  snow?.close();
  hook?.close();
});

describeEachEngine('change management and notifications', (engine) => {
  before(async () => {
    received.length = 0;
    snowRequests.length = 0;
    reg = await startRegistry();
    ws = await createWorkspace({
      engine,
      registries: [{ name: 'local', url: reg.url }],
      env: { SNOW_CREDENTIALS: 'sluice-integration:snow-pass', HOOK_URL: `${hookUrl}/events`, HOOK_SECRET: SECRET },
      edit: (doc) => {
        const stages = doc.getIn(['spec', 'stages']) as { items: Array<{ set: (k: string, v: unknown) => void }> };
        for (const s of stages.items) {
          s.set('gate', { require: [] });
          s.set('trigger', 'manual');
        }
        stages.items[2]!.set('gate', { require: ['change-approval'] });
        doc.setIn(['spec', 'changeManagement'], {
          kind: 'servicenow',
          url: snowUrl,
          credentials: 'env:SNOW_CREDENTIALS',
        });
        doc.setIn(
          ['spec', 'notifications'],
          [
            {
              name: 'ops',
              kind: 'webhook',
              url: 'env:HOOK_URL',
              secret: 'env:HOOK_SECRET',
              events: ['promotion.succeeded', 'gate.failed'],
            },
          ],
        );
      },
    });
  });
  after(async () => {
    await ws?.cleanup();
    await reg?.stop();
  });

  const as = (user: string, args: string[]) => ws.cli(args, { SLUICE_USER: user });

  test('a ServiceNow change gates preprod; promotions notify a signed webhook', async () => {
    const { digest } = await pushImage(await buildImage({ layers: 1 }), reg, 'acme-dev/svc:1.0.0-1');
    assert.equal((await as('alice', ['promote', 'acme/svc:1.0.0-1', '--to', 'dev'])).code, 0);
    assert.equal((await as('bob', ['promote', 'acme/svc:1.0.0-1', '--to', 'staging'])).code, 0);

    const requested = await as('carol', [
      'evidence',
      'add',
      'acme-staging/svc:1.0.0-1',
      '--type',
      'change-approval',
      '--change',
      'CHG0030002',
      '-o',
      'json',
    ]);
    assert.equal(requested.code, 0, requested.stderr);
    const ev = JSON.parse(requested.stdout).evidence;
    assert.equal(ev.status, 'failed');
    assert.match(ev.details.reason, /CHG0030002 is not approved \(approval: requested\)/);
    assert.match(ev.url, /nav_to\.do\?uri=change_request\.do\?sys_id=b{32}/);
    assert.equal(snowRequests.at(-1)!.auth, `Basic ${Buffer.from('sluice-integration:snow-pass').toString('base64')}`);

    const refused = await as('carol', ['promote', 'acme/svc:1.0.0-1', '--to', 'preprod']);
    assert.equal(refused.code, 1);
    assert.match(refused.stderr, /change-approval: failed/);

    const injection = await as('carol', [
      'evidence',
      'add',
      'acme-staging/svc:1.0.0-1',
      '--type',
      'change-approval',
      '--change',
      'CHG1^ORnumber!=x',
    ]);
    assert.equal(injection.code, 2);
    assert.ok(
      !snowRequests.some((r) => r.url.includes('%5E') || r.url.includes('^')),
      'no query operators reach ServiceNow',
    );

    assert.equal(
      (
        await as('carol', [
          'evidence',
          'add',
          'acme-staging/svc:1.0.0-1',
          '--type',
          'change-approval',
          '--change',
          'CHG0030001',
        ])
      ).code,
      0,
    );
    const ok = await as('carol', ['promote', 'acme/svc:1.0.0-1', '--to', 'preprod']);
    assert.equal(ok.code, 0, ok.stderr);
    assert.equal(await skopeoDigest(reg, 'acme-preprod/svc:preprod'), digest);

    const types = received.map((r) => JSON.parse(r.body).type);
    assert.ok(types.includes('dev.sluice.gate.failed'), types.join());
    assert.ok(types.includes('dev.sluice.promotion.succeeded'));
    for (const r of received) {
      assert.equal(r.headers['content-type'], 'application/cloudevents+json');
      assert.ok(verifyWebhookSignature(r.body, String(r.headers['x-signature-256']), SECRET), 'HMAC over the raw body');
      assert.ok(!r.body.includes(SECRET));
    }
    const succeeded = received
      .map((r) => JSON.parse(r.body))
      .find((e) => e.type === 'dev.sluice.promotion.succeeded' && e.data.stage === 'preprod');
    assert.equal(succeeded.data.digest, digest);
  });
});
