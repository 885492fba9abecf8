/**
 * Registry notifications end to end: a real Distribution registry whose `notifications`
 * endpoint is a running `sluice serve` (in-process, port 0), plus an event sink that records
 * the same deliveries so the test can replay, reorder and forge them. Quay and Harbor
 * payloads are posted by the test in their documented shapes, naming tags that exist in the
 * same registry. The scheduler is off: whatever the inventory learns, it learns from events.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { listAudit } from '../../../src/audit/index.ts';
import { listImages, showImage } from '../../../src/inventory/query.ts';
import { buildImage, pushImage, skopeoDelete, skopeoInspect, type LocalImage } from '../../helpers/images.ts';
import { startEventSink, type EventSinkHandle, type RegistryEvent as SinkEvent } from '../../helpers/event-sink.ts';
import { startRegistry, type RegistryHandle } from '../../helpers/registry.ts';
import { createWorkspace, type Workspace } from '../../helpers/workspace.ts';
import { describeEachEngine } from '../../helpers/db.ts';
import { apiToken, call, eventually, metricValue, parseMetrics, startTestServer, type TestServer } from './helpers.ts';

const SECRET = 'whk_9f3c2a71e5b84d06a1c7e2f5d8b9a304';
const DISTRIBUTION = '/api/v1/webhooks/distribution/local';
const EVENTS_V1 = 'application/vnd.docker.distribution.events.v1+json';

let reg: RegistryHandle;
let sink: EventSinkHandle;
let ws: Workspace;
let ts: TestServer;
const img: Record<string, LocalImage> = {};

before(async () => {
  for (const name of ['api', 'web', 'quay', 'harbor', 'harborce'])
    img[name] = await buildImage({ layers: 1, seed: `webhooks-${name}` });
});

// Each engine's suite has a registry, server and sink of its own: the registry notifies one
// server, and the tests push, delete and count pulls in it. The built images are shared.
describeEachEngine('registry notifications', (engine) => {
  before(async () => {
    reg = await startRegistry();
    // Pushed before the registry notifies anyone: only the Quay and Harbor payloads below tell Sluice.
    await pushImage(img.quay!, reg, 'acme-dev/quayapp:1.0.0-1');
    await pushImage(img.harbor!, reg, 'acme-dev/harborapp:1.0.0-1');
    await pushImage(img.harborce!, reg, 'acme-dev/harborce:1.0.0-1');
    ws = await createWorkspace({
      engine,
      registries: [{ name: 'local', url: reg.url }],
      env: { HOOK_SECRET: SECRET },
      edit: (doc) =>
        doc.setIn(['spec', 'server', 'webhooks'], {
          distribution: { secret: 'env:HOOK_SECRET' },
          quay: { secret: 'env:HOOK_SECRET' },
          harbor: { secret: 'env:HOOK_SECRET' },
        }),
    });
    ts = await startTestServer(ws);
    sink = await startEventSink();
    await reg.restart({
      notifications: [
        { url: `${ts.url}${DISTRIBUTION}`, headers: { Authorization: [`Bearer ${SECRET}`] } },
        { url: sink.url },
      ],
    });
  });

  after(async () => {
    await ts?.close();
    await reg?.stop();
    await sink?.close();
    await ws?.cleanup();
  });

  async function tagsOf(repository: string): Promise<Record<string, string>> {
    const rows = await ts.rt.store.db
      .selectFrom('tags')
      .select(['tag', 'digest'])
      .where('registry', '=', 'local')
      .where('repository', '=', repository)
      .execute();
    return Object.fromEntries(rows.map((r) => [r.tag, r.digest]));
  }

  async function pullCount(digest: string): Promise<number> {
    const rows = await ts.rt.store.db.selectFrom('pulls').select('count').where('digest', '=', digest).execute();
    return rows.reduce((n, r) => n + Number(r.count), 0);
  }

  function postEnvelope(events: unknown[], auth: Record<string, string> = { authorization: `Bearer ${SECRET}` }) {
    return call(ts.url, 'POST', DISTRIBUTION, {
      raw: JSON.stringify({ events }),
      contentType: EVENTS_V1,
      headers: auth,
    });
  }

  const fresh = (e: SinkEvent, suffix: string): SinkEvent => ({ ...e, id: `${e.id}-${suffix}` });

  test('a push reaches the inventory through the notification, without a sync', async () => {
    await pushImage(img.api!, reg, 'acme-dev/api:1.0.0-1');
    const row = await eventually('acme-dev/api:1.0.0-1 in the inventory', async () =>
      (await listImages(ts.rt.store, { repository: 'acme-dev/api' })).find((r) => r.tags.includes('1.0.0-1')),
    );
    assert.equal(row.digest, img.api!.digest);
    assert.equal(row.team, 'acme');
    assert.equal(row.stage, 'dev');
    const job = await ts.rt.store.db
      .selectFrom('jobs')
      .select('last_run_at')
      .where('name', '=', 'sync:local')
      .executeTakeFirstOrThrow();
    assert.equal(job.last_run_at, null, 'no sync ran');
    const audit = await listAudit(ts.rt.store, {
      action: 'tag.create',
      tag: '1.0.0-1',
      repository: `${reg.host}/acme-dev/api`,
    });
    assert.equal(audit.length, 1);
    assert.equal(audit[0]!.actor, 'registry:local');
  });

  test('pulls are counted per digest and day; a replayed delivery counts once', async () => {
    await skopeoInspect(reg, 'acme-dev/api:1.0.0-1');
    const pulls = await eventually('the pull event at the sink', async () => {
      const e = sink
        .events()
        .filter(
          (x) =>
            x.action === 'pull' &&
            x.target.digest === img.api!.digest &&
            x.request?.method === 'GET' &&
            !/sluice\//.test(x.request.useragent),
        );
      return e.length ? e : undefined;
    });
    await eventually('the pull counted', async () => (await pullCount(img.api!.digest)) === pulls.length);
    const day = (
      await ts.rt.store.db
        .selectFrom('pulls')
        .select('day')
        .where('digest', '=', img.api!.digest)
        .executeTakeFirstOrThrow()
    ).day;
    assert.equal(day, new Date().toISOString().slice(0, 10));
    // Sluice's own reads (HEAD and GET by sluice/…) never count.
    assert.ok(
      sink.events().some((x) => x.action === 'pull' && /sluice\//.test(x.request?.useragent ?? '')),
      'sluice read manifests itself',
    );

    const envelope = sink.envelopes.find((e) => e.events.some((x) => x.id === pulls[0]!.id))!;
    const replay = await postEnvelope(envelope.events);
    assert.equal(replay.status, 202, replay.text);
    assert.equal(replay.json.accepted, 0);
    assert.ok(replay.json.duplicates >= 1);
    await ts.server.idle();
    assert.equal(await pullCount(img.api!.digest), pulls.length, 'the replay changed nothing');
    const detail = await showImage(ts.rt.store, { registry: 'local', repository: 'acme-dev/api', tag: '1.0.0-1' });
    assert.equal(detail.pulls.total, pulls.length);
  });

  test('a delete removes the image from the inventory', async () => {
    await skopeoDelete(reg, 'acme-dev/api:1.0.0-1');
    await eventually('acme-dev/api:1.0.0-1 gone', async () => Object.keys(await tagsOf('acme-dev/api')).length === 0);
    assert.deepEqual(await listImages(ts.rt.store, { repository: 'acme-dev/api' }), []);
  });

  test('reordered deliveries end in the state the registry has', async () => {
    await pushImage(img.web!, reg, 'acme-dev/web:2.0.0-1');
    await eventually('web pushed', async () => (await tagsOf('acme-dev/web'))['2.0.0-1'] === img.web!.digest);
    const push = await eventually('push event at the sink', async () =>
      sink
        .events()
        .find((e) => e.action === 'push' && e.target.repository === 'acme-dev/web' && e.target.tag === '2.0.0-1'),
    );
    await skopeoDelete(reg, 'acme-dev/web:2.0.0-1');
    await eventually('web deleted', async () => (await tagsOf('acme-dev/web'))['2.0.0-1'] === undefined);
    const del = await eventually('delete event at the sink', async () =>
      sink.events().find((e) => e.action === 'delete' && e.target.repository === 'acme-dev/web'),
    );

    // The push arrives late, after the delete: it must not resurrect the tag.
    let r = await postEnvelope([fresh(push, 'late')]);
    assert.equal(r.status, 202);
    assert.equal(r.json.accepted, 1);
    await ts.server.idle();
    assert.deepEqual(await tagsOf('acme-dev/web'), {});

    // Pushed again; then the old delete arrives: the image stays, since the registry has it.
    await pushImage(img.web!, reg, 'acme-dev/web:2.0.0-1');
    await eventually('web pushed again', async () => (await tagsOf('acme-dev/web'))['2.0.0-1'] === img.web!.digest);
    r = await postEnvelope([fresh(del, 'late')]);
    assert.equal(r.json.accepted, 1);
    await ts.server.idle();
    assert.deepEqual(await tagsOf('acme-dev/web'), { '2.0.0-1': img.web!.digest });
  });

  test('a forged event with a valid secret changes nothing', async () => {
    await ts.server.idle();
    const before = {
      images: await listImages(ts.rt.store, { all: true }),
      seq: (await listAudit(ts.rt.store, { limit: 1 }))[0]!.seq,
    };
    const ghost = `sha256:${'de'.repeat(32)}`;
    const forged = [
      {
        id: 'forged-1',
        timestamp: new Date().toISOString(),
        action: 'push',
        target: {
          mediaType: 'application/vnd.oci.image.manifest.v1+json',
          digest: ghost,
          repository: 'acme-dev/web',
          tag: '9.9.9-9',
        },
      },
      {
        id: 'forged-2',
        timestamp: new Date().toISOString(),
        action: 'push',
        target: {
          mediaType: 'application/vnd.oci.image.manifest.v1+json',
          digest: ghost,
          repository: 'acme-dev/ghost',
          tag: '1.0.0-1',
        },
      },
      {
        id: 'forged-3',
        timestamp: new Date().toISOString(),
        action: 'delete',
        target: { digest: img.web!.digest, repository: 'acme-dev/web' },
      },
      {
        id: 'forged-4',
        timestamp: new Date().toISOString(),
        action: 'push',
        target: { mediaType: 'application/vnd.oci.image.manifest.v1+json', digest: ghost, repository: 'acme-dev/web' },
      },
      // A real digest under a tag the registry never had: retried (tags are linked after the
      // event is sent), then the registry's answer stands.
      {
        id: 'forged-5',
        timestamp: new Date().toISOString(),
        action: 'push',
        target: {
          mediaType: 'application/vnd.oci.image.manifest.v1+json',
          digest: img.web!.digest,
          repository: 'acme-dev/web',
          tag: '7.7.7-7',
        },
      },
    ];
    const r = await postEnvelope(forged);
    assert.equal(r.status, 202, r.text);
    assert.equal(r.json.accepted, 5);
    await ts.server.idle();
    assert.deepEqual(await listImages(ts.rt.store, { all: true }), before.images);
    assert.deepEqual(await tagsOf('acme-dev/web'), { '2.0.0-1': img.web!.digest });
    const ghostRepo = await ts.rt.store.db
      .selectFrom('repositories')
      .select('name')
      .where('name', '=', 'acme-dev/ghost')
      .executeTakeFirst();
    assert.equal(ghostRepo, undefined, 'no repository row for a repository the registry does not have');
    const changes = await listAudit(ts.rt.store, { afterSeq: before.seq, order: 'asc' });
    assert.deepEqual(
      changes.filter((c) => c.action.startsWith('tag.')),
      [],
    );
  });

  test('senders are authenticated, bad payloads refused with clear errors, unowned repositories ignored', async () => {
    const valid = [
      {
        id: 'auth-1',
        timestamp: new Date().toISOString(),
        action: 'delete',
        target: { digest: img.api!.digest, repository: 'acme-dev/api' },
      },
    ];
    assert.equal((await postEnvelope(valid, {})).status, 401);
    const wrong = await postEnvelope(valid, { authorization: 'Bearer wrong-secret-7d1e0c' });
    assert.equal(wrong.status, 401);
    assert.equal(wrong.json.error.code, 'WEBHOOK_UNAUTHORIZED');
    assert.ok(!wrong.text.includes('wrong-secret-7d1e0c') && !wrong.text.includes(SECRET));
    assert.equal((await postEnvelope(valid, { 'x-sluice-webhook-secret': 'nope' })).status, 401);
    assert.equal((await postEnvelope(valid, { 'x-sluice-webhook-secret': SECRET })).status, 202);

    const big = await call(ts.url, 'POST', DISTRIBUTION, {
      raw: JSON.stringify({ events: [], pad: 'x'.repeat(1024 * 1024) }),
      contentType: EVENTS_V1,
      headers: { authorization: `Bearer ${SECRET}` },
    });
    assert.equal(big.status, 413);
    assert.equal(big.json.error.code, 'PAYLOAD_TOO_LARGE');

    const bad = await call(ts.url, 'POST', DISTRIBUTION, {
      raw: '{"events": [',
      contentType: EVENTS_V1,
      headers: { authorization: `Bearer ${SECRET}` },
    });
    assert.equal(bad.status, 400);
    assert.equal(bad.json.error.code, 'BODY_INVALID_JSON');
    assert.match(bad.json.error.message, /not valid JSON/);

    const shape = await postEnvelope([{ id: 'x', action: 'explode', target: { repository: 'acme-dev/api' } }]);
    assert.equal(shape.status, 400);
    assert.equal(shape.json.error.code, 'EVENT_INVALID');
    assert.match(shape.json.error.message, /events\[0\]\.action "explode"/);

    const text = await call(ts.url, 'POST', DISTRIBUTION, {
      raw: 'hello',
      contentType: 'text/plain',
      headers: { authorization: `Bearer ${SECRET}` },
    });
    assert.equal(text.status, 415);
    assert.equal(text.json.error.code, 'UNSUPPORTED_MEDIA_TYPE');

    const unknown = await call(ts.url, 'POST', '/api/v1/webhooks/distribution/elsewhere', {
      body: { events: [] },
      headers: { authorization: `Bearer ${SECRET}` },
    });
    assert.equal(unknown.status, 404);
    assert.equal(unknown.json.error.code, 'REGISTRY_UNKNOWN');

    const stray = await postEnvelope([
      {
        id: 'stray-1',
        timestamp: new Date().toISOString(),
        action: 'push',
        target: {
          mediaType: 'application/vnd.oci.image.manifest.v1+json',
          digest: img.web!.digest,
          repository: 'stray/repo',
          tag: '1',
        },
      },
    ]);
    assert.equal(stray.status, 202);
    assert.deepEqual(stray.json, { events: 1, accepted: 0, duplicates: 0, ignored: 1 });
    await ts.server.idle();
    const strayRepo = await ts.rt.store.db
      .selectFrom('repositories')
      .select('name')
      .where('name', '=', 'stray/repo')
      .executeTakeFirst();
    assert.equal(strayRepo, undefined);
    assert.ok(ts.logs.text().includes('no team owns repository stray/repo'));
  });

  test('Quay repo_push and Harbor Default and CloudEvents payloads update the inventory', async () => {
    assert.deepEqual(await tagsOf('acme-dev/quayapp'), {}, 'not known before the notification');
    const quay = await call(ts.url, 'POST', `/api/v1/webhooks/quay/local?secret=${SECRET}`, {
      body: {
        repository: 'acme-dev/quayapp',
        namespace: 'acme-dev',
        name: 'quayapp',
        docker_url: `${reg.host}/acme-dev/quayapp`,
        homepage: `https://quay.example/repository/acme-dev/quayapp`,
        updated_tags: ['1.0.0-1'],
      },
    });
    assert.equal(quay.status, 202, quay.text);
    assert.equal(quay.json.accepted, 1);

    const harborData = (repo: string, image: LocalImage) => ({
      resources: [{ digest: image.digest, tag: '1.0.0-1', resource_url: `${reg.host}/acme-dev/${repo}:1.0.0-1` }],
      repository: {
        date_created: 1700000000,
        name: repo,
        namespace: 'acme-dev',
        repo_full_name: `acme-dev/${repo}`,
        repo_type: 'private',
      },
    });
    const harbor = await call(ts.url, 'POST', '/api/v1/webhooks/harbor/local', {
      body: {
        type: 'PUSH_ARTIFACT',
        occur_at: Math.floor(Date.now() / 1000),
        operator: 'admin',
        event_data: harborData('harborapp', img.harbor!),
      },
      headers: { authorization: `Bearer ${SECRET}` },
    });
    assert.equal(harbor.status, 202, harbor.text);
    const cloud = await call(ts.url, 'POST', '/api/v1/webhooks/harbor/local', {
      raw: JSON.stringify({
        specversion: '1.0',
        id: 'b2b1c1ae-7f1e-4c1a-9e59-0a3c2d1e0f11',
        source: '/projects/1/webhook/policies/2',
        type: 'harbor.artifact.pushed',
        time: new Date().toISOString(),
        datacontenttype: 'application/json',
        operator: 'admin',
        data: harborData('harborce', img.harborce!),
      }),
      contentType: 'application/cloudevents+json',
      // Harbor's "Auth Header" is sent as configured, here without a scheme.
      headers: { authorization: SECRET },
    });
    assert.equal(cloud.status, 202, cloud.text);
    const pull = await call(ts.url, 'POST', '/api/v1/webhooks/harbor/local', {
      body: {
        type: 'PULL_ARTIFACT',
        occur_at: Math.floor(Date.now() / 1000),
        operator: 'robot',
        event_data: harborData('harborapp', img.harbor!),
      },
      headers: { authorization: `Bearer ${SECRET}` },
    });
    assert.equal(pull.status, 202);
    await ts.server.idle();
    assert.deepEqual(
      await tagsOf('acme-dev/quayapp'),
      { '1.0.0-1': img.quay!.digest },
      'Quay names only the tag; Sluice resolved the digest',
    );
    assert.deepEqual(await tagsOf('acme-dev/harborapp'), { '1.0.0-1': img.harbor!.digest });
    assert.deepEqual(await tagsOf('acme-dev/harborce'), { '1.0.0-1': img.harborce!.digest });
    assert.equal(await pullCount(img.harbor!.digest), 1);
  });

  test('/metrics has the series, and no label carries a tag, digest or repository', async () => {
    const r = await call(ts.url, 'GET', '/metrics');
    assert.equal(r.status, 200);
    assert.match(r.headers.get('content-type') ?? '', /text\/plain/);
    const samples = parseMetrics(r.text);
    const v = (name: string, labels: Record<string, string> = {}) => metricValue(samples, name, labels);
    assert.equal(
      v('sluice_images', { team: 'acme', stage: 'dev', category: 'application' }),
      4,
      'web, quayapp, harborapp, harborce',
    );
    assert.ok(v('sluice_image_bytes', { team: 'acme', stage: 'dev' }) > 0);
    assert.ok(v('sluice_pulls_total', { registry: 'local' }) >= 2);
    assert.ok(v('sluice_pulls_today', { registry: 'local' }) >= 2);
    for (const result of ['accepted', 'duplicate', 'ignored_unowned', 'invalid', 'unauthorized']) {
      assert.ok(v('sluice_webhook_events_total', { source: 'distribution', result }) > 0, `distribution ${result}`);
    }
    assert.equal(v('sluice_webhook_events_total', { source: 'quay', result: 'accepted' }), 1);
    assert.equal(v('sluice_webhook_events_total', { source: 'harbor', result: 'accepted' }), 3);
    assert.ok(
      v('sluice_http_request_duration_seconds_count', {
        route: '/api/v1/webhooks/distribution/:registry',
        method: 'POST',
        status: '202',
      }) > 0,
    );
    assert.equal(v('sluice_sync_runs_total', { registry: 'local' }), 0);
    assert.ok(samples.some((s) => s.name === 'sluice_build_info' && s.labels.version));
    for (const s of samples) {
      for (const [k, value] of Object.entries(s.labels)) {
        assert.doesNotMatch(
          value,
          /sha256|[0-9a-f]{32}|acme-dev\/|1\.0\.0-1|2\.0\.0-1|\?/,
          `${s.name} label ${k}="${value}"`,
        );
      }
    }
  });

  test('secrets and tokens never reach the logs', async () => {
    const token = await apiToken(ts.rt, 'auditor');
    assert.equal((await call(ts.url, 'GET', '/api/v1/whoami', { token })).status, 200);
    assert.equal((await call(ts.url, 'GET', `/api/v1/images?token=${token}`, { token })).status, 400);
    const logs = ts.logs.text();
    assert.ok(logs.length > 0);
    assert.ok(logs.includes('secret=[REDACTED]'), 'the Quay URL was logged, redacted');
    for (const s of [SECRET, token, 'wrong-secret-7d1e0c'])
      assert.ok(!logs.includes(s), `log contains ${s.slice(0, 6)}…`);
    for (const line of ts.logs.entries()) assert.equal(typeof line.level, 'number', 'every line is a JSON log record');
    // Nor the audit log.
    const all = JSON.stringify(await listAudit(ts.rt.store, { limit: 10_000 }));
    assert.ok(!all.includes(SECRET) && !all.includes(token));
  });
});
