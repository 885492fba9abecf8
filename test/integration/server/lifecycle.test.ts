/**
 * The lifecycle through the server: pipelines record evidence with API tokens, a push event
 * from the registry triggers the automatic promotion, approvals need the stage's role, and
 * verify-deployable answers over HTTP.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { createToken } from '../../../src/auth/index.ts';
import { buildImage, pushImage, skopeoDigest, skopeoListTags } from '../../helpers/images.ts';
import { startRegistry, type RegistryHandle } from '../../helpers/registry.ts';
import { createWorkspace, type Workspace } from '../../helpers/workspace.ts';
import { describeEachEngine } from '../../helpers/db.ts';
import { call, eventually, startTestServer, type TestServer } from './helpers.ts';

const SECRET = 'lifecycle-webhook-secret-0123456789';
let reg: RegistryHandle;
let ws: Workspace;
let ts: TestServer;

async function token(role: string, name: string, teams = ['acme']): Promise<string> {
  return (
    await createToken(ts.rt.store, { role, teams, name }, { actor: 'test', audit: ts.rt.audit, knownTeams: ['acme'] })
  ).token;
}

// Each engine's suite has a registry of its own: it notifies one server, and the flow fills every stage.
describeEachEngine('the lifecycle through the server', (engine) => {
  before(async () => {
    reg = await startRegistry();
    ws = await createWorkspace({
      engine,
      registries: [{ name: 'local', url: reg.url }],
      env: { HOOK_SECRET: SECRET },
      edit: (doc) => doc.setIn(['spec', 'server', 'webhooks'], { distribution: { secret: 'env:HOOK_SECRET' } }),
    });
    ts = await startTestServer(ws);
    await reg.restart({
      notifications: [
        { url: `${ts.url}/api/v1/webhooks/distribution/local`, headers: { Authorization: [`Bearer ${SECRET}`] } },
      ],
    });
  });
  after(async () => {
    await ts?.close();
    await reg?.stop();
    await ws?.cleanup();
  });

  test('evidence over the API, promotion on a push event, approvals by role, deployability over HTTP', async () => {
    const ci = await token('developer', 'ci-pipeline');
    const img = await buildImage({ layers: 1 });
    const { digest } = await pushImage(img, reg, 'acme-dev/web:2.0.0-1');
    await eventually(
      'the push is in the inventory',
      async () =>
        (await ts.rt.store.db.selectFrom('tags').select('digest').where('repository', '=', 'acme-dev/web').execute())
          .length > 0,
    );

    // Evidence for the digest; the dev gate holds after the last one, so it is promoted at once.
    for (const type of ['build', 'unit-tests']) {
      const r = await call(ts.url, 'POST', '/api/v1/evidence', {
        token: ci,
        body: { ref: 'acme-dev/web:2.0.0-1', type, url: 'https://ci/1' },
      });
      assert.equal(r.status, 201, r.text);
      assert.deepEqual(r.json.promoted, []);
    }
    const last = await call(ts.url, 'POST', '/api/v1/evidence', {
      token: ci,
      body: { ref: 'acme-dev/web:2.0.0-1', type: 'code-quality' },
    });
    assert.equal(last.status, 201, last.text);
    assert.equal(last.json.promoted[0].status, 'succeeded');
    assert.equal(await skopeoDigest(reg, 'acme-dev/web:dev'), digest);

    const bad = await call(ts.url, 'POST', '/api/v1/evidence', {
      token: ci,
      body: { ref: 'acme-dev/web:2.0.0-1', type: 'unit-test' },
    });
    assert.equal(bad.status, 400);
    assert.match(bad.json.error.message, /unknown evidence type "unit-test"/);

    // Names Object.prototype has are neither known body fields nor known evidence types.
    for (const key of ['constructor', 'toString', 'hasOwnProperty']) {
      const extra = await call(ts.url, 'POST', '/api/v1/evidence', {
        token: ci,
        body: { ref: 'acme-dev/web:2.0.0-1', type: 'build', [key]: 'x' },
      });
      assert.equal(extra.status, 400, `${key}: ${extra.text}`);
      assert.equal(extra.json.error.code, 'REQUEST_INVALID', key);
      const type = await call(ts.url, 'POST', '/api/v1/evidence', {
        token: ci,
        body: { ref: 'acme-dev/web:2.0.0-1', type: key },
      });
      assert.equal(type.status, 400, `${key}: ${type.text}`);
      assert.equal(type.json.error.code, 'EVIDENCE_TYPE_UNKNOWN', key);
    }
    const proto = await call(ts.url, 'POST', '/api/v1/evidence', {
      token: ci,
      raw: '{"ref": "acme-dev/web:2.0.0-1", "__proto__": {"type": "build"}}',
      contentType: 'application/json',
    });
    // A JSON `__proto__` member is dropped, never made the body's prototype: `type` is still missing.
    assert.equal(proto.status, 400, proto.text);
    assert.equal(proto.json.error.code, 'REQUEST_INVALID');
    assert.match(proto.json.error.message, /type/);

    // Text the database cannot hold is the caller's error on both engines (it was stored by
    // SQLite and a 500 on PostgreSQL), names neither the value nor the database, and leaves no trace.
    const before = await ts.rt.store.db.selectFrom('evidence').select('id').execute();
    const nul = await call(ts.url, 'POST', '/api/v1/evidence', {
      token: ci,
      body: { ref: 'acme-dev/web:2.0.0-1', type: 'unit-tests', url: 'https://ci/1\u0000' },
    });
    assert.equal(nul.status, 400, nul.text);
    assert.equal(nul.json.error.code, 'STORE_VALUE_INVALID');
    assert.match(nul.json.error.message, /NUL character \(U\+0000\).*"insert into "evidence"/);
    assert.ok(!nul.text.includes('127.0.0.1:5432') && !nul.text.includes('ci/1'), nul.text);
    assert.deepEqual(await ts.rt.store.db.selectFrom('evidence').select('id').execute(), before);

    // A push event alone triggers the automatic promotion once the evidence is there.
    const img2 = await buildImage({ layers: 1 });
    const pushed = await pushImage(img2, reg, 'acme-dev/web:2.1.0-2');
    // The registry reports the push asynchronously (and the server retries an event whose tag
    // is not readable yet), and applying it tries an automatic promotion. Applied after the
    // evidence below, it would promote on its own before the check that nothing moved: wait
    // until it is in the inventory and its follow-up has run.
    await eventually(
      'the push of 2.1.0-2 is in the inventory',
      async () =>
        (
          await ts.rt.store.db
            .selectFrom('tags')
            .select('digest')
            .where('repository', '=', 'acme-dev/web')
            .where('tag', '=', '2.1.0-2')
            .execute()
        ).length > 0,
    );
    await ts.server.idle();
    for (const type of ['build', 'unit-tests', 'code-quality']) {
      const r = await ws.cli(['evidence', 'add', `acme-dev/web@${pushed.digest}`, '--type', type, '--no-auto'], {
        SLUICE_USER: 'alice',
      });
      assert.equal(r.code, 0, r.stderr);
    }
    assert.equal(await skopeoDigest(reg, 'acme-dev/web:dev'), digest, 'nothing moved yet');
    await pushImage(img2, reg, 'acme-dev/web:candidate');
    await eventually(
      'the push event promoted 2.1.0-2 into dev',
      async () => (await skopeoDigest(reg, 'acme-dev/web:dev')) === pushed.digest,
      15_000,
    );

    // Approvals: only the gate's role, and the route permission is the stage's own.
    const dev = await token('developer', 'dave-dev');
    const denied = await call(ts.url, 'POST', '/api/v1/approvals/preprod', {
      token: dev,
      body: { ref: 'acme/web:2.0.0-1' },
    });
    assert.equal(denied.status, 403);
    const qa = await token('qa', 'bob');
    const notInStaging = await call(ts.url, 'POST', '/api/v1/approvals/preprod', {
      token: qa,
      body: { ref: 'acme/web:2.0.0-1' },
    });
    assert.equal(notInStaging.status, 404, 'the image is not in staging yet');

    const gate = await call(ts.url, 'GET', `/api/v1/gate?ref=${encodeURIComponent('acme/web:2.0.0-1')}&stage=staging`, {
      token: ci,
    });
    assert.equal(gate.status, 200, gate.text);
    assert.equal(gate.json.passed, false);
    assert.ok(
      gate.json.requirements.some(
        (r: { requirement: string; status: string }) => r.requirement === 'scan' && r.status === 'missing',
      ),
    );

    const deployable = await call(
      ts.url,
      'GET',
      `/api/v1/deployable?ref=${encodeURIComponent(`${reg.host}/acme-dev/web:dev`)}`,
      { token: ci },
    );
    assert.equal(deployable.status, 200, deployable.text);
    assert.equal(deployable.json.deployable, true);
    assert.equal(deployable.json.digest, pushed.digest);

    const history = await call(ts.url, 'GET', '/api/v1/promotions?repo=web', { token: ci });
    assert.deepEqual(
      history.json
        .map(
          (p: { version_tag: string; to_stage: string; status: string }) =>
            `${p.version_tag}>${p.to_stage}:${p.status}`,
        )
        .sort(),
      ['2.0.0-1>dev:succeeded', '2.1.0-2>dev:succeeded'],
    );
    assert.ok((await skopeoListTags(reg, 'acme-dev/web')).includes('dev'));

    const metrics = await (await fetch(`${ts.url}/metrics`)).text();
    assert.match(metrics, /sluice_promotions\{stage="dev",result="succeeded"\} 2/);
    assert.match(metrics, /# TYPE sluice_promotion_lead_time_seconds histogram/);
    assert.ok(!metrics.includes(digest), 'no digest in any label');
  });
});
