import assert from 'node:assert/strict';
import { once } from 'node:events';
import { createWriteStream, mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import yazl from 'yazl';
import { databaseStatus, recordsByAlias } from '../../../src/vulndb/records.ts';
import { importUrl, importZip } from '../../../src/vulndb/zip.ts';
import { forEachEngine } from '../../helpers/db.ts';

const FIXTURES = join(import.meta.dirname, '../../fixtures/osv');

async function writeZip(file: string, entries: Array<[string, Buffer]>): Promise<void> {
  const zip = new yazl.ZipFile();
  for (const [name, data] of entries) zip.addBuffer(data, name);
  zip.end();
  await pipeline(zip.outputStream, createWriteStream(file));
}

const fixtureEntries = (): Array<[string, Buffer]> =>
  readdirSync(FIXTURES)
    .filter((f) => f.endsWith('.json'))
    .map((f) => [f, readFileSync(join(FIXTURES, f))]);

forEachEngine('an all.zip-style zip imports, also over http', async ({ store, t }) => {
  const dir = mkdtempSync(join(tmpdir(), 'sluice-osvzip-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const file = join(dir, 'all.zip');
  await writeZip(file, fixtureEntries());
  const result = await importZip(store, file);
  assert.deepEqual([result.added, result.unchanged], [4, 0]);
  assert.deepEqual(await recordsByAlias(store, 'CVE-2020-8203'), ['GHSA-p6mc-m468-83gw']);

  const server = createServer((req, res) => {
    if (req.url === '/npm/all.zip') res.end(readFileSync(file));
    else res.writeHead(404).end();
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  t.after(() => server.close());
  const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const again = await importUrl(store, new URL(`${base}/npm/all.zip`));
  assert.deepEqual([again.added, again.unchanged], [0, 4]);
  assert.equal((await databaseStatus(store)).lastImport?.source, `${base}/npm/all.zip`);
  await assert.rejects(importUrl(store, new URL(`${base}/missing.zip`)), /answered HTTP 404/);
});

forEachEngine('hostile zips are refused with the entry named', async ({ store, t }) => {
  const dir = mkdtempSync(join(tmpdir(), 'sluice-osvzip-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const big = join(dir, 'big.zip');
  await writeZip(big, [['BIG-1.json', Buffer.alloc(5 * 1024 * 1024, 0x20)]]);
  await assert.rejects(importZip(store, big), /BIG-1\.json: \d+ bytes, more than the 4194304/);
  const bomb = join(dir, 'bomb.zip');
  await writeZip(bomb, [['BOMB-1.json', Buffer.alloc(3 * 1024 * 1024, 0x20)]]);
  await assert.rejects(importZip(store, bomb), /BOMB-1\.json: compression ratio above 200:1/);
  const notZip = join(dir, 'not.zip');
  await pipeline(async function* () {
    yield Buffer.from('not a zip at all');
  }, createWriteStream(notZip));
  await assert.rejects(importZip(store, notZip), /not\.zip: not a readable zip/);
  assert.equal((await databaseStatus(store)).records, 0);
});
