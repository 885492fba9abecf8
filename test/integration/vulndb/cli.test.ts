/**
 * `sluice db update` and `sluice db status` end to end: the published records of
 * test/fixtures/osv imported into the store of a fresh policy, then the status read back.
 */
import assert from 'node:assert/strict';
import { cp, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { runCli } from '../../helpers/cli.ts';
import { makeTempDir, removeTempDir } from '../../helpers/proc.ts';

const FIXTURES = path.resolve(import.meta.dirname, '../../fixtures/osv');

let dir: string;
let policy: string;
before(async () => {
  dir = await makeTempDir('sluice-db-cli-');
  policy = path.join(dir, 'sluice.yaml');
  const init = await runCli(['init', policy]);
  assert.equal(init.code, 0, init.stderr);
});
after(async () => {
  if (dir) await removeTempDir(dir);
});

interface Status {
  records: number;
  withdrawn: number;
  ecosystems: Record<string, number>;
  lastImport?: { source: string; added: number; updated: number; unchanged: number; finishedAt: number };
}

describe('sluice db', () => {
  test('update imports a directory of OSV records and status reports them as JSON', async () => {
    const empty = await runCli(['-c', policy, 'db', 'status', '-o', 'json']);
    assert.equal(empty.code, 0, empty.stderr);
    assert.deepEqual(JSON.parse(empty.stdout), { records: 0, withdrawn: 0, ecosystems: {} });

    const update = await runCli(['-c', policy, 'db', 'update', '--source', FIXTURES, '-o', 'json']);
    assert.equal(update.code, 0, update.stderr);
    assert.deepEqual(JSON.parse(update.stdout), { source: FIXTURES, added: 4, updated: 0, unchanged: 0 });

    const status = await runCli(['-c', policy, 'db', 'status', '-o', 'json']);
    assert.equal(status.code, 0, status.stderr);
    const s = JSON.parse(status.stdout) as Status;
    assert.equal(s.records, 4);
    assert.equal(s.withdrawn, 0);
    assert.deepEqual(s.ecosystems, { npm: 4 });
    assert.equal(s.lastImport?.source, FIXTURES);
    assert.equal(s.lastImport?.added, 4);
    assert.ok(Math.abs(Date.now() - s.lastImport.finishedAt) < 10 * 60_000, 'finished just now');

    // A second import of the same records writes nothing.
    const again = await runCli(['-c', policy, 'db', 'update', '--source', FIXTURES, '-o', 'json']);
    assert.equal(again.code, 0, again.stderr);
    assert.deepEqual(JSON.parse(again.stdout), { source: FIXTURES, added: 0, updated: 0, unchanged: 4 });

    const table = await runCli(['-c', policy, 'db', 'status']);
    assert.equal(table.code, 0, table.stderr);
    assert.match(table.stdout, /^Records: +4 \(0 withdrawn\)$/m);
    assert.match(table.stdout, /^npm +4$/m);
  });

  test('a record that breaks the OSV schema is refused, naming the file and the field', async () => {
    const source = path.join(dir, 'bad');
    await cp(FIXTURES, source, { recursive: true });
    const file = path.join(source, 'GHSA-35jh-r3h4-6jhm.json');
    const record = JSON.parse(await readFile(file, 'utf8')) as { affected: Array<{ ranges: Array<{ type: string }> }> };
    // The schema's range types are GIT, SEMVER and ECOSYSTEM; the hand-written checks accept any.
    record.affected[0]!.ranges[0]!.type = 'CALVER';
    await writeFile(file, JSON.stringify(record));

    const r = await runCli(['-c', policy, 'db', 'update', '--source', source, '-o', 'json']);
    assert.equal(r.code, 2, r.stdout);
    const err = (JSON.parse(r.stderr) as { error: Record<string, string> }).error;
    assert.equal(err.code, 'OSV_RECORD_INVALID');
    assert.equal(err.source, 'GHSA-35jh-r3h4-6jhm.json');
    assert.equal(err.field, 'affected[0].ranges[0].type');
    assert.match(err.message ?? '', /^GHSA-35jh-r3h4-6jhm\.json: affected\[0\]\.ranges\[0\]\.type: OSV schema: /);

    const text = await runCli(['-c', policy, 'db', 'update', '--source', source]);
    assert.equal(text.code, 2);
    assert.match(text.stderr, /error: GHSA-35jh-r3h4-6jhm\.json: affected\[0\]\.ranges\[0\]\.type: OSV schema: /);
  });

  test('a source that is not there is refused before anything is imported', async () => {
    const r = await runCli(['-c', policy, 'db', 'update', '--source', path.join(dir, 'missing'), '-o', 'json']);
    assert.equal(r.code, 2);
    assert.equal((JSON.parse(r.stderr) as { error: { code: string } }).error.code, 'OSV_SOURCE_INVALID');
  });
});
