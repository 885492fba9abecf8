import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { before, describe, it } from 'node:test';
import type { InstalledPackage, OsRelease } from '../../../../src/analysis/model.ts';
import { dpkgReader } from '../../../../src/analysis/packages/dpkg/index.ts';
import { osReleaseReader } from '../../../../src/analysis/packages/index.ts';
import { pythonReader } from '../../../../src/analysis/packages/python/index.ts';
import {
  toCycloneDx,
  toSpdx,
  validateCycloneDx,
  validateSpdx,
  type SbomInput,
} from '../../../../src/analysis/sbom/index.ts';
import { TREE_LAYER, debootstrapRootfs, readTree } from '../../../helpers/package-tree.ts';

let input: SbomInput;

before(async () => {
  const root = (await debootstrapRootfs()) ?? '/';
  const osFile = await readFile(path.join(root, 'usr/lib/os-release'));
  const os = osReleaseReader.read(
    new Map([
      [
        'usr/lib/os-release',
        { path: 'usr/lib/os-release', size: osFile.length, mode: 0o644, layer: TREE_LAYER, content: osFile },
      ],
    ]),
    { note: () => {} },
  ) as OsRelease;
  const packages: InstalledPackage[] = [
    ...(await readTree(dpkgReader, root, { under: ['var/lib/dpkg'], os })).packages,
    ...(await readTree(pythonReader, '/', { under: ['usr/lib/python3/dist-packages'] })).packages,
  ];
  // A licence that is an SPDX id, one that is not, and one in the wrong case.
  packages.push(
    { ...packages[0]!, name: 'licensed-a', purl: 'pkg:npm/licensed-a@1.0.0', ecosystem: 'npm', licenses: ['mit'] },
    {
      ...packages[0]!,
      name: 'licensed-b',
      purl: 'pkg:npm/licensed-b@1.0.0',
      ecosystem: 'npm',
      licenses: ['Some licence, see COPYING'],
    },
    {
      ...packages[0]!,
      name: 'licensed-b',
      purl: 'pkg:npm/licensed-b@1.0.0',
      ecosystem: 'npm',
      licenses: ['Apache-2.0'],
    },
  );
  input = {
    image: { repository: 'registry.example.com/base/debian', digest: `sha256:${'a'.repeat(64)}`, tag: 'bookworm', os },
    packages,
    toolVersion: '0.1.0',
    created: new Date('2026-12-03T10:00:00.123Z'),
    documentId: '8d4a6c4e-0f43-4c57-9d5a-2c1f3c0e9b71',
  };
});

describe('SBOM documents against the published schemas', () => {
  it('writes CycloneDX 1.6 that validates, one component per package, the source package as a property', () => {
    const bom = toCycloneDx(input);
    const result = validateCycloneDx(bom);
    assert.deepEqual(result.errors, []);
    assert.equal(result.valid, true);
    const components = bom.components as Array<{
      type: string;
      name: string;
      'bom-ref': string;
      properties?: Array<{ name: string; value: string }>;
      licenses?: unknown;
    }>;
    assert.equal(components.filter((c) => c.type === 'library').length, input.packages.length);
    assert.equal(components.filter((c) => c.type === 'operating-system').length, 1);
    assert.equal(new Set(components.map((c) => c['bom-ref'])).size, components.length, 'bom-refs are unique');
    const libc = components.find((c) => c.name === 'libc6');
    assert.equal(libc?.properties?.find((p) => p.name === 'sluice:source:name')?.value, 'glibc');
    assert.ok(!components.some((c) => c.name === 'glibc'), 'a source package is not a component');
    assert.deepEqual(components.find((c) => c.name === 'licensed-a')?.licenses, [{ license: { id: 'MIT' } }]);
  });

  it('writes SPDX 2.3 that validates, with the image containing every package', () => {
    const doc = toSpdx(input);
    const result = validateSpdx(doc);
    assert.deepEqual(result.errors, []);
    const packages = doc.packages as Array<{
      SPDXID: string;
      name: string;
      licenseDeclared?: string;
      sourceInfo?: string;
    }>;
    assert.equal(packages.length, input.packages.length + 2);
    assert.equal(new Set(packages.map((p) => p.SPDXID)).size, packages.length);
    assert.equal((doc.relationships as unknown[]).length, input.packages.length + 2);
    assert.equal((doc.creationInfo as { created: string }).created, '2026-12-03T10:00:00Z');
    assert.match(packages.find((p) => p.name === 'libc6')?.sourceInfo ?? '', /^built from source package glibc /);
    assert.deepEqual(
      packages.filter((p) => p.name.startsWith('licensed-')).map((p) => p.licenseDeclared),
      ['MIT', 'NOASSERTION', 'Apache-2.0'],
    );
  });

  it('the validators refuse documents that break the schemas (so a pass above means something)', () => {
    const bom = toCycloneDx(input);
    (bom.components as Array<Record<string, unknown>>)[0]!.type = 'not-a-type';
    assert.equal(validateCycloneDx(bom).valid, false);
    const doc = toSpdx(input);
    delete doc.dataLicense;
    const result = validateSpdx(doc);
    assert.equal(result.valid, false);
    assert.ok(
      result.errors.some((e) => e.includes('dataLicense')),
      result.errors.join('\n'),
    );
  });
});
