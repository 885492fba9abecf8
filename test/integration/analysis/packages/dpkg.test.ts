import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { describe, it } from 'node:test';
import { dpkgReader } from '../../../../src/analysis/packages/dpkg/index.ts';
import { osReleaseReader } from '../../../../src/analysis/packages/index.ts';
import { TREE_LAYER, debootstrapRootfs, readFiles, readTree } from '../../../helpers/package-tree.ts';
import { run } from '../../../helpers/proc.ts';

/** What dpkg itself says is installed in an admin directory, as "name version" lines. */
async function dpkgQuery(admindir: string): Promise<string[]> {
  const { stdout } = await run('dpkg-query', [
    `--admindir=${admindir}`,
    '-W',
    '-f',
    '${db:Status-Status} ${Package} ${Version} ${source:Package} ${source:Version}\n',
  ]);
  return stdout
    .toString('utf8')
    .split('\n')
    .filter((line) => line.startsWith('installed '))
    .map((line) => line.slice('installed '.length))
    .sort();
}

describe('dpkg reader against dpkg-query', () => {
  it('reports every installed package of a debootstrapped Debian, with its source package and version', async (t) => {
    let root = await debootstrapRootfs();
    if (!root) {
      t.diagnostic('debootstrap could not run here: comparing with the machine’s own dpkg database');
      root = '/';
    }
    const osFile = await readFile(path.join(root, 'usr/lib/os-release'));
    const os = osReleaseReader.read(
      new Map([
        [
          'usr/lib/os-release',
          { path: 'usr/lib/os-release', size: osFile.length, mode: 0o644, layer: TREE_LAYER, content: osFile },
        ],
      ]),
      { note: () => assert.fail('no note expected') },
    );
    assert.equal(os?.id, 'debian');

    const { packages, notes } = await readTree(dpkgReader, root, { under: ['var/lib/dpkg'], ...(os ? { os } : {}) });
    assert.deepEqual(notes, []);
    const expected = await dpkgQuery(path.join(root, 'var/lib/dpkg'));
    assert.ok(expected.length > 50, `only ${expected.length} packages from dpkg-query`);
    const actual = packages.map((p) => `${p.name} ${p.version} ${p.source?.name} ${p.source?.version}`).sort();
    assert.deepEqual(actual, expected);
    const libc = packages.find((p) => p.name === 'libc6');
    assert.ok(libc, 'libc6 is in every Debian');
    assert.equal(libc.source?.name, 'glibc');
    assert.equal(libc.purl, `pkg:deb/debian/libc6@${libc.version}?arch=${libc.arch}&distro=debian-${os?.versionId}`);
  });

  it('reads distroless status.d files, skips their md5sums and removed packages, and names the line of a bad record', async () => {
    const { packages, notes } = await readFiles(dpkgReader, {
      'var/lib/dpkg/status.d/base-files': 'Package: base-files\nVersion: 12.4+deb12u5\nArchitecture: amd64\n',
      'var/lib/dpkg/status.d/base-files.md5sums': 'd41d8cd98f00b204e9800998ecf8427e  etc/issue\n',
      'var/lib/dpkg/status.d/libssl3':
        'Package: libssl3\nSource: openssl (3.0.13-1~deb12u1)\nVersion: 3.0.13-1~deb12u1\n',
      'var/lib/dpkg/status': [
        'Package: gone',
        'Status: deinstall ok config-files',
        'Version: 1.0',
        '',
        'Package: tzdata',
        'Status: install ok installed',
        'Version: 2024a-0+deb12u1',
        'Description: time zone data',
        ' continued',
        '',
        'this line is garbage',
        'Version: 1',
        '',
      ].join('\n'),
    });
    assert.deepEqual(
      packages.map((p) => [p.name, p.version, p.source?.name, p.source?.version]),
      [
        ['tzdata', '2024a-0+deb12u1', 'tzdata', '2024a-0+deb12u1'],
        ['base-files', '12.4+deb12u5', 'base-files', '12.4+deb12u5'],
        ['libssl3', '3.0.13-1~deb12u1', 'openssl', '3.0.13-1~deb12u1'],
      ],
    );
    assert.deepEqual(
      notes.map((n) => n.message),
      [
        'var/lib/dpkg/status:11: line is neither "Field: value" nor a continuation',
        'var/lib/dpkg/status:12: record without Package',
      ],
    );
  });
});
