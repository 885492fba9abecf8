import assert from 'node:assert/strict';
import { test } from 'node:test';
import { gzipSync } from 'node:zlib';
import tar from 'tar-stream';
import { isSluiceError } from '../../../src/errors.ts';
import type { AnalysisNote, LayerRef, PackageReader, ReadContext } from '../../../src/analysis/model.ts';
import { walkLayer } from '../../../src/analysis/walker.ts';

type Entry = {
  name: string;
  body?: string | Buffer;
  type?: tar.Header['type'];
  mode?: number;
  linkname?: string;
  size?: number;
};

async function tarOf(entries: Entry[]): Promise<Buffer> {
  const pack = tar.pack();
  const chunks: Buffer[] = [];
  pack.on('data', (c: unknown) => {
    chunks.push(c as Buffer);
  });
  const done = new Promise<void>((r) => pack.on('end', () => r()));
  for (const e of entries) {
    const header: Partial<tar.Header> & { name: string } = {
      name: e.name,
      type: e.type ?? 'file',
      mode: e.mode ?? 0o644,
    };
    if (e.linkname !== undefined) header.linkname = e.linkname;
    if (e.type === 'file' || e.type === undefined) pack.entry(header, e.body ?? '');
    else pack.entry(header);
  }
  pack.finalize();
  await done;
  return Buffer.concat(chunks);
}

const layer = (mediaType = 'application/vnd.oci.image.layer.v1.tar+gzip'): LayerRef => ({
  index: 0,
  digest: 'sha256:' + 'a'.repeat(64),
  mediaType,
  size: 0,
});

function ctx(): ReadContext & { notes: AnalysisNote[] } {
  const notes: AnalysisNote[] = [];
  return { notes, note: (n) => notes.push(n), tempDir: async () => '/nonexistent' };
}

const fakeReader: PackageReader = {
  name: 'fake',
  wants: (e) => e.path === 'var/lib/fake/db',
  maxBytes: 1024,
  read: async () => [],
};

async function* chunksOf(buf: Buffer): AsyncGenerator<Buffer> {
  for (let i = 0; i < buf.length; i += 64 * 1024) yield buf.subarray(i, i + 64 * 1024);
}

test('wanted files reach the reader; whiteouts and opaque dirs are recorded', async () => {
  const blob = gzipSync(
    await tarOf([
      { name: 'var/lib/fake/db', body: 'pkg a 1.0\n' },
      { name: 'etc/.wh.passwd' },
      { name: 'opt/.wh..wh..opq' },
      { name: 'usr/bin/other', body: 'x' },
    ]),
  );
  const r = await walkLayer(layer(), chunksOf(blob), { readers: [fakeReader], ctx: ctx() });
  assert.equal(r.files.get('fake')?.get('var/lib/fake/db')?.content.toString(), 'pkg a 1.0\n');
  assert.deepEqual(r.whiteouts, ['etc/passwd']);
  assert.deepEqual(r.opaqueDirs, ['opt']);
});

test('path traversal, absolute paths, escaping links and devices are noted and skipped', async () => {
  const c = ctx();
  const blob = await tarOf([
    { name: '../evil', body: 'x' },
    { name: '/abs', body: 'x' },
    { name: 'a/link', type: 'symlink', linkname: '../../etc/shadow' },
    { name: 'a/hard', type: 'link', linkname: '../outside' },
    { name: 'dev/null', type: 'character-device' },
    { name: 'dup', body: '1' },
    { name: 'dup', body: '2' },
  ]);
  const r = await walkLayer(layer('application/vnd.oci.image.layer.v1.tar'), chunksOf(blob), { readers: [], ctx: c });
  const codes = r.notes.map((n) => n.code).sort();
  assert.deepEqual(codes, [
    'DUPLICATE_ENTRY',
    'LINK_ESCAPES_ROOT',
    'LINK_ESCAPES_ROOT',
    'PATH_UNSAFE',
    'PATH_UNSAFE',
    'SPECIAL_FILE',
  ]);
});

test('entry count, total size, compression ratio, truncation and bad gzip are refused naming the layer', async () => {
  const many = await tarOf(Array.from({ length: 20 }, (_, i) => ({ name: `f${i}`, body: 'x' })));
  await assert.rejects(
    walkLayer(layer('application/vnd.oci.image.layer.v1.tar'), chunksOf(many), {
      readers: [],
      ctx: ctx(),
      limits: { maxEntries: 10 },
    }),
    (e) => isSluiceError(e, 'LAYER_TOO_MANY_ENTRIES') && e.message.includes('a'.repeat(64)),
  );
  const bomb = gzipSync(await tarOf([{ name: 'zeros', body: Buffer.alloc(20 * 1024 * 1024) }]));
  await assert.rejects(
    walkLayer(layer(), chunksOf(bomb), { readers: [], ctx: ctx(), limits: { ratioGraceBytes: 1024 * 1024 } }),
    (e) => isSluiceError(e, 'LAYER_COMPRESSION_RATIO'),
  );
  await assert.rejects(
    walkLayer(layer(), chunksOf(bomb), { readers: [], ctx: ctx(), limits: { maxUncompressedBytes: 1024 * 1024 } }),
    (e) => isSluiceError(e, 'LAYER_TOO_LARGE'),
  );
  const whole = gzipSync(await tarOf([{ name: 'f', body: Buffer.alloc(100_000, 7) }]));
  await assert.rejects(
    walkLayer(layer(), chunksOf(whole.subarray(0, whole.length / 2)), { readers: [], ctx: ctx() }),
    (e) => isSluiceError(e) && /LAYER_(TRUNCATED|CORRUPT)/.test(e.code),
  );
  const bad = Buffer.concat([Buffer.from([0x1f, 0x8b]), Buffer.alloc(600, 9)]);
  await assert.rejects(walkLayer(layer(), chunksOf(bad), { readers: [], ctx: ctx() }), (e) =>
    isSluiceError(e, 'LAYER_CORRUPT'),
  );
  await assert.rejects(
    walkLayer(layer('application/vnd.oci.image.layer.v1.tar'), chunksOf(Buffer.alloc(1024, 65)), {
      readers: [],
      ctx: ctx(),
    }),
    (e) => isSluiceError(e, 'LAYER_NOT_TAR'),
  );
});

test('an oversize wanted file is noted, not buffered', async () => {
  const blob = await tarOf([{ name: 'var/lib/fake/db', body: Buffer.alloc(4096, 65) }]);
  const r = await walkLayer(layer('application/vnd.oci.image.layer.v1.tar'), chunksOf(blob), {
    readers: [fakeReader],
    ctx: ctx(),
    secrets: false,
  });
  assert.equal(r.files.get('fake'), undefined);
  assert.equal(r.notes[0]?.code, 'FILE_TOO_LARGE');
});

test('secrets are found with rule, path and line, and the value never appears in the result', async () => {
  const key = 'AKIA' + 'QWERTYUIOPASDFGH';
  const blob = await tarOf([{ name: 'app/.env', body: `A=1\nAWS_KEY=${key}\n` }]);
  const r = await walkLayer(layer('application/vnd.oci.image.layer.v1.tar'), chunksOf(blob), {
    readers: [],
    ctx: ctx(),
  });
  assert.equal(r.secrets.length, 1);
  assert.equal(r.secrets[0]!.rule, 'aws-access-key-id');
  assert.equal(r.secrets[0]!.path, 'app/.env');
  assert.equal(r.secrets[0]!.line, 2);
  assert.ok(!JSON.stringify(r.secrets).includes(key));
  assert.ok(!JSON.stringify(r.secrets).includes(key.slice(4)));
});

test('setuid files and world-writable directories are facts', async () => {
  const blob = await tarOf([
    { name: 'usr/bin/su', body: 'x', mode: 0o4755 },
    { name: 'tmp2', type: 'directory', mode: 0o777 },
    { name: 'tmp', type: 'directory', mode: 0o1777 },
  ]);
  const r = await walkLayer(layer('application/vnd.oci.image.layer.v1.tar'), chunksOf(blob), {
    readers: [],
    ctx: ctx(),
  });
  assert.deepEqual(r.facts.setuid, ['usr/bin/su']);
  assert.deepEqual(r.facts.worldWritableDirs, ['tmp2']);
});

test('a package database deleted by an upper layer does not count, secrets from it still do', async () => {
  const { mergeLayers } = await import('../../../src/analysis/merge.ts');
  const seen: string[] = [];
  const reader: PackageReader = {
    ...fakeReader,
    read: async (files) => {
      seen.push(...files.keys());
      return [];
    },
  };
  const key = 'ghp_' + 'a1B2c3D4e5F6g7H8i9J0k1L2m3N4o5P6q7R8';
  const l0 = await walkLayer(
    layer('application/vnd.oci.image.layer.v1.tar'),
    chunksOf(await tarOf([{ name: 'var/lib/fake/db', body: `token ${key}\n` }])),
    { readers: [reader], ctx: ctx() },
  );
  const l1 = await walkLayer(
    { ...layer('application/vnd.oci.image.layer.v1.tar'), index: 1, digest: 'sha256:' + 'b'.repeat(64) },
    chunksOf(await tarOf([{ name: 'var/lib/fake/.wh.db' }])),
    { readers: [reader], ctx: ctx() },
  );
  const merged = await mergeLayers([l0, l1], [reader], ctx());
  assert.deepEqual(seen, []);
  assert.equal(merged.secrets.length, 1);
  assert.equal(merged.secrets[0]!.layerIndex, 0);
  assert.ok(!JSON.stringify(merged.secrets).includes(key));
  const kept = await mergeLayers([l0], [reader], ctx());
  assert.equal(kept.secrets.length, 1);
  assert.deepEqual(seen, ['var/lib/fake/db']);
});
