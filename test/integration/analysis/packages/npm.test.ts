import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { cp, mkdir, rename, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { randomUUID } from 'node:crypto';
import { describe, it } from 'node:test';
import { npmReader } from '../../../../src/analysis/packages/npm/index.ts';
import { TEST_CACHE_DIR } from '../../../helpers/images.ts';
import { readFiles, readTree } from '../../../helpers/package-tree.ts';
import { run } from '../../../helpers/proc.ts';

const FIXTURE = path.join(import.meta.dirname, '../../../fixtures/npm-app');

/** test/fixtures/npm-app installed by `npm ci`, cached between runs. */
async function installedApp(): Promise<string> {
  const final = path.join(TEST_CACHE_DIR, 'npm-app-v1');
  if (existsSync(path.join(final, 'complete'))) return path.join(final, 'app');
  await mkdir(TEST_CACHE_DIR, { recursive: true });
  const staging = path.join(TEST_CACHE_DIR, `npm-app-v1.tmp-${process.pid}-${randomUUID()}`);
  try {
    await cp(FIXTURE, path.join(staging, 'app'), { recursive: true });
    await run('npm', ['ci', '--ignore-scripts', '--no-audit', '--no-fund'], {
      cwd: path.join(staging, 'app'),
      timeoutMs: 300_000,
    });
    await writeFile(path.join(staging, 'complete'), new Date().toISOString());
    await rename(staging, final);
  } catch (error) {
    await rm(staging, { recursive: true, force: true });
    if (!existsSync(path.join(final, 'complete'))) throw error;
  }
  return path.join(final, 'app');
}

interface NpmLsNode {
  version?: string;
  dependencies?: Record<string, NpmLsNode>;
}

function flatten(deps: Record<string, NpmLsNode> | undefined, out: Set<string>): Set<string> {
  for (const [name, node] of Object.entries(deps ?? {})) {
    if (node.version) out.add(`${name}@${node.version}`);
    flatten(node.dependencies, out);
  }
  return out;
}

describe('npm reader against npm ls', () => {
  it('reports every installed package of an npm ci’d application, nested ones too, and ignores the lock file beside them', async () => {
    const app = await installedApp();
    const ls = JSON.parse(
      (await run('npm', ['ls', '--all', '--json'], { cwd: app })).stdout.toString('utf8'),
    ) as NpmLsNode;
    const expected = [...flatten(ls.dependencies, new Set())].sort();
    assert.ok(expected.includes('ms@2.0.0') && expected.includes('ms@2.1.3'), expected.join(' '));
    const { packages, notes } = await readTree(npmReader, path.dirname(app), { under: [path.basename(app)] });
    assert.deepEqual(notes, []);
    assert.deepEqual(packages.map((p) => `${p.name}@${p.version}`).sort(), expected);
    assert.ok(packages.some((p) => p.purl === 'pkg:npm/%40types/ms@0.7.31'));
    const nested = packages.find((p) => p.name === 'ms' && p.version === '2.0.0');
    assert.equal(nested?.path, 'app/node_modules/debug/node_modules/ms/package.json');
  });

  it('reads the lock file of an application whose node_modules is not in the image', async () => {
    const app = await installedApp();
    const { packages, notes } = await readTree(npmReader, path.dirname(app), {
      under: [`${path.basename(app)}/package-lock.json`],
    });
    assert.deepEqual(notes, []);
    assert.deepEqual(packages.map((p) => `${p.name}@${p.version}`).sort(), [
      '@types/ms@0.7.31',
      'debug@2.6.8',
      'minimist@1.2.5',
      'ms@2.0.0',
      'ms@2.1.3',
      'qs@6.5.2',
    ]);
  });

  it('skips files inside a package and names a broken package.json', async () => {
    const { packages, notes } = await readFiles(npmReader, {
      'srv/node_modules/good/package.json': '{"name":"good","version":"1.0.0","license":"MIT"}',
      'srv/node_modules/good/lib/package.json': '{"type":"module"}',
      'srv/node_modules/bad/package.json': '{"name":',
      'srv/node_modules/evil/package.json': '{"name":"../../etc","version":"1.0.0"}',
    });
    assert.deepEqual(
      packages.map((p) => [p.name, p.licenses]),
      [['good', ['MIT']]],
    );
    assert.equal(notes.length, 2);
    assert.match(notes[0]!.message, /^srv\/node_modules\/bad\/package\.json:1: not JSON/);
    assert.match(
      notes[1]!.message,
      /^srv\/node_modules\/evil\/package\.json:1: package name "..\/..\/etc" is not an npm name$/,
    );
  });
});
