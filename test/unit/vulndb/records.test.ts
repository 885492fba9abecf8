import assert from 'node:assert/strict';
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { InstalledPackage } from '../../../src/analysis/model.ts';
import { importDirectory } from '../../../src/vulndb/import.ts';
import { matchPackages } from '../../../src/vulndb/match.ts';
import { databaseStatus, recordsByAlias, storeRecords } from '../../../src/vulndb/records.ts';
import { forEachEngine } from '../../helpers/db.ts';

const FIXTURES = join(import.meta.dirname, '../../fixtures/osv');
const layer = {
  index: 0,
  digest: `sha256:${'0'.repeat(64)}`,
  mediaType: 'application/vnd.oci.image.layer.v1.tar',
  size: 1,
};
const npm = (name: string, version: string): InstalledPackage => ({
  ecosystem: 'npm',
  name,
  version,
  purl: `pkg:npm/${name}@${version}`,
  path: `node_modules/${name}/package.json`,
  layer,
});

forEachEngine('OSV import is incremental and matching reads the index', async ({ store, t }) => {
  const dir = mkdtempSync(join(tmpdir(), 'sluice-osv-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  cpSync(FIXTURES, join(dir, 'npm'), { recursive: true, filter: (src) => !src.endsWith('README.md') });

  const first = await importDirectory(store, dir);
  assert.deepEqual([first.added, first.updated, first.unchanged], [4, 0, 0]);
  const again = await importDirectory(store, dir);
  assert.deepEqual([again.added, again.updated, again.unchanged], [0, 0, 4]);

  const { findings } = await matchPackages({ records: storeRecords(store) }, [
    npm('lodash', '4.17.15'),
    npm('minimist', '1.2.0'),
  ]);
  assert.deepEqual(findings.map((f) => f.id).sort(), [
    'GHSA-35jh-r3h4-6jhm',
    'GHSA-p6mc-m468-83gw',
    'GHSA-vh95-rmgr-6w4m',
    'GHSA-xvch-5gv4-984h',
  ]);
  assert.deepEqual(await recordsByAlias(store, 'CVE-2021-44906'), ['GHSA-xvch-5gv4-984h']);

  // A changed record (new modified) replaces the stored one; a withdrawn one stops matching.
  const file = join(dir, 'npm', 'GHSA-p6mc-m468-83gw.json');
  const raw = JSON.parse(readFileSync(file, 'utf8'));
  writeFileSync(file, JSON.stringify({ ...raw, modified: '2025-01-01T00:00:00Z', withdrawn: '2025-01-01T00:00:00Z' }));
  const third = await importDirectory(store, dir);
  assert.deepEqual([third.added, third.updated, third.unchanged], [0, 1, 3]);
  const after = await matchPackages({ records: storeRecords(store) }, [npm('lodash', '4.17.15')]);
  assert.deepEqual(
    after.findings.map((f) => f.id),
    ['GHSA-35jh-r3h4-6jhm'],
  );

  const status = await databaseStatus(store);
  assert.equal(status.records, 4);
  assert.equal(status.withdrawn, 1);
  assert.deepEqual(status.ecosystems, { npm: 4 });
  assert.equal(status.lastImport?.source, dir);
  assert.equal(status.lastImport?.updated, 1);
});

forEachEngine('an invalid record file stops the import naming the file and field', async ({ store, t }) => {
  const dir = mkdtempSync(join(tmpdir(), 'sluice-osv-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  writeFileSync(join(dir, 'BAD-1.json'), JSON.stringify({ id: 'BAD-1', modified: 'soon' }));
  await assert.rejects(importDirectory(store, dir), /BAD-1\.json: modified: must be an RFC 3339/);
  await assert.rejects(importDirectory(store, join(dir, 'missing')), /is not a directory of OSV records/);
});
