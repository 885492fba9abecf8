import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { pythonReader } from '../../../../src/analysis/packages/python/index.ts';
import { normalizePythonName } from '../../../../src/analysis/packages/python/parse.ts';
import { readFiles, readTree } from '../../../helpers/package-tree.ts';
import { run } from '../../../helpers/proc.ts';

const DIST_PACKAGES = '/usr/lib/python3/dist-packages';

describe('Python reader against importlib.metadata', () => {
  it('reports the distributions of the machine’s Debian dist-packages, as Python sees them', async () => {
    const script = [
      'import importlib.metadata as m',
      `for d in m.distributions(path=[${JSON.stringify(DIST_PACKAGES)}]): print(d.metadata["Name"], d.version)`,
    ].join('\n');
    const expected = (await run('/usr/bin/python3', ['-c', script])).stdout
      .toString('utf8')
      .trim()
      .split('\n')
      .map((line) => {
        const [name, version] = line.split(' ');
        return `${normalizePythonName(name ?? '')} ${version}`;
      })
      .sort();
    assert.ok(expected.length > 5, 'python3-packaging and its friends are installed');
    const { packages, notes } = await readTree(pythonReader, '/', { under: [DIST_PACKAGES.slice(1)] });
    assert.deepEqual(notes, []);
    assert.deepEqual(packages.map((p) => `${p.name} ${p.version}`).sort(), expected);
    const packaging = packages.find((p) => p.name === 'packaging');
    assert.ok(packaging);
    assert.equal(packaging.purl, `pkg:pypi/packaging@${packaging.version}`);
  });

  it('reads single-file egg-info, stops at the description, and names a file without a version', async () => {
    const { packages, notes } = await readFiles(pythonReader, {
      'usr/lib/python3/dist-packages/Foo_Bar.egg-info': 'Metadata-Version: 1.1\nName: Foo_Bar\nVersion: 1.0\n',
      'app/venv/lib/python3.12/site-packages/requests-2.31.0.dist-info/METADATA':
        'Metadata-Version: 2.1\nName: requests\nVersion: 2.31.0\nLicense: Apache 2.0\n\nName: not-this\nVersion: 9\n',
      'app/venv/lib/python3.12/site-packages/broken-1.dist-info/METADATA': 'Metadata-Version: 2.1\nName: broken\n',
      'app/notes/random.egg-info': 'not in a site-packages directory, not read',
    });
    assert.deepEqual(
      packages.map((p) => [p.name, p.version, p.licenses]),
      [
        ['requests', '2.31.0', ['Apache 2.0']],
        ['foo-bar', '1.0', undefined],
      ],
    );
    assert.deepEqual(
      notes.map((n) => n.message),
      ['app/venv/lib/python3.12/site-packages/broken-1.dist-info/METADATA:1: core metadata without Version'],
    );
  });
});
