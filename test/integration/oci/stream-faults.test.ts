/**
 * Connections that break in the middle of a blob: the source resetting a download and the
 * target resetting an upload, during the headers, at the first chunk, in the middle and at the
 * last chunk. Each must end the copy with a SluiceError that names the blob and the registry
 * at fault, write no tag, leave the engine usable for a retry, and never take the process
 * down (an unhandled stream 'error' event used to: `sluice serve` exited mid-promotion).
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { isSluiceError, type SluiceError } from '../../../src/errors.ts';
import { CopyEngine, type CopyOptions } from '../../../src/oci/copy.ts';
import { CredentialStore } from '../../../src/oci/credentials.ts';
import { RegistryPool } from '../../../src/oci/pool.ts';
import { parseReference } from '../../../src/oci/reference.ts';
import { runBin } from '../../helpers/cli.ts';
import { buildImage, pushImage, skopeoDigest, type LocalImage } from '../../helpers/images.ts';
import { startProxy, type FaultRule, type ProxyHandle } from '../../helpers/proxy.ts';
import { startRegistry, type RegistryHandle } from '../../helpers/registry.ts';
import { createWorkspace, type Workspace } from '../../helpers/workspace.ts';
import { call, spawnSluice } from '../server/helpers.ts';

const CHUNK = 256 * 1024;

let src: RegistryHandle;
let dst: RegistryHandle;
let srcProxy: ProxyHandle;
let dstProxy: ProxyHandle;
let image: LocalImage;
let layer: { digest: string; size: number };
let pool: RegistryPool;

before(async () => {
  [src, dst] = await Promise.all([startRegistry(), startRegistry()]);
  [srcProxy, dstProxy] = await Promise.all([startProxy(src), startProxy(dst)]);
  // One incompressible layer of 1 MiB: several socket reads and upload chunks, still fast.
  image = await buildImage({ layers: 1, layerBytes: 1024 * 1024, random: true });
  await pushImage(image, src, 'src/app:1');
  await pushImage(image, src, 'acme-dev/app:1.0.0-1');
  layer = image.layers[0]!;
  assert.ok(layer.size > 4 * CHUNK, 'the layer spans several upload chunks');
  // Request-level retries are the transport's business and tested elsewhere; one keeps it fast.
  pool = new RegistryPool({ defaults: { retry: { retries: 1, baseDelayMs: 5, maxDelayMs: 10 } } });
});

after(async () => {
  pool?.close();
  await Promise.all([srcProxy?.close(), dstProxy?.close()]);
  await Promise.all([src?.stop(), dst?.stop()]);
});

/** Tags of a target repository, read from the registry itself ([] when it does not exist). */
async function tagsAt(repository: string): Promise<string[]> {
  const res = await fetch(`${dst.url}/v2/${repository}/tags/list`);
  if (res.status === 404) return [];
  assert.equal(res.status, 200, await res.text());
  return ((await res.json()) as { tags: string[] | null }).tags ?? [];
}

async function blobAt(repository: string, digest: string): Promise<boolean> {
  const res = await fetch(`${dst.url}/v2/${repository}/blobs/${digest}`, { method: 'HEAD' });
  return res.status === 200;
}

function copy(repository: string, options: CopyOptions = {}) {
  return new CopyEngine(pool).copy(
    {
      source: parseReference(`${srcProxy.host}/src/app:1`),
      target: { registry: dstProxy.host, repository, tag: '1' },
    },
    options,
  );
}

interface FaultCase {
  name: string;
  side: 'download' | 'upload';
  rule: () => FaultRule;
  options?: CopyOptions;
  /**
   * Hold the target's upload sessions back, so the download has started (and broken off)
   * before anything reads it: the gap where an unhandled 'error' event killed the process.
   */
  slowSession?: boolean;
}

function holdSessions(): () => void {
  const rule = dstProxy.inject({
    kind: 'delay',
    ms: 300,
    method: 'POST',
    path: /\/blobs\/uploads\/$/,
    times: Infinity,
  });
  return () => rule.remove();
}

const onLayerGet = () => ({ method: 'GET', path: new RegExp(`/blobs/${layer.digest}$`) });
// The layer's PUT carries its digest in the query; the config's does not match.
const onLayerPut = () => ({
  method: 'PUT',
  path: /\/blobs\/uploads\//,
  when: (req: { url?: string }) => (req.url ?? '').includes(encodeURIComponent(layer.digest)),
});
const onLayerPatch = (index: number) => {
  const start = index * CHUNK;
  const end = Math.min(layer.size, start + CHUNK) - 1;
  return {
    method: 'PATCH',
    path: /\/blobs\/uploads\//,
    when: (req: { headers: Record<string, string | string[] | undefined> }) =>
      req.headers['content-range'] === `${start}-${end}`,
  };
};
const lastPatch = () => Math.ceil(layer.size / CHUNK) - 1;
const chunked = { chunkSize: CHUNK };

const CASES: FaultCase[] = [
  { name: 'download, during the headers', side: 'download', rule: () => ({ kind: 'reset', ...onLayerGet() }) },
  {
    name: 'download, at the first chunk',
    side: 'download',
    rule: () => ({ kind: 'reset', afterBytes: 1, ...onLayerGet() }),
  },
  {
    name: 'download, in the middle',
    side: 'download',
    rule: () => ({ kind: 'reset', afterBytes: Math.floor(layer.size / 2), ...onLayerGet() }),
  },
  {
    name: 'download, at the last chunk',
    side: 'download',
    rule: () => ({ kind: 'reset', afterBytes: layer.size - 1, ...onLayerGet() }),
  },
  {
    name: 'download, at the first chunk, before the upload session is open',
    side: 'download',
    rule: () => ({ kind: 'reset', afterBytes: 1, ...onLayerGet() }),
    slowSession: true,
  },
  {
    name: 'download, in the middle, before the upload session is open',
    side: 'download',
    rule: () => ({ kind: 'reset', afterBytes: Math.floor(layer.size / 2), ...onLayerGet() }),
    slowSession: true,
  },
  {
    name: 'download, in the middle, chunked upload',
    side: 'download',
    rule: () => ({ kind: 'reset', afterBytes: Math.floor(layer.size / 2), ...onLayerGet() }),
    options: chunked,
  },
  { name: 'upload, during the headers', side: 'upload', rule: () => ({ kind: 'reset', ...onLayerPut() }) },
  {
    name: 'upload, at the first chunk',
    side: 'upload',
    rule: () => ({ kind: 'reset', afterRequestBytes: 1, ...onLayerPut() }),
  },
  {
    name: 'upload, in the middle',
    side: 'upload',
    rule: () => ({ kind: 'reset', afterRequestBytes: Math.floor(layer.size / 2), ...onLayerPut() }),
  },
  {
    name: 'upload, at the last chunk',
    side: 'upload',
    rule: () => ({ kind: 'reset', afterRequestBytes: layer.size - 1, ...onLayerPut() }),
  },
  {
    name: 'chunked upload, during the headers of the first chunk',
    side: 'upload',
    rule: () => ({ kind: 'reset', ...onLayerPatch(0) }),
    options: chunked,
  },
  {
    name: 'chunked upload, in the middle chunk',
    side: 'upload',
    rule: () => ({ kind: 'reset', afterRequestBytes: CHUNK / 2, ...onLayerPatch(2) }),
    options: chunked,
  },
  {
    name: 'chunked upload, at the end of the last chunk',
    side: 'upload',
    rule: () => ({
      kind: 'reset',
      afterRequestBytes: layer.size - lastPatch() * CHUNK - 1,
      ...onLayerPatch(lastPatch()),
    }),
    options: chunked,
  },
];

describe('a connection reset in the copy path', () => {
  for (const [i, c] of CASES.entries()) {
    test(`${c.name}: a SluiceError naming the blob, no tag, and a retry succeeds`, { timeout: 60_000 }, async () => {
      const repository = `dst/case-${i}`;
      const proxy = c.side === 'download' ? srcProxy : dstProxy;
      const fault = proxy.inject({ ...c.rule(), times: Infinity });
      const release = c.slowSession ? holdSessions() : () => {};
      let failure: unknown;
      try {
        await copy(repository, c.options);
      } catch (err) {
        failure = err;
      } finally {
        fault.remove();
        release();
      }
      assert.ok(fault.hits > 0, 'the fault was hit');
      assert.ok(isSluiceError(failure), `a SluiceError, not ${String(failure)}`);
      const err = failure as SluiceError;
      assert.ok(['unavailable', 'integrity'].includes(err.category), `${err.category}: ${err.message}`);
      assert.ok(err.message.includes(layer.digest), `names the blob: ${err.message}`);
      assert.equal(err.context.digest, layer.digest);
      assert.equal(err.context.registry, proxy.host, `names the registry that broke off: ${err.message}`);
      assert.deepEqual(await tagsAt(repository), [], 'no tag in the target');
      assert.equal(await blobAt(repository, layer.digest), false, 'no half-written blob committed');

      const retried = await copy(repository, c.options);
      assert.equal(retried.digest, image.digest);
      assert.equal(await skopeoDigest(dst, `${repository}:1`), image.digest);
    });
  }
});

test('a 401 to a streamed upload copies the blob again instead of re-sending a half-read stream', async () => {
  // Credentials for the target, so a Basic challenge is answered by sending the request again.
  const credentials = new CredentialStore({
    env: {},
    explicit: { [dstProxy.host]: { username: 'alice', password: 'alice-secret' } },
  });
  const withCredentials = new RegistryPool({ credentials, defaults: { idleTimeoutMs: 30_000 } });
  const challenge = dstProxy.inject({
    kind: 'status',
    status: 401,
    headers: { 'www-authenticate': 'Basic realm="registry"' },
    ...onLayerPut(),
  });
  try {
    const started = Date.now();
    const result = await new CopyEngine(withCredentials).copy({
      source: parseReference(`${srcProxy.host}/src/app:1`),
      target: { registry: dstProxy.host, repository: 'dst/challenged', tag: '1' },
    });
    assert.equal(challenge.hits, 1);
    assert.equal(result.digest, image.digest);
    assert.ok(Date.now() - started < 10_000, 'no wait for an idle timeout');
    assert.equal(await skopeoDigest(dst, 'dst/challenged:1'), image.digest);
  } finally {
    challenge.remove();
    withCredentials.close();
  }
});

describe('sluice copy as a process', () => {
  // The crash was a race between the reset and the code that starts reading: run it a few times.
  const runs: Array<{ side: 'download' | 'upload'; rule: () => FaultRule; slowSession?: boolean }> = [
    ...[true, true, false].map((slowSession) => ({
      side: 'download' as const,
      slowSession,
      rule: (): FaultRule => ({ kind: 'reset', afterBytes: Math.floor(layer.size / 2), ...onLayerGet() }),
    })),
    ...[0, 1].map(() => ({
      side: 'upload' as const,
      rule: (): FaultRule => ({ kind: 'reset', afterRequestBytes: Math.floor(layer.size / 2), ...onLayerPut() }),
    })),
  ];
  for (const [i, run] of runs.entries()) {
    test(`${run.side} reset mid-blob: exit 1 with a message, never a crash (run ${i + 1})`, async () => {
      const proxy = run.side === 'download' ? srcProxy : dstProxy;
      const fault = proxy.inject({ ...run.rule(), times: Infinity });
      const release = run.slowSession ? holdSessions() : () => {};
      const repository = `dst/cli-${i}`;
      try {
        const r = await runBin(['copy', `${srcProxy.host}/src/app:1`, `${dstProxy.host}/${repository}:1`]);
        assert.equal(r.code, 1, r.stderr);
        assert.ok(fault.hits > 0, 'the fault was hit');
        assert.match(r.stderr, new RegExp(`^error: .*${layer.digest}.*${proxy.host.replace(/\./g, '\\.')}`, 'm'));
        assert.doesNotMatch(r.stderr, /Unhandled|node:internal|^\s+at /m, 'no crash trace');
        assert.equal(r.stderr.trim().split('\n').length, 1, `one line: ${r.stderr}`);
      } finally {
        fault.remove();
        release();
      }
      assert.deepEqual(await tagsAt(repository), []);
    });
  }
});

describe('sluice serve', () => {
  let ws: Workspace;
  before(async () => {
    type Node = { items: Array<{ set: (k: string, v: unknown) => void }> };
    ws = await createWorkspace({
      registries: [
        { name: 'local', url: srcProxy.url },
        { name: 'remote', url: dstProxy.url },
      ],
      edit: (doc) => {
        const stages = doc.getIn(['spec', 'stages']) as Node;
        for (const s of stages.items) {
          s.set('gate', { require: [] });
          s.set('trigger', 'manual');
        }
        // Staging lives in another registry: promotions into it stream every blob.
        stages.items[1]!.set('registry', 'remote');
      },
    });
  });
  after(async () => ws?.cleanup());

  test('keeps answering after promotions whose source or target resets mid-blob', { timeout: 120_000 }, async () => {
    const created = await ws.cli(['token', 'create', '--role', 'platform-admin']);
    assert.equal(created.code, 0, created.stderr);
    const token = created.stdout.trim();
    const proc = spawnSluice(['--config', ws.configPath, 'serve', '--listen', '127.0.0.1:0', '--no-scheduler'], {
      env: ws.env,
    });
    try {
      const url = await proc.url;
      const promote = (to: string) =>
        call(url, 'POST', '/api/v1/promotions', { token, body: { ref: 'acme/app:1.0.0-1', to } });
      const dev = await promote('dev');
      assert.equal(dev.status, 200, dev.text);

      const faults: Array<[ProxyHandle, FaultRule, boolean]> = [
        [srcProxy, { kind: 'reset', afterBytes: Math.floor(layer.size / 2), ...onLayerGet() }, true],
        [srcProxy, { kind: 'reset', afterBytes: Math.floor(layer.size / 2), ...onLayerGet() }, false],
        [dstProxy, { kind: 'reset', afterRequestBytes: Math.floor(layer.size / 2), ...onLayerPut() }, false],
      ];
      for (const [proxy, rule, slowSession] of faults) {
        const fault = proxy.inject({ ...rule, times: Infinity });
        const release = slowSession ? holdSessions() : () => {};
        let failed;
        try {
          failed = await promote('staging');
        } finally {
          fault.remove();
          release();
        }
        assert.ok(fault.hits > 0, 'the fault was hit');
        assert.equal(failed.status, 503, failed.text);
        assert.ok(String(failed.json.error.message).includes(layer.digest), failed.text);
        assert.equal(proc.child.exitCode, null, `the server is still running: ${proc.stderr()}`);
        assert.equal((await call(url, 'GET', '/healthz')).status, 200);
        const history = await call(url, 'GET', '/api/v1/promotions?repo=app', { token });
        assert.equal(history.status, 200, history.text);
        assert.deepEqual(await tagsAt('acme-staging/app'), [], 'nothing tagged in staging');
      }

      const ok = await promote('staging');
      assert.equal(ok.status, 200, ok.text);
      assert.equal(await skopeoDigest(dst, 'acme-staging/app:staging'), image.digest);
      assert.doesNotMatch(proc.stderr(), /Unhandled 'error' event/);
      proc.kill('SIGTERM');
      assert.deepEqual(await proc.exited, { code: 0, signal: null });
    } finally {
      proc.kill('SIGKILL');
    }
  });
});
