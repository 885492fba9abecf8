import assert from 'node:assert/strict';
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import type { InstalledPackage } from '../../../src/analysis/model.ts';
import { ecosystemCovers, osvKeyOf } from '../../../src/vulndb/ecosystems.ts';
import { MemoryRecords, matchPackages } from '../../../src/vulndb/match.ts';
import { parseRecord } from '../../../src/vulndb/record.ts';

const FIXTURES = join(import.meta.dirname, '../../fixtures/osv');
const layer = {
  index: 0,
  digest: `sha256:${'0'.repeat(64)}`,
  mediaType: 'application/vnd.oci.image.layer.v1.tar+gzip',
  size: 1,
};

function npm(name: string, version: string): InstalledPackage {
  return {
    ecosystem: 'npm',
    name,
    version,
    purl: `pkg:npm/${name}@${version}`,
    path: `node_modules/${name}/package.json`,
    layer,
  };
}

function fixtureRecords(): MemoryRecords {
  const records = new MemoryRecords();
  for (const file of readdirSync(FIXTURES).filter((f) => f.endsWith('.json'))) {
    records.add(parseRecord(readFileSync(join(FIXTURES, file)), file));
  }
  return records;
}

test('lodash 4.17.15 and minimist 1.2.0 match exactly the published GHSA records whose ranges hold them', async () => {
  const { findings } = await matchPackages({ records: fixtureRecords() }, [
    npm('lodash', '4.17.15'),
    npm('minimist', '1.2.0'),
  ]);
  const got = findings
    .map((f) => `${f.package.name} ${f.id} ${f.aliases.join(',')} fixed=${f.fixed} ${f.databaseSeverity}`)
    .sort();
  assert.deepEqual(got, [
    'lodash GHSA-35jh-r3h4-6jhm CVE-2021-23337 fixed=4.17.21 HIGH',
    'lodash GHSA-p6mc-m468-83gw CVE-2020-8203 fixed=4.17.20 HIGH',
    'minimist GHSA-vh95-rmgr-6w4m CVE-2020-7598 fixed=1.2.3 MODERATE',
    'minimist GHSA-xvch-5gv4-984h CVE-2021-44906 fixed=1.2.6 CRITICAL',
  ]);
  const xvch = findings.find((f) => f.id === 'GHSA-xvch-5gv4-984h')!;
  assert.deepEqual(xvch.severity, [{ type: 'CVSS_V3', score: 'CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H' }]);
  assert.equal(xvch.affected.index, 0);
  assert.deepEqual(xvch.affected.match, {
    by: 'range',
    range: 0,
    type: 'ECOSYSTEM',
    introduced: '1.0.0',
    fixed: '1.2.6',
  });
});

test('fixed versions and other branches do not match', async () => {
  const records = fixtureRecords();
  const cases: Array<[string, string, string[]]> = [
    ['lodash', '4.17.20', ['GHSA-35jh-r3h4-6jhm']],
    ['lodash', '4.17.21', []],
    ['minimist', '1.2.3', ['GHSA-xvch-5gv4-984h']],
    ['minimist', '1.2.6', []],
    // The 0.x branch: fixed in 0.2.1 and 0.2.4.
    ['minimist', '0.2.1', ['GHSA-xvch-5gv4-984h']],
    ['minimist', '0.2.4', []],
    ['lodash-es', '4.17.15', ['GHSA-35jh-r3h4-6jhm', 'GHSA-p6mc-m468-83gw']],
    ['left-pad', '1.0.0', []],
  ];
  for (const [name, version, ids] of cases) {
    const { findings } = await matchPackages({ records }, [npm(name, version)]);
    assert.deepEqual(findings.map((f) => f.id).sort(), ids, `${name}@${version}`);
  }
});

test('a withdrawn record no longer matches', async () => {
  const raw = JSON.parse(readFileSync(join(FIXTURES, 'GHSA-p6mc-m468-83gw.json'), 'utf8'));
  const records = new MemoryRecords();
  records.add(parseRecord(JSON.stringify({ ...raw, withdrawn: '2024-01-01T00:00:00Z' }), 'w.json'));
  const { findings } = await matchPackages({ records }, [npm('lodash', '4.17.15')]);
  assert.deepEqual(findings, []);
});

test('a Debian package matches a DSA-style record by its source package and source version', async () => {
  const records = new MemoryRecords();
  records.add(
    parseRecord(
      JSON.stringify({
        id: 'DSA-5000-1',
        modified: '2024-01-01T00:00:00Z',
        aliases: ['CVE-2099-0001'],
        affected: [
          {
            package: { ecosystem: 'Debian:12', name: 'openssl' },
            ranges: [{ type: 'ECOSYSTEM', events: [{ introduced: '0' }, { fixed: '3.0.11-1~deb12u2' }] }],
          },
        ],
      }),
      'DSA-5000-1.json',
    ),
  );
  const deb = (version: string, distro: string): InstalledPackage => ({
    ecosystem: 'deb',
    name: 'libssl3',
    version,
    source: { name: 'openssl', version },
    purl: `pkg:deb/debian/libssl3@${version}?arch=amd64&distro=${distro}`,
    path: 'var/lib/dpkg/status',
    layer,
  });
  assert.deepEqual(osvKeyOf(deb('3.0.11-1~deb12u1', 'debian-12.5')), { ecosystem: 'Debian:12', name: 'openssl' });
  const hit = await matchPackages({ records }, [deb('3.0.11-1~deb12u1', 'debian-12.5')]);
  assert.deepEqual(
    hit.findings.map((f) => [f.id, f.fixed]),
    [['DSA-5000-1', '3.0.11-1~deb12u2']],
  );
  // dpkg orders ~deb12u2 above ~deb12u1 and below the plain revision.
  assert.equal((await matchPackages({ records }, [deb('3.0.11-1~deb12u2', 'debian-12.5')])).findings.length, 0);
  assert.equal((await matchPackages({ records }, [deb('3.0.11-1~deb12u1', 'debian-11')])).findings.length, 0);
});

test('ecosystem mapping covers distribution releases', () => {
  assert.equal(ecosystemCovers('Ubuntu:22.04:LTS', 'Ubuntu:22.04'), true);
  assert.equal(ecosystemCovers('Debian', 'Debian:12'), true);
  assert.equal(ecosystemCovers('Debian:11', 'Debian:12'), false);
  const apk: InstalledPackage = {
    ecosystem: 'apk',
    name: 'libcrypto3',
    version: '3.3.2-r0',
    source: { name: 'openssl', version: '3.3.2-r0' },
    purl: 'pkg:apk/alpine/libcrypto3@3.3.2-r0?arch=x86_64&distro=alpine-3.20.3',
    path: 'lib/apk/db/installed',
    layer,
  };
  assert.deepEqual(osvKeyOf(apk), { ecosystem: 'Alpine:v3.20', name: 'openssl' });
  const py: InstalledPackage = {
    ecosystem: 'pypi',
    name: 'Django_Rest',
    version: '1.0',
    purl: 'pkg:pypi/django-rest@1.0',
    path: 'x',
    layer,
  };
  assert.deepEqual(osvKeyOf(py), { ecosystem: 'PyPI', name: 'django-rest' });
});

test('invalid records are refused naming the file and the field', () => {
  const base = { id: 'X-1', modified: '2024-01-01T00:00:00Z' };
  const bad: Array<[unknown, RegExp]> = [
    [{ ...base, modified: 'yesterday' }, /^a\.json: modified: /],
    [{ ...base, affected: [{ package: { ecosystem: 'npm' } }] }, /^a\.json: affected\[0\]\.package\.name: /],
    [
      {
        ...base,
        affected: [
          { package: { ecosystem: 'npm', name: 'x' }, ranges: [{ type: 'SEMVER', events: [{ fixed: '1.0.0' }] }] },
        ],
      },
      /^a\.json: affected\[0\]\.ranges\[0\]\.events: has no "introduced"/,
    ],
    [
      {
        ...base,
        affected: [
          {
            package: { ecosystem: 'npm', name: 'x' },
            ranges: [{ type: 'SEMVER', events: [{ introduced: '0', fixed: '1' }] }],
          },
        ],
      },
      /events\[0\]: must have exactly one/,
    ],
    [{ ...base, aliases: new Array(1001).fill('CVE-1') }, /aliases: more than 1000 entries/],
  ];
  for (const [record, message] of bad) {
    assert.throws(
      () => parseRecord(JSON.stringify(record), 'a.json'),
      (err: Error & { code?: string }) => {
        assert.equal(err.code, 'OSV_RECORD_INVALID');
        assert.match(err.message, message);
        return true;
      },
    );
  }
  assert.throws(() => parseRecord('{', 'b.json'), /b\.json: \(record\): not valid JSON/);
  assert.throws(() => parseRecord(Buffer.alloc(5 * 1024 * 1024, 0x20), 'big.json'), /more than the 4194304 allowed/);
});

test('a distribution named like an Object.prototype member maps to no OSV ecosystem', () => {
  for (const id of ['constructor', 'tostring', '__proto__', 'hasownproperty']) {
    const pkg = (ecosystem: 'deb' | 'rpm', purl: string): InstalledPackage => ({
      ecosystem,
      name: 'openssl',
      version: '1.0-1',
      purl,
      path: 'var/lib/dpkg/status',
      layer,
    });
    // The image says which distribution it is; a hostile one must not pick a table's method.
    assert.equal(osvKeyOf(pkg('rpm', `pkg:rpm/${id}/openssl@1.0-1?distro=${id}-9`)), undefined, id);
    assert.equal(osvKeyOf(pkg('rpm', `pkg:rpm/${id}/openssl@1.0-1`)), undefined, id);
    assert.deepEqual(osvKeyOf(pkg('deb', `pkg:deb/${id}/openssl@1.0-1?distro=${id}-12`)), {
      ecosystem: 'Debian',
      name: 'openssl',
    });
  }
});
