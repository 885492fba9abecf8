/**
 * The OSV index at osv.dev's scale: import of a generated `all.zip` of N records (default
 * 500,000) into SQLite, against reading and JSON-parsing the same zip entries in the same run
 * (goal ≤ 2×); an incremental re-import after 1% of the records changed (goal ≤ 5% of the full
 * import); matching 1,000 packages through the store (goal ≤ 100 ms); peak RSS (goal ≤ 256 MiB).
 *
 *   node bench/vulndb.bench.ts [--records N]
 *
 * The records follow the shapes of real ones (GHSA npm/PyPI/Maven/Go records with one or two
 * ECOSYSTEM ranges, Debian records with a fixed source version, a few with `versions` lists),
 * spread over ecosystems roughly as osv.dev is; seeded, so every run imports the same data.
 */
import { createWriteStream, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { parseArgs } from 'node:util';
import yazl from 'yazl';
import type { InstalledPackage } from '../src/analysis/model.ts';
import { openStore } from '../src/store/index.ts';
import { matchPackages } from '../src/vulndb/match.ts';
import { storeRecords } from '../src/vulndb/records.ts';
import { importZip, zipRecords } from '../src/vulndb/zip.ts';

const { values } = parseArgs({ options: { records: { type: 'string', default: '500000' } } });
const N = Number(values.records);

function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const ECOSYSTEMS: Array<[string, number]> = [
  ['npm', 0.25],
  ['PyPI', 0.15],
  ['Maven', 0.1],
  ['Go', 0.08],
  ['Debian:12', 0.22],
  ['Alpine:v3.20', 0.1],
  ['crates.io', 0.05],
  ['RubyGems', 0.05],
];
const PACKAGES_PER_ECOSYSTEM = 20_000;

function packageName(ecosystem: string, i: number): string {
  if (ecosystem === 'Maven') return `org.example${i % 97}:artifact-${i}`;
  if (ecosystem === 'Go') return `github.com/example${i % 97}/module-${i}`;
  return `package-${i}`;
}

function record(i: number, rnd: () => number, modified: string): object {
  let x = rnd();
  let ecosystem = ECOSYSTEMS[0]![0];
  for (const [e, share] of ECOSYSTEMS) {
    if ((x -= share) <= 0) {
      ecosystem = e;
      break;
    }
  }
  const pkg = Math.floor(rnd() * PACKAGES_PER_ECOSYSTEM);
  const distro = ecosystem.includes(':');
  const major = 1 + Math.floor(rnd() * 5);
  const fixed = distro
    ? `${major}.${Math.floor(rnd() * 10)}.0-1`
    : `${major}.${Math.floor(rnd() * 10)}.${Math.floor(rnd() * 10)}`;
  const ranges = [{ type: 'ECOSYSTEM', events: [{ introduced: '0' }, { fixed }] }];
  const affected: Record<string, unknown> = { package: { ecosystem, name: packageName(ecosystem, pkg) }, ranges };
  if (rnd() < 0.1) affected.versions = Array.from({ length: 20 }, (_, k) => `${major}.0.${k}`);
  const id = distro ? `DSA-${i}-1` : `GHSA-${i.toString(36).padStart(4, '0')}-bench-${(i * 7).toString(36)}`;
  return {
    schema_version: '1.6.0',
    id,
    modified,
    published: '2023-01-01T00:00:00Z',
    aliases: [`CVE-2023-${i}`],
    summary: `Generated vulnerability ${i} in ${packageName(ecosystem, pkg)}`,
    details: 'x'.repeat(200 + Math.floor(rnd() * 600)),
    severity: [{ type: 'CVSS_V3', score: 'CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H' }],
    affected: [affected],
    references: [{ type: 'WEB', url: `https://example.org/advisory/${i}` }],
    database_specific: { severity: 'HIGH' },
  };
}

async function writeZip(file: string, changedEvery: number): Promise<void> {
  const rnd = mulberry32(42);
  const zip = new yazl.ZipFile();
  const done = pipeline(zip.outputStream, createWriteStream(file));
  for (let i = 0; i < N; i++) {
    const modified = changedEvery > 0 && i % changedEvery === 0 ? '2024-06-01T00:00:00Z' : '2024-01-01T00:00:00Z';
    const r = record(i, rnd, modified) as { id: string };
    zip.addBuffer(Buffer.from(JSON.stringify(r)), `${r.id}.json`);
  }
  zip.end();
  await done;
}

let peak = 0;
const sampler = setInterval(() => (peak = Math.max(peak, process.memoryUsage.rss())), 50);
const mib = (n: number): string => `${(n / 1024 / 1024).toFixed(0)} MiB`;
const time = async <T>(fn: () => Promise<T>): Promise<[T, number]> => {
  const t0 = performance.now();
  const r = await fn();
  return [r, performance.now() - t0];
};

const dir = mkdtempSync(join(tmpdir(), 'sluice-bench-vulndb-'));
try {
  const full = join(dir, 'all.zip');
  const changed = join(dir, 'changed.zip');
  await writeZip(full, 0);
  await writeZip(changed, 100);
  peak = 0;
  const [, parseMs] = await time(async () => {
    let n = 0;
    for await (const r of zipRecords(full)) if (r.id) n++;
    return n;
  });
  const store = await openStore({ url: `sqlite:${join(dir, 'sluice.db')}` });
  const [imported, importMs] = await time(() => importZip(store, full));
  const [incremental, incrementalMs] = await time(() => importZip(store, changed));
  const rnd = mulberry32(7);
  const layer = {
    index: 0,
    digest: `sha256:${'0'.repeat(64)}`,
    mediaType: 'application/vnd.oci.image.layer.v1.tar',
    size: 0,
  };
  const packages: InstalledPackage[] = Array.from({ length: 1000 }, () => {
    const name = `package-${Math.floor(rnd() * PACKAGES_PER_ECOSYSTEM)}`;
    return { ecosystem: 'npm', name, version: '2.3.4', purl: `pkg:npm/${name}@2.3.4`, path: 'x', layer };
  });
  const [matched, matchMs] = await time(() => matchPackages({ records: storeRecords(store) }, packages));
  await store.close();
  clearInterval(sampler);
  console.log(`records: ${N}`);
  console.log(`parse only (read zip + JSON.parse + checks): ${(parseMs / 1000).toFixed(1)} s`);
  console.log(
    `import into SQLite: ${(importMs / 1000).toFixed(1)} s (${(importMs / parseMs).toFixed(2)}× parse) added=${imported.added}`,
  );
  console.log(
    `incremental (1% changed): ${(incrementalMs / 1000).toFixed(1)} s (${((100 * incrementalMs) / importMs).toFixed(0)}% of import) updated=${incremental.updated}`,
  );
  console.log(`match 1,000 npm packages: ${matchMs.toFixed(0)} ms, ${matched.findings.length} findings`);
  console.log(`peak RSS: ${mib(peak)}`);
} finally {
  rmSync(dir, { recursive: true, force: true });
}
