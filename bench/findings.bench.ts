/**
 * Findings bookkeeping on a real store (SQLite by default, `--postgres` for the test server):
 *
 * 1. Import a generated 10,000-finding Trivy report, then the same bytes again: the second
 *    import must write nothing and take at most 20% of the first. A third import of the same
 *    findings in different bytes (another CreatedAt) shows the compare-before-write path.
 * 2. `listFindings({ overdue })` over 500,000 stored findings (5,000 digests × 100, about 2% of
 *    them overdue): goal under 200 ms, answered through the (state, due_at) index.
 *
 *   npx node bench/findings.bench.ts [--findings 500000] [--runs 5] [--postgres]
 */
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { sql } from 'kysely';
import pg from 'pg';
import { appendAudit } from '../src/audit/index.ts';
import { importReport, listFindings, type FindingsDeps } from '../src/findings/index.ts';
import type { VulnerabilityPolicy } from '../src/policy/index.ts';
import { openStore, type Store } from '../src/store/index.ts';
import { median } from './lib/stats.ts';

const { values } = parseArgs({
  options: {
    findings: { type: 'string', default: '500000' },
    runs: { type: 'string', default: '5' },
    postgres: { type: 'boolean', default: false },
  },
});
const TOTAL = Number(values.findings);
const RUNS = Number(values.runs);
const H = 3_600_000;
const D = 24 * H;
const NOW = Date.UTC(2026, 2, 1);
const SEVERITIES = ['CRITICAL', 'HIGH', 'MEDIUM', 'LOW'] as const;

const vulnerabilities: VulnerabilityPolicy = {
  sla: { critical: D, high: 7 * D, medium: 30 * D, low: 'nextCycle', negligible: 'nextCycle', unknown: 30 * D },
  quarantine: { enabled: false, onSeverity: 'critical', tag: 'quarantine', removeFrom: ['prod'] },
  scanner: { kind: 'trivy' },
  waivers: { maxDuration: 90 * D },
};
const actor = { name: 'bench', rolesFor: () => [] };

function trivyReport(digest: string, n: number, createdAt: string): string {
  const vulns = [];
  for (let i = 0; i < n; i++) {
    vulns.push({
      VulnerabilityID: `CVE-2026-${String(10000 + i)}`,
      PkgName: `pkg-${i % 700}`,
      InstalledVersion: `1.${i % 13}.${i % 7}`,
      FixedVersion: i % 3 === 0 ? `1.${i % 13}.${(i % 7) + 1}` : undefined,
      Severity: SEVERITIES[i % 4],
      Title: `synthetic vulnerability ${i}`,
      CVSS: { nvd: { V3Vector: 'CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H', V3Score: 9.8 } },
    });
  }
  return JSON.stringify({
    SchemaVersion: 2,
    CreatedAt: createdAt,
    ArtifactName: `registry.example/team/app@${digest}`,
    ArtifactType: 'container_image',
    Metadata: { RepoDigests: [`registry.example/team/app@${digest}`] },
    Results: [{ Target: 'app (debian 12)', Class: 'os-pkgs', Type: 'debian', Vulnerabilities: vulns }],
  });
}

async function open(): Promise<{ store: Store; cleanup: () => Promise<void> }> {
  if (values.postgres) {
    const schema = `bench_${randomBytes(4).toString('hex')}`;
    const base = process.env.SLUICE_TEST_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test';
    const url = new URL(base);
    url.searchParams.set('schema', schema);
    const store = await openStore({ url: url.toString() });
    return {
      store,
      cleanup: async () => {
        await store.close();
        const c = new pg.Client({ connectionString: base });
        await c.connect();
        await c.query(`drop schema if exists "${schema}" cascade`);
        await c.end();
      },
    };
  }
  const dir = mkdtempSync(join(tmpdir(), 'sluice-bench-'));
  const store = await openStore({ url: `sqlite:${join(dir, 'sluice.db')}` });
  return {
    store,
    cleanup: async () => {
      await store.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

const ms = (t: bigint) => Number(t) / 1e6;

async function timed<T>(fn: () => Promise<T>): Promise<[T, number]> {
  const t = process.hrtime.bigint();
  const r = await fn();
  return [r, ms(process.hrtime.bigint() - t)];
}

async function rows(store: Store, table: 'findings' | 'scans'): Promise<number> {
  const r = await store.db
    .selectFrom(table)
    .select((e) => e.fn.countAll<number>().as('n'))
    .executeTakeFirstOrThrow();
  return Number(r.n);
}

async function importBench(): Promise<boolean> {
  const { store, cleanup } = await open();
  try {
    const deps: FindingsDeps = { store, policy: { vulnerabilities }, audit: (h, i) => appendAudit(h, i) };
    const firsts: number[] = [];
    const seconds: number[] = [];
    const thirds: number[] = [];
    let ok = true;
    for (let run = 0; run < RUNS; run++) {
      const digest = `sha256:${randomBytes(32).toString('hex')}`;
      const text = trivyReport(digest, 10_000, '2026-03-01T00:00:00Z');
      const importOnce = (t: string, now: number) =>
        importReport(deps, { digest, text: t, format: 'trivy', source: 'bench.json', actor, now });
      const [first, t1] = await timed(() => importOnce(text, NOW));
      const before = [await rows(store, 'findings'), await rows(store, 'scans')];
      const [second, t2] = await timed(() => importOnce(text, NOW + 60_000));
      const after = [await rows(store, 'findings'), await rows(store, 'scans')];
      const other = trivyReport(digest, 10_000, '2026-03-01T00:05:00Z');
      const [third, t3] = await timed(() => importOnce(other, NOW + 120_000));
      if (first.opened !== 10_000 || second.unchanged !== 10_000 || before.join() !== after.join()) ok = false;
      if (third.opened + third.updated + third.fixed !== 0) ok = false;
      firsts.push(t1);
      seconds.push(t2);
      thirds.push(t3);
    }
    const share = median(seconds) / median(firsts);
    console.log(`import 10,000 findings (${store.engine}), median of ${RUNS}:`);
    console.log(`  first import              ${median(firsts).toFixed(0)} ms`);
    console.log(
      `  same bytes again          ${median(seconds).toFixed(0)} ms (${(share * 100).toFixed(1)}% of first; rows written: none)`,
    );
    console.log(
      `  same findings, new bytes  ${median(thirds).toFixed(0)} ms (${((median(thirds) / median(firsts)) * 100).toFixed(1)}%; findings written: none, one scan row)`,
    );
    console.log(`  goal ≤ 20% and nothing written: ${ok && share <= 0.2 ? 'met' : 'NOT met'}`);
    return ok && share <= 0.2;
  } finally {
    await cleanup();
  }
}

async function overdueBench(): Promise<boolean> {
  const { store, cleanup } = await open();
  try {
    const perDigest = 100;
    const digests = Math.ceil(TOTAL / perDigest);
    const tLoad = process.hrtime.bigint();
    let n = 0;
    await store.transaction(async (tx) => {
      const batch = [];
      for (let d = 0; d < digests && n < TOTAL; d++) {
        const digest = `sha256:${d.toString(16).padStart(64, '0')}`;
        for (let i = 0; i < perDigest && n < TOTAL; i++, n++) {
          // About 2% overdue: open and due before NOW; the rest due later, fixed or not-affected.
          const overdue = n % 50 === 0;
          const state = overdue ? 'open' : ['open', 'fixed', 'open', 'not-affected'][n % 4]!;
          batch.push({
            digest,
            vuln_id: `CVE-2026-${10000 + i}`,
            package_name: `pkg-${i % 37}`,
            package_version: `1.${i}`,
            aliases: '[]',
            ecosystem: 'debian',
            purl: null,
            fixed_version: null,
            severity: ['critical', 'high', 'medium', 'low'][n % 4]!,
            cvss_vector: null,
            cvss_score_tenths: null,
            scanners: '["trivy"]',
            detail: null,
            first_seen: NOW - 40 * D,
            last_seen: NOW - D,
            state,
            due_at: overdue ? NOW - (n % 30) * H - 1 : NOW + ((n % 60) + 1) * D,
            resolved_at: state === 'open' ? null : NOW - D,
            notified: null,
          });
          if (batch.length === 50) await tx.db.insertInto('findings').values(batch.splice(0)).execute();
        }
      }
      if (batch.length) await tx.db.insertInto('findings').values(batch).execute();
    });
    if (store.engine === 'postgres') await sql`analyze findings`.execute(store.db);
    else await sql`analyze`.execute(store.db);
    console.log(
      `loaded ${n.toLocaleString('en')} findings in ${(ms(process.hrtime.bigint() - tLoad) / 1000).toFixed(1)} s`,
    );
    const times: number[] = [];
    let found = 0;
    for (let run = 0; run < RUNS + 1; run++) {
      const [list, t] = await timed(() => listFindings({ store }, { overdue: true, now: NOW }));
      found = list.length;
      if (run > 0) times.push(t); // the first run warms the page cache
    }
    const plan =
      store.engine === 'sqlite'
        ? (
            await sql<{
              detail: string;
            }>`explain query plan select * from findings where state = 'open' and due_at <= ${NOW} order by due_at limit 2000`.execute(
              store.db,
            )
          ).rows
            .map((r) => r.detail)
            .join('; ')
        : (
            await sql<{
              'QUERY PLAN': string;
            }>`explain select * from findings where state = 'open' and due_at <= ${NOW} order by due_at limit 2000`.execute(
              store.db,
            )
          ).rows
            .map((r) => r['QUERY PLAN'])
            .join('; ');
    const m = median(times);
    console.log(
      `listFindings({ overdue }) over ${n.toLocaleString('en')} findings (${store.engine}): median ${m.toFixed(1)} ms of ${RUNS}, ${found} returned (limit 1000)`,
    );
    console.log(`  plan: ${plan}`);
    console.log(`  goal < 200 ms: ${m < 200 ? 'met' : 'NOT met'}`);
    return m < 200;
  } finally {
    await cleanup();
  }
}

const a = await importBench();
const b = await overdueBench();
process.exitCode = a && b ? 0 : 1;
