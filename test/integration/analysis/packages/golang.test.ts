import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { realpath } from 'node:fs/promises';
import path from 'node:path';
import { describe, it } from 'node:test';
import { golangReader } from '../../../../src/analysis/packages/golang/index.ts';
import { readFiles, readTree } from '../../../helpers/package-tree.ts';
import { run } from '../../../helpers/proc.ts';

/** Modules as `go version -m` prints them, a `=>` replacing the line before, plus stdlib. */
async function goVersionM(binary: string): Promise<string[]> {
  const lines = (await run('go', ['version', '-m', binary])).stdout.toString('utf8').split('\n');
  const goVersion = /: go(\d+\.\d+(?:\.\d+)?)/.exec(lines[0] ?? '')?.[1];
  assert.ok(goVersion, `no Go version in ${lines[0]}`);
  const modules: string[] = [];
  for (const line of lines.slice(1)) {
    const [, kind, modPath, version] = line.split('\t');
    if (kind === 'mod' || kind === 'dep') modules.push(`${modPath}@${version}`);
    else if (kind === '=>') modules[modules.length - 1] = `${modPath}@${version}`;
  }
  return [...modules.filter((m) => !m.endsWith('@')), `stdlib@v${goVersion}`].sort();
}

async function scanBinary(binary: string) {
  const real = await realpath(binary);
  return readTree(golangReader, path.dirname(real), { under: [path.basename(real)] });
}

describe('Go build info reader against go version -m', () => {
  // docker-registry is Debian's (GOPATH build: no modules, only the Go version); the others
  // carry hundreds of modules and replacements, when this machine has them.
  const binaries = ['/usr/bin/docker-registry', '/usr/bin/kubectl', '/usr/local/bin/terraform'];
  for (const binary of binaries) {
    it(`reads the modules of ${binary}`, { skip: !existsSync(binary) && binary !== binaries[0] }, async () => {
      const { packages, notes } = await scanBinary(binary);
      assert.deepEqual(notes, []);
      assert.deepEqual(packages.map((p) => `${p.name}@${p.version}`).sort(), await goVersionM(binary));
      for (const p of packages) assert.match(p.purl, /^pkg:golang\//);
    });
  }

  it('ignores executables that are not ELF and files without build info', async () => {
    const { packages, notes } = await readFiles(golangReader, {
      'usr/bin/script': `#!/bin/sh\n${'#'.repeat(100_000)}\n`,
      'usr/bin/c-binary': Buffer.concat([Buffer.from([0x7f, 0x45, 0x4c, 0x46]), Buffer.alloc(100_000)]),
    });
    assert.deepEqual(packages, []);
    assert.deepEqual(notes, []);
  });

  it('says which file holds a truncated or oversized build info, and finds a magic split across chunks', async () => {
    const magic = Buffer.from('\xff Go buildinf:', 'latin1');
    const header = Buffer.concat([magic, Buffer.from([8, 2]), Buffer.alloc(16)]);
    const elf = Buffer.concat([Buffer.from([0x7f, 0x45, 0x4c, 0x46]), Buffer.alloc(70_000)]);
    const modinfo = `${'0'.repeat(16)}path\tx\nmod\texample.com/app\tv1.2.3\th1:x\n${'0'.repeat(16)}`;
    const good = Buffer.concat([
      elf,
      header,
      Buffer.from([8]),
      Buffer.from('go1.22.5'),
      Buffer.from([modinfo.length]),
      Buffer.from(modinfo),
    ]);
    const truncated = Buffer.concat([elf, header, Buffer.from([8]), Buffer.from('go1.2')]);
    const huge = Buffer.concat([elf, header, Buffer.from([0xff, 0xff, 0xff, 0x7f]), Buffer.alloc(100)]);
    const { packages, notes } = await readFiles(golangReader, {
      'app/good': good,
      'app/truncated': truncated,
      'app/huge': huge,
    });
    assert.deepEqual(
      packages.map((p) => p.purl),
      ['pkg:golang/example.com/app@v1.2.3', 'pkg:golang/stdlib@v1.22.5'],
    );
    assert.deepEqual(
      notes.map((n) => n.message),
      [
        'app/huge:1: Go build info: a 268435455-byte string',
        'app/truncated:1: Go build info: the file ends inside the build info',
      ],
    );
  });
});
