import assert from 'node:assert/strict';
import path from 'node:path';
import { describe, it } from 'node:test';
import { apkReader } from '../../../../src/analysis/packages/apk/index.ts';
import { readFiles, readTree } from '../../../helpers/package-tree.ts';

const FIXTURE = path.join(import.meta.dirname, '../../../fixtures/apk');

describe('apk reader', () => {
  it('reads the installed database with origin, licence and the distro qualifier', async () => {
    const { packages, notes } = await readTree(apkReader, FIXTURE, {
      under: ['lib'],
      os: { id: 'alpine', versionId: '3.20.3' },
    });
    assert.deepEqual(notes, []);
    assert.deepEqual(
      packages.map((p) => [p.name, p.version, p.arch, p.source, p.licenses, p.purl]),
      [
        [
          'musl',
          '1.2.5-r0',
          'x86_64',
          { name: 'musl', version: '1.2.5-r0' },
          ['MIT'],
          'pkg:apk/alpine/musl@1.2.5-r0?arch=x86_64&distro=alpine-3.20.3',
        ],
        [
          'ssl_client',
          '1.36.1-r29',
          'x86_64',
          { name: 'busybox', version: '1.36.1-r29' },
          ['GPL-2.0-only'],
          'pkg:apk/alpine/ssl_client@1.36.1-r29?arch=x86_64&distro=alpine-3.20.3',
        ],
      ],
    );
  });

  it('names the line of a record without a version and of a line that is not a field', async () => {
    const { packages, notes } = await readFiles(apkReader, {
      'lib/apk/db/installed': 'P:nover\nA:x86_64\n\nP:ok\nV:1-r0\ngarbage\n',
    });
    assert.deepEqual(
      packages.map((p) => p.name),
      ['ok'],
    );
    assert.deepEqual(
      notes.map((n) => n.message),
      [
        'lib/apk/db/installed:6: line is neither "Field: value" nor a continuation',
        'lib/apk/db/installed:1: record without V: (version)',
      ],
    );
  });
});
