import assert from 'node:assert/strict';
import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import { after, before, describe, it } from 'node:test';
import { rpmReader } from '../../../../src/analysis/packages/rpm/index.ts';
import { readFiles, readTree } from '../../../helpers/package-tree.ts';
import { makeTempDir, removeTempDir, run } from '../../../helpers/proc.ts';

let work: string;
before(async () => {
  work = await makeTempDir('rpmdb');
});
after(async () => {
  await removeTempDir(work);
});

async function buildRpm(name: string, version: string, release: string, epoch?: number): Promise<string> {
  const top = path.join(work, `build-${name}`);
  await mkdir(path.join(top, 'SPECS'), { recursive: true });
  const spec = path.join(top, 'SPECS', `${name}.spec`);
  await writeFile(
    spec,
    [
      `Name: ${name}`,
      `Version: ${version}`,
      `Release: ${release}`,
      ...(epoch === undefined ? [] : [`Epoch: ${epoch}`]),
      'Summary: a package for the rpm reader test',
      'License: Apache-2.0',
      'BuildArch: noarch',
      '%description',
      'Empty.',
      '%files',
      '',
    ].join('\n'),
  );
  await run('rpmbuild', ['--define', `_topdir ${top}`, '-bb', spec]);
  return path.join(top, 'RPMS', 'noarch', `${name}-${version}-${release}.noarch.rpm`);
}

describe('rpm reader against rpm -qa', () => {
  it('reads an rpmdb.sqlite written by rpm itself, WAL included', async () => {
    const root = path.join(work, 'root');
    const dbpath = path.join(root, 'var/lib/rpm');
    await mkdir(dbpath, { recursive: true });
    await run('rpm', ['--dbpath', dbpath, '--initdb']);
    const rpms = [await buildRpm('sluice-hello', '1.2.3', '4.el9', 2), await buildRpm('sluice-world', '0.1', '1')];
    await run('rpm', ['--dbpath', dbpath, '-i', '--nodeps', '--justdb', '--ignoreos', ...rpms]);
    const expected = (
      await run('rpm', [
        '-qa',
        '--dbpath',
        dbpath,
        '--qf',
        '%{NAME} %|EPOCH?{%{EPOCH}:}:{}|%{VERSION}-%{RELEASE} %{SOURCERPM} %{ARCH}\n',
      ])
    ).stdout
      .toString('utf8')
      .trim()
      .split('\n')
      .sort();
    assert.equal(expected.length, 2);

    const os = { id: 'rhel', versionId: '9.4' };
    const { packages, notes } = await readTree(rpmReader, root, { under: ['var/lib/rpm'], os });
    assert.deepEqual(notes, []);
    assert.deepEqual(
      packages.map((p) => `${p.name} ${p.version} ${p.source?.name}-${p.source?.version}.src.rpm ${p.arch}`).sort(),
      expected,
    );
    assert.deepEqual(packages.map((p) => p.purl).sort(), [
      'pkg:rpm/rhel/sluice-hello@1.2.3-4.el9?arch=noarch&distro=rhel-9.4&epoch=2',
      'pkg:rpm/rhel/sluice-world@0.1-1?arch=noarch&distro=rhel-9.4',
    ]);
  });

  it('says a Berkeley DB or NDB database is not read, and names a database that is not SQLite', async () => {
    const { packages, notes } = await readFiles(rpmReader, {
      'var/lib/rpm/Packages': Buffer.alloc(4096),
      'usr/lib/sysimage/rpm/Packages.db': Buffer.alloc(4096),
      'usr/lib/sysimage/rpm/rpmdb.sqlite': 'this is not a database, whatever its name says',
    });
    assert.deepEqual(packages, []);
    assert.deepEqual(
      notes.map((n) => n.code),
      ['RPMDB_UNSUPPORTED', 'RPMDB_UNSUPPORTED', 'PACKAGE_RECORD_MALFORMED'],
    );
    assert.match(notes[0]!.message, /^usr\/lib\/sysimage\/rpm\/Packages\.db: an rpm database in the NDB format/);
    assert.match(notes[1]!.message, /^var\/lib\/rpm\/Packages: an rpm database in the Berkeley DB format/);
    assert.match(notes[2]!.message, /^usr\/lib\/sysimage\/rpm\/rpmdb\.sqlite:1: rpm database not readable/);
  });

  it('names the row of a header blob that lies about its sizes, and reads the others', async () => {
    const root = path.join(work, 'hostile');
    const dbpath = path.join(root, 'var/lib/rpm');
    await mkdir(dbpath, { recursive: true });
    await run('rpm', ['--dbpath', dbpath, '--initdb']);
    await run('rpm', [
      '--dbpath',
      dbpath,
      '-i',
      '--nodeps',
      '--justdb',
      '--ignoreos',
      await buildRpm('sluice-ok', '1', '1'),
    ]);
    const db = new DatabaseSync(path.join(dbpath, 'rpmdb.sqlite'));
    const lying = Buffer.alloc(64);
    lying.writeUInt32BE(3, 0); // three index entries...
    lying.writeUInt32BE(0x7fffffff, 4); // ...and 2 GiB of data in a 64-byte blob
    db.prepare('INSERT INTO Packages (hnum, blob) VALUES (?, ?)').run(1000, lying);
    db.prepare('INSERT INTO Packages (hnum, blob) VALUES (?, ?)').run(1001, Buffer.from([0, 0]));
    db.close();
    const { packages, notes } = await readTree(rpmReader, root, { under: ['var/lib/rpm'] });
    assert.deepEqual(
      packages.map((p) => p.name),
      ['sluice-ok'],
    );
    assert.deepEqual(
      notes.map((n) => n.message),
      [
        'var/lib/rpm/rpmdb.sqlite: package row 1000: rpm header: 2147483647 bytes of data',
        'var/lib/rpm/rpmdb.sqlite: package row 1001: rpm header: blob shorter than a header preamble',
      ],
    );
  });
});
