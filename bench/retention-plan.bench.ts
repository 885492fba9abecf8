/**
 * The retention planner over a synthetic inventory of 1,000,000 tags in 10,000 repositories:
 * wall time of `planRetention` and the process's peak resident memory. Goal: under 10 s and
 * under 1 GiB (the inventory itself included, since the planner needs it in memory).
 *
 *   npx node --max-old-space-size=2048 bench/retention-plan.bench.ts [--tags N] [--repositories N] [--runs N] [--blobs]
 *
 * No flag is needed on a machine with 8 GiB or more (V8's default heap limit is then above
 * 2 GiB); `--max-old-space-size=2048` makes sure the limit is not what is measured elsewhere.
 * With `--expose-gc` the heap after generation and with the plan are printed too. The figure
 * that counts is the RSS high-water mark printed at the end. Plan time is wall clock, with the
 * process's and the main thread's CPU time beside it (the machine may be busy).
 *
 * The mix, per repository (stage and registry kind rotate): the stage tag and `latest`;
 * version tags, about one in ten sharing a digest with the previous version; one version in
 * eight a multi-arch index with two untagged children; one in six signed (`.sig`, a third of
 * those also `.att`); a few untagged leftovers; a third of the digests pulled in the last 60
 * days. Facts: stage current/previous digests per repository, promotions, digests that
 * reached prod, a few quarantined and held digests. Seeded, so every run plans the same data.
 */
import { parseArgs } from 'node:util';
import type { RetentionRules } from '../src/policy/index.ts';
import {
  emptyFacts,
  planRetention,
  type BlobRef,
  type ManifestRecord,
  type RepositoryInventory,
  type RetentionFacts,
  type RetentionInput,
  type StageDigests,
  type TagRecord,
} from '../src/retention/index.ts';

const DAY = 86_400_000;
const NOW = Date.UTC(2025, 5, 1);
const IMAGE = 'application/vnd.oci.image.manifest.v1+json';
const INDEX = 'application/vnd.oci.image.index.v1+json';

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

const STAGES: Array<{ name: string; rules: RetentionRules }> = [
  { name: 'dev', rules: rules('automatic', 30 * DAY) },
  { name: 'staging', rules: { ...rules('notice', 90 * DAY), noticeDays: 7 } },
  { name: 'preprod', rules: rules('manual', 180 * DAY) },
  { name: 'prod', rules: { ...rules('scheduled', 730 * DAY), schedule: '0 3 * * 0' } },
];

function rules(mode: RetentionRules['mode'], maxAge: number): RetentionRules {
  return {
    mode,
    maxAge,
    keepLast: 10,
    catalogCap: 3,
    keepTags: ['/^release-/'],
    deleteTags: ['pr-*'],
    pullProtectionWindow: 7 * DAY,
    trash: { enabled: false, window: 14 * DAY },
  };
}

interface Options {
  tags: number;
  repositories: number;
  blobs: boolean;
}

function syntheticInventory(o: Options, seed = 42): RetentionInput {
  const rnd = mulberry32(seed);
  // Digests as the store returns them: flat strings, one instance per digest. (Concatenating
  // them here would leave rope strings several times larger than what a real inventory holds.)
  let counter = 0;
  const buf = Buffer.alloc(71);
  buf.write('sha256:', 'latin1');
  const digest = () => {
    const h = (++counter).toString(16).padStart(8, '0');
    for (let i = 0; i < 8; i++) buf.write(h, 7 + i * 8, 'latin1');
    return buf.toString('latin1');
  };
  const cosign = (subject: string, suffix: string) =>
    Buffer.from(`sha256-${subject.slice(7)}.${suffix}`, 'latin1').toString('latin1');
  // Base and runtime layers shared by many images: one BlobRef object each, as a loader that
  // interns blob references per digest would hand them out.
  const layers: BlobRef[] = [];
  for (let i = 0; i < 2000; i++) {
    layers.push({
      digest: `sha256:${'f'.repeat(56)}${i.toString(16).padStart(8, '0')}`,
      size: i % 2 ? 30_000_000 : 10_000_000,
    });
  }
  const facts: RetentionFacts = emptyFacts();
  const quarantined = facts.quarantined as Set<string>;
  const legalHold = facts.legalHold as Set<string>;
  const reachedProd = facts.reachedProd as Map<string, number>;
  const lastPromotion = facts.lastPromotion as Map<string, number>;
  const stageDigests: StageDigests[] = [];
  facts.prodRetention = 730 * DAY;
  const repositories: RepositoryInventory[] = [];
  const perRepo = Math.floor(o.tags / o.repositories);
  let extra = o.tags - perRepo * o.repositories;

  for (let r = 0; r < o.repositories; r++) {
    const stage = STAGES[r % STAGES.length]!;
    const team = `team${r % 50}`;
    const repository = `${team}-${stage.name}/app${Math.floor(r / 4)}`;
    const want = perRepo + (extra-- > 0 ? 1 : 0);
    const tags: TagRecord[] = [];
    const manifests: ManifestRecord[] = [];
    const image = (pushed: number): ManifestRecord => {
      const m: ManifestRecord = {
        digest: digest(),
        mediaType: IMAGE,
        size: 20_000_000 + Math.floor(rnd() * 200_000_000),
        pushed,
      };
      if (rnd() < 0.33) m.lastPull = NOW - Math.floor(rnd() * 60 * DAY);
      if (o.blobs) {
        m.blobs = [
          layers[Math.floor(rnd() * layers.length)]!,
          layers[Math.floor(rnd() * layers.length)]!,
          { digest: digest(), size: m.size - 40_000_000 },
        ];
      }
      manifests.push(m);
      return m;
    };
    // Versions, oldest first, one every ~2 days over the last ~year.
    let t = NOW - 400 * DAY;
    let previous: ManifestRecord | undefined;
    const versions: ManifestRecord[] = [];
    let v = 0;
    while (tags.length < want - 2) {
      t += Math.floor(rnd() * 4 * DAY);
      v++;
      let m: ManifestRecord;
      if (previous && rnd() < 0.1) m = previous;
      else if (rnd() < 0.125) {
        const a = image(t);
        const b = image(t);
        m = { digest: digest(), mediaType: INDEX, size: a.size + b.size, pushed: t, children: [a.digest, b.digest] };
        if (rnd() < 0.33) m.lastPull = NOW - Math.floor(rnd() * 60 * DAY);
        if (o.blobs) m.blobs = [];
        manifests.push(m);
      } else m = image(t);
      const roll = rnd();
      const name = roll < 0.05 ? `release-${v}` : roll < 0.12 ? `pr-${v}` : `1.${Math.floor(v / 10)}.${v % 10}-${r}`;
      tags.push({ tag: name, digest: m.digest, pushed: t, kind: 'version' });
      const shared = m === previous;
      if (!shared) versions.push(m);
      previous = m;
      if (!shared && rnd() < 0.16 && tags.length < want - 2) {
        const sig = image(t);
        sig.size = 1_500;
        if (o.blobs) sig.blobs = [{ digest: digest(), size: 1_500 }];
        tags.push({ tag: cosign(m.digest, 'sig'), digest: sig.digest, pushed: t, kind: 'artifact', subject: m.digest });
        if (rnd() < 0.33 && tags.length < want - 2) {
          const att = image(t);
          att.size = 4_000;
          if (o.blobs) att.blobs = [{ digest: digest(), size: 4_000 }];
          tags.push({
            tag: cosign(m.digest, 'att'),
            digest: att.digest,
            pushed: t,
            kind: 'artifact',
            subject: m.digest,
          });
        }
      }
      if (rnd() < 0.02) quarantined.add(m.digest);
      if (rnd() < 0.01) legalHold.add(m.digest);
      if (rnd() < 0.2) lastPromotion.set(m.digest, t + DAY);
      if (stage.name === 'prod' && rnd() < 0.3) reachedProd.set(m.digest, t);
    }
    const current = versions[versions.length - 1]!;
    const before = versions[versions.length - 2] ?? current;
    tags.push({ tag: stage.name, digest: current.digest, pushed: current.pushed, kind: 'env' });
    tags.push({ tag: 'latest', digest: current.digest, pushed: current.pushed, kind: 'env' });
    stageDigests.push({ stage: stage.name, team, repository, current: current.digest, previous: before.digest });
    // Untagged leftovers (overwritten pushes, failed builds).
    for (let u = 0; u < 3; u++) image(NOW - Math.floor(rnd() * 120 * DAY));
    repositories.push({
      registry: r % 2 === 0 ? 'quay' : 'distribution',
      tagDelete: r % 2 === 0,
      repository,
      team,
      stage: stage.name,
      catalog: r % 100 === 0,
      rules: stage.rules,
      tags,
      manifests,
    });
  }
  facts.stageDigests = stageDigests;
  return { now: NOW, repositories, facts };
}

function mib(bytes: number): string {
  return `${(bytes / 1024 / 1024).toFixed(0)} MiB`;
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      tags: { type: 'string', default: '1000000' },
      repositories: { type: 'string', default: '10000' },
      runs: { type: 'string', default: '1' },
      blobs: { type: 'boolean', default: false },
    },
  });
  const options: Options = {
    tags: Number(values.tags),
    repositories: Number(values.repositories),
    blobs: values.blobs,
  };
  const g0 = performance.now();
  const input = syntheticInventory(options);
  const genMs = performance.now() - g0;
  let manifests = 0;
  let tags = 0;
  for (const r of input.repositories) {
    manifests += r.manifests.length;
    tags += r.tags.length;
  }
  (globalThis as { gc?: () => void }).gc?.();
  const rssInput = process.memoryUsage().rss;
  console.log(`heap after generation ${mib(process.memoryUsage().heapUsed)}`);
  console.log(
    `inventory: ${tags} tags, ${manifests} manifests, ${input.repositories.length} repositories` +
      ` (generated in ${(genMs / 1000).toFixed(1)} s, RSS ${mib(rssInput)}, blobs ${options.blobs ? 'yes' : 'no'})`,
  );
  const times: number[] = [];
  /** CPU of the whole process (GC helper threads included) and of the main thread. */
  const cpuTimes: number[] = [];
  const mainTimes: number[] = [];
  let fingerprint = '';
  for (let run = 0; run < Number(values.runs); run++) {
    const t0 = performance.now();
    const c0 = process.cpuUsage();
    const m0 = process.threadCpuUsage();
    const plan = planRetention(input);
    const ms = performance.now() - t0;
    const cpu = process.cpuUsage(c0);
    const main = process.threadCpuUsage(m0);
    cpuTimes.push((cpu.user + cpu.system) / 1000);
    mainTimes.push((main.user + main.system) / 1000);
    times.push(ms);
    (globalThis as { gc?: () => void }).gc?.();
    console.log(`heap with plan ${mib(process.memoryUsage().heapUsed)}`);
    if (fingerprint && plan.fingerprint !== fingerprint) throw new Error('the plan changed between runs');
    fingerprint = plan.fingerprint;
    const tt = plan.totals;
    console.log(
      `run ${run + 1}: ${(ms / 1000).toFixed(2)} s (CPU ${(cpuTimes[run]! / 1000).toFixed(2)} s, main thread ${(mainTimes[run]! / 1000).toFixed(2)} s); deletes ${tt.tagsDeleted} tags and ${tt.manifestsDeleted} manifests,` +
        ` frees ${(tt.bytesFreed / 1e12).toFixed(2)} TB (${plan.accounting}); heap ${mib(process.memoryUsage().heapUsed)}`,
    );
  }
  const peak = process.resourceUsage().maxRSS * 1024;
  const best = Math.min(...times);
  console.log(`fingerprint ${fingerprint.slice(0, 16)}...`);
  console.log(
    `plan time: ${(best / 1000).toFixed(2)} s (best of ${times.length}; goal < 10 s: ${best < 10_000 ? 'met' : 'NOT met'})`,
  );
  console.log(`peak RSS: ${mib(peak)} (goal < 1024 MiB: ${peak < 1024 ** 3 ? 'met' : 'NOT met'})`);
}

await main();
