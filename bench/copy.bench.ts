/**
 * Sluice's copy engine side by side with `skopeo copy` (1.9), on the same CNCF Distribution
 * registries, in one run:
 *
 *   (a) same-registry promotion of an 8-layer image to a new repository, and its repetition
 *   (b) bulk promotion of 200 images (library `copyAll`, CLI `--batch`) vs 4 parallel skopeo processes
 *   (c) cross-registry copy of a >= 256 MiB image: time, and Sluice's memory growth
 *   (d) multi-platform index, across registries and within one (`skopeo copy --all`)
 *
 * Registries, images and pushes come from the integration-test harness (test/helpers).
 * Requests are counted from each registry's access log, so nothing sits in the data path.
 * Every timed copy goes to a repository that did not exist (and, across registries, to a
 * registry that did not exist), except the deliberate no-op. Each variant gets one untimed
 * warm-up, then `--runs` timed runs in rotating order; tables show medians.
 *
 *   npx node bench/run.ts copy [--runs 5] [--scenario a,b,c,d] [--json] [--verbose] [--candidate DIR]
 *
 * `--candidate DIR` loads a second Sluice from DIR (a copy of the repository with a change in
 * src/) and adds its library rows to every scenario, so a change is measured in the same run.
 * Nothing is asserted: goals are reported as met or not met.
 */
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { parseArgs } from 'node:util';
import type { ReferrersMode } from '../src/oci/client.ts';
import {
  buildImage,
  buildIndex,
  largeImage,
  pushImage,
  startRegistry,
  type LocalImage,
  type RegistryHandle,
} from '../test/helpers/index.ts';
import { AccessLog, breakdown, type LoggedRequest } from './lib/access-log.ts';
import type { WorkerInput, WorkerOutput } from './lib/copy-worker.ts';
import { pushLabelVariants } from './lib/fixtures.ts';
import {
  processCpuMs,
  runTimed,
  scratchDir,
  skopeoCopy,
  sluiceCli,
  syncDisks,
  type ProcessRun,
} from './lib/processes.ts';
import {
  machineInfo,
  newRow,
  renderMachine,
  renderScenario,
  requestShare,
  rowById,
  saveJson,
  speedup,
  type Goal,
  type Row,
  type ScenarioResult,
} from './lib/report.ts';
import { loadSluice, poolFor, requestFor, type SluiceBuild } from './lib/sluice.ts';
import { median, num, pct, ratio } from './lib/stats.ts';

export interface CopyBenchOptions {
  runs: number;
  scenarios: ReadonlySet<string>;
  json: boolean;
  verbose: boolean;
  /** Images in (b). */
  images: number;
  /** copyAll concurrencies tried in (b). */
  sweep: number[];
  /** Large image of (c): layers x MiB per layer. */
  large: { layers: number; layerMiB: number };
  /** Extra image sizes for the memory-growth check of (c). */
  memorySizes: Array<{ layers: number; layerMiB: number }>;
  /** Another source tree whose library is measured next to this one. */
  candidate?: string;
}

interface Context {
  o: CopyBenchOptions;
  /** This repository's Sluice, then the candidate's if any. */
  builds: SluiceBuild[];
}

/** Transport limit per registry in the library runs (requests waiting for headers at once). */
const TRANSPORT_CONCURRENCY = 16;
const WORKER = path.join(import.meta.dirname, 'lib', 'copy-worker.ts');
const BARE = path.join(import.meta.dirname, 'lib', 'bare-copy.ts');
const SKOPEO_LANES = 4;
const CLI_BATCH_CONCURRENCY = 16;
const MiB = 1024 * 1024;

/** Unique per bench process, so repeated benches against kept registries never collide. */
const RUN_ID = Math.random().toString(36).slice(2, 7);

function log(message: string): void {
  process.stderr.write(`[bench] ${message}\n`);
}

/** Row label for a library variant: `sluice library, ...` or `candidate library, ...`. */
function libLabel(build: SluiceBuild, what: string): string {
  return `${build.name} ${what}`;
}

/** Row id for a library variant; the candidate's ids carry a prefix. */
function libId(build: SluiceBuild, id: string): string {
  return build.name === 'sluice' ? id : `${build.name}-${id}`;
}

// ------------------------------------------------------------------ measuring

/** What one timed operation measured (besides the requests, which the registries report). */
interface Sample {
  ms: number;
  /** CPU time of the copying process(es) during the operation. */
  cpuMs?: number;
  peakRssKiB?: number;
  growthKiB?: number;
}

/** Runs `fn` in this process and measures its wall and CPU time. */
async function inProcess(fn: () => Promise<void>): Promise<Sample> {
  const cpu = process.cpuUsage();
  const started = performance.now();
  await fn();
  const ms = performance.now() - started;
  const used = process.cpuUsage(cpu);
  return { ms, cpuMs: (used.user + used.system) / 1000 };
}

function fromProcess(run: ProcessRun): Sample {
  return {
    ms: run.ms,
    ...(run.cpuMs !== undefined ? { cpuMs: run.cpuMs } : {}),
    ...(run.maxRssKiB !== undefined ? { peakRssKiB: run.maxRssKiB } : {}),
  };
}

/** One copy through the library with a fresh pool, as a new process would start. */
async function libraryCopy(
  build: SluiceBuild,
  source: string,
  target: string,
  referrers: ReferrersMode,
): Promise<Sample> {
  const req = requestFor(build, source, target);
  const p = poolFor(build, [req.source.registry, req.target.registry], referrers, TRANSPORT_CONCURRENCY);
  try {
    return await inProcess(async () => {
      await new build.copy.CopyEngine(p).copy(req);
    });
  } finally {
    p.close();
  }
}

/** A library copy in a process of its own, for memory figures free of the bench's own heap. */
async function workerCopy(build: SluiceBuild, from: string, to: string, hosts: readonly string[]): Promise<Sample> {
  const input: WorkerInput = {
    root: build.root,
    copies: [{ source: from, target: to }],
    hosts: [...hosts],
    referrers: 'tags',
    transportConcurrency: TRANSPORT_CONCURRENCY,
  };
  const run = await runTimed(process.execPath, [WORKER, JSON.stringify(input)]);
  const out = JSON.parse(run.stdout.trim().split('\n').pop() ?? '{}') as WorkerOutput;
  if (out.failures) throw new Error(`the worker's copy ${from} -> ${to} failed`);
  const peak = out.hwmKiB ?? out.sampledPeakKiB;
  return { ms: out.ms, cpuMs: out.cpuMs, peakRssKiB: peak, growthKiB: peak - out.rssBeforeKiB };
}

async function bareCopy(source: string, target: string, verify: boolean): Promise<Sample> {
  const run = await runTimed(process.execPath, [BARE, JSON.stringify({ source, target, verify })]);
  const out = JSON.parse(run.stdout.trim().split('\n').pop() ?? '{}') as { ms: number; cpuMs: number };
  return { ms: out.ms, cpuMs: out.cpuMs };
}

/** A registry whose access log and CPU time are watched during an operation. */
interface Watched {
  name: string;
  registry: RegistryHandle;
  log: AccessLog;
}

function watch(name: string, registry: RegistryHandle): Watched {
  return { name, registry, log: new AccessLog(registry.logFile) };
}

interface Counted<T> {
  value: T;
  requests: LoggedRequest[];
  kinds: Record<string, number>;
  registryCpuMs: number;
}

/**
 * Runs `op` and collects what each registry logged and how much CPU it used meanwhile; request
 * kinds are prefixed by the registry's name when there are several.
 */
async function counted<T>(watched: readonly Watched[], op: () => Promise<T>): Promise<Counted<T>> {
  for (const w of watched) await w.log.mark();
  const cpuBefore = watched.map((w) => processCpuMs(w.registry.pid()));
  const value = await op();
  const cpuAfter = watched.map((w) => processCpuMs(w.registry.pid()));
  const requests: LoggedRequest[] = [];
  const kinds: Record<string, number> = {};
  for (const w of watched) {
    const taken = await w.log.take();
    requests.push(...taken);
    for (const [kind, n] of Object.entries(breakdown(taken)))
      kinds[watched.length > 1 ? `${w.name}: ${kind}` : kind] = n;
  }
  const registryCpuMs = cpuAfter.reduce((sum, after, i) => sum + (after - cpuBefore[i]!), 0);
  return { value, requests, kinds, registryCpuMs };
}

function record(
  row: Row,
  counts: Counted<unknown>,
  sample: Sample,
  extra: { imagesPerSecond?: number; mib?: number } = {},
): void {
  row.ms.push(sample.ms);
  row.requests.push(counts.requests.length);
  row.breakdown = counts.kinds;
  if (Number.isFinite(counts.registryCpuMs)) row.registryCpuMs.push(counts.registryCpuMs);
  if (sample.cpuMs !== undefined) row.cpuMs.push(sample.cpuMs);
  if (sample.peakRssKiB !== undefined) row.peakRssKiB.push(sample.peakRssKiB);
  if (sample.growthKiB !== undefined) row.growthKiB.push(sample.growthKiB);
  if (extra.imagesPerSecond !== undefined) row.imagesPerSecond.push(extra.imagesPerSecond);
  if (extra.mib !== undefined) row.mibPerSecond.push(extra.mib / (sample.ms / 1000));
}

/** Variants in a different order each run, so drift and background load hit all of them alike. */
function rotate<T>(items: readonly T[], run: number): T[] {
  const k = ((run % items.length) + items.length) % items.length;
  return [...items.slice(k), ...items.slice(0, k)];
}

function runLabel(run: number): string {
  return run < 0 ? 'warm-up' : `run ${run + 1}`;
}

/** Starts a registry that exists only for `op`. */
async function withFreshRegistry<T>(op: (registry: RegistryHandle) => Promise<T>): Promise<T> {
  const registry = await startRegistry();
  try {
    return await op(registry);
  } finally {
    await registry.stop();
  }
}

function imageMiB(image: LocalImage): number {
  const images = image.kind === 'index' ? image.children : [image];
  return images.reduce((n, c) => n + c.size + c.layers.reduce((m, l) => m + l.size, 0), 0) / MiB;
}

function speedGoal(row: Row, base: Row, factor: number, text: string): Goal {
  const s = speedup(row, base);
  return {
    text,
    measured: `${num(median(row.ms))} vs ${num(median(base.ms))} ms = ${ratio(s)}`,
    met: factor > 1 ? s >= factor : s > 1,
  };
}

// ------------------------------------------------------------------ (a) promotion

async function scenarioA({ o, builds }: Context): Promise<ScenarioResult> {
  const registry = await startRegistry();
  try {
    const watched = [watch('registry', registry)];
    const image = await buildImage({ layers: 8, layerBytes: 256 * 1024, random: true, seed: 'bench-a' });
    await pushImage(image, registry, 'acme-dev/api:1.0.0-1');
    const source = `${registry.host}/acme-dev/api:1.0.0-1`;

    const ops: Record<string, (target: string) => Promise<Sample>> = {};
    const rows: Row[] = [];
    for (const build of builds) {
      for (const mode of ['tags', 'auto'] as const) {
        const id = libId(build, mode);
        ops[id] = (t) => libraryCopy(build, source, t, mode);
        rows.push(newRow(id, libLabel(build, `library, referrers: ${mode}`), 'sluice', 'skopeo'));
      }
    }
    ops.cli = async (t) => fromProcess(await sluiceCli(['copy', source, t], { measure: true }));
    ops.skopeo = async (t) => fromProcess(await skopeoCopy(source, t, { measure: true }));
    rows.push(
      newRow('cli', 'sluice CLI process (auto)', 'sluice', 'skopeo'),
      newRow('skopeo', 'skopeo copy', 'skopeo'),
    );
    for (const row of [...rows]) {
      rows.push(
        newRow(`${row.id}-noop`, `no-op: ${row.label}`, row.tool, row.id === 'skopeo' ? undefined : 'skopeo-noop'),
      );
    }

    for (let run = -1; run < o.runs; run++) {
      log(`(a) ${runLabel(run)}`);
      for (const variant of rotate(Object.keys(ops), run)) {
        const target = `${registry.host}/acme-staging/api-${variant}-${RUN_ID}-${run + 1}:1.0.0-1`;
        const op = ops[variant]!;
        const copy = await counted(watched, () => op(target));
        const noop = await counted(watched, () => op(target));
        if (run < 0) continue;
        record(rowById(rows, variant), copy, copy.value);
        record(rowById(rows, `${variant}-noop`), noop, noop.value);
      }
    }

    const skopeoRow = rowById(rows, 'skopeo');
    const skopeoNoop = rowById(rows, 'skopeo-noop');
    const goals: Goal[] = [];
    for (const build of builds) {
      for (const mode of ['tags', 'auto'] as const) {
        const row = rowById(rows, libId(build, mode));
        const share = requestShare(row, skopeoRow);
        goals.push({
          text: `${row.label}: promotion uses <= 40% of skopeo's requests`,
          measured: `${num(median(row.requests))} vs ${num(median(skopeoRow.requests))} = ${pct(share)}`,
          met: share <= 0.4,
        });
      }
    }
    for (const row of rows.filter((r) => r.id.endsWith('-noop') && r.tool === 'sluice')) {
      goals.push({
        text: `${row.label.replace('no-op: ', '')}: repeated promotion uses <= 3 requests`,
        measured: `${num(median(row.requests))} (skopeo ${num(median(skopeoNoop.requests))})`,
        met: median(row.requests) <= 3,
      });
    }
    return {
      id: 'a',
      title: 'same-registry promotion of an 8-layer image to a new repository',
      setup:
        '8 layers of 256 KiB random data + config; library runs use a fresh RegistryPool per copy (as a new ' +
        'process would); no-op = the same copy again, again with a fresh pool or process',
      rows,
      goals,
      notes: [
        'time is not a goal here; skopeo and CLI times include process start-up, library times do not',
        'both tools first try https on a loopback registry and fall back to http; a TLS hello is not an HTTP request, so the registry logs nothing for it',
      ],
    };
  } finally {
    await registry.stop();
  }
}

// ------------------------------------------------------------------ (b) bulk promotion

/** Time of the whole batch and how many copies failed (a failed copy is not counted as an image done). */
type BulkRun = Sample & { failed: number; firstError?: string };

async function scenarioB({ o, builds }: Context): Promise<ScenarioResult> {
  const registry = await startRegistry();
  try {
    const watched = [watch('registry', registry)];
    const base = await buildImage({ layers: 3, layerBytes: 64 * 1024, random: true, seed: 'bench-b' });
    await pushImage(base, registry, 'acme-dev/base:1');
    const repositories = Array.from({ length: 20 }, (_, i) => `acme-dev/svc-${String(i).padStart(2, '0')}`);
    const variants = await pushLabelVariants(registry.url, base, 'acme-dev/base', repositories, o.images, '1.0.');
    if (new Set(variants.map((v) => v.digest)).size !== o.images) throw new Error('variants are not distinct');
    const pairs = (prefix: string) =>
      variants.map((v) => ({
        source: `${registry.host}/${v.repository}:${v.tag}`,
        target: `${registry.host}/${v.repository.replace('acme-dev/', `${prefix}/`)}:${v.tag}`,
      }));

    const ops: Record<string, (prefix: string) => Promise<BulkRun>> = {};
    const rows: Row[] = [];
    for (const build of builds) {
      for (const c of o.sweep) {
        const id = libId(build, `lib-${c}`);
        rows.push(
          newRow(id, libLabel(build, `copyAll, ${c} in flight${c === 8 ? ' (default)' : ''}`), 'sluice', 'skopeo'),
        );
        ops[id] = async (prefix) => {
          const p = poolFor(build, [registry.host], 'tags', TRANSPORT_CONCURRENCY);
          try {
            const requests = pairs(prefix).map((x) => requestFor(build, x.source, x.target));
            let failed: Array<{ error?: Error }> = [];
            const sample = await inProcess(async () => {
              const outcomes = await new build.copy.CopyEngine(p).copyAll(requests, { concurrency: c });
              failed = outcomes.filter((x) => x.error);
            });
            return { ...sample, failed: failed.length, ...(failed[0] ? { firstError: failed[0].error!.message } : {}) };
          } finally {
            p.close();
          }
        };
      }
    }
    rows.push(
      newRow('cli', `sluice CLI --batch --concurrency ${CLI_BATCH_CONCURRENCY}`, 'sluice', 'skopeo'),
      newRow('skopeo', `skopeo copy, ${SKOPEO_LANES} processes in parallel`, 'skopeo'),
    );
    ops.cli = async (prefix) => {
      const file = path.join(scratchDir(), `batch-${prefix.replace(/\W/g, '_')}.txt`);
      await writeFile(
        file,
        pairs(prefix)
          .map((x) => `${x.source} ${x.target}`)
          .join('\n') + '\n',
      );
      const args = ['copy', '--batch', file, '--concurrency', String(CLI_BATCH_CONCURRENCY), '-o', 'json'];
      const run = await sluiceCli(args, { allowFailure: true, measure: true });
      const results = JSON.parse(run.stdout || '[]') as Array<{ error?: { message?: string } }>;
      const failed = results.filter((r) => r.error);
      return {
        ...fromProcess(run),
        failed: failed.length,
        ...(failed[0] ? { firstError: failed[0].error!.message ?? '' } : {}),
      };
    };
    ops.skopeo = async (prefix) => {
      const all = pairs(prefix);
      const per = Math.ceil(all.length / SKOPEO_LANES);
      let failed = 0;
      let cpuMs = 0;
      let firstError: string | undefined;
      const started = performance.now();
      await Promise.all(
        Array.from({ length: SKOPEO_LANES }, async (_, lane) => {
          for (const x of all.slice(lane * per, (lane + 1) * per)) {
            try {
              cpuMs += (await skopeoCopy(x.source, x.target, { measure: true })).cpuMs ?? NaN;
            } catch (err) {
              failed++;
              firstError ??= (err as Error).message;
            }
          }
        }),
      );
      return { ms: performance.now() - started, cpuMs, failed, ...(firstError ? { firstError } : {}) };
    };

    const errors = new Map<string, string>();
    for (let run = -1; run < o.runs; run++) {
      log(`(b) ${runLabel(run)}`);
      for (const variant of rotate(Object.keys(ops), run)) {
        const prefix = `rel-${variant}-${RUN_ID}-${run + 1}`;
        const counts = await counted(watched, () => ops[variant]!(prefix));
        const { failed, firstError, ...sample } = counts.value;
        if (firstError) errors.set(variant, `${failed} failed in ${runLabel(run)}, e.g. ${firstError}`);
        if (run < 0) continue;
        const row = rowById(rows, variant);
        record(row, counts, sample, { imagesPerSecond: (o.images - failed) / (sample.ms / 1000) });
        row.failures.push(failed);
      }
    }

    const skopeoRow = rowById(rows, 'skopeo');
    const skopeoRate = median(skopeoRow.imagesPerSecond);
    const goals: Goal[] = [];
    const notes: string[] = [];
    for (const build of builds) {
      const libRows = o.sweep.map((c) => rowById(rows, libId(build, `lib-${c}`)));
      const best = libRows.reduce((a, b) => (median(b.imagesPerSecond) > median(a.imagesPerSecond) ? b : a));
      const byDefault = libRows.find((r) => r.id === libId(build, 'lib-8'));
      for (const row of byDefault && byDefault !== best ? [best, byDefault] : [best]) {
        const rate = median(row.imagesPerSecond);
        goals.push({
          text: `${row.label}${row === best ? ' (best)' : ''}: >= 5x the images/s of skopeo x${SKOPEO_LANES}`,
          measured: `${num(rate)} vs ${num(skopeoRate)} images/s = ${ratio(rate / skopeoRate)}`,
          met: rate >= 5 * skopeoRate,
        });
      }
      notes.push(`requests per image: ${build.name} ${num(median(best.requests) / o.images)}`);
    }
    notes.push(`requests per image: skopeo ${num(median(skopeoRow.requests) / o.images)}`);
    notes.push('images/s counts successful copies only');
    for (const [variant, e] of errors) notes.push(`${rowById(rows, variant).label}: ${e}`);
    return {
      id: 'b',
      title: `bulk promotion of ${o.images} images within one registry`,
      setup:
        `${o.images} distinct images (3 shared layers of 64 KiB; a label makes each config and manifest unique) in ` +
        `${repositories.length} repositories, promoted to new repositories; skopeo: ${SKOPEO_LANES} processes each copying ` +
        `${Math.ceil(o.images / SKOPEO_LANES)} images one after another; library: one copyAll, transport limit ` +
        `${TRANSPORT_CONCURRENCY} requests per registry, referrers: tags`,
      rows,
      goals,
      notes,
    };
  } finally {
    await registry.stop();
  }
}

// ------------------------------------------------------------------ (c) large image

async function scenarioC({ o, builds }: Context): Promise<ScenarioResult> {
  const source = await startRegistry();
  try {
    const sourceWatch = watch('source', source);
    const image = await largeImage(o.large);
    await pushImage(image, source, 'acme-dev/big:1');
    const from = `${source.host}/acme-dev/big:1`;
    const mib = imageMiB(image);

    const ops: Record<string, (to: string, target: RegistryHandle) => Promise<Sample>> = {};
    const rows: Row[] = [];
    for (const build of builds) {
      const id = libId(build, 'lib');
      ops[id] = (to, target) => workerCopy(build, from, to, [source.host, target.host]);
      rows.push(newRow(id, libLabel(build, 'library (own process)'), 'sluice', 'skopeo'));
    }
    // Reference points, not Sluice: what a bare raw-socket client spends, with and without
    // checking digests (bench/lib/bare-copy.ts). They bound what transport work could save.
    for (const verify of [true, false]) {
      const id = verify ? 'bare' : 'bare-unverified';
      ops[id] = (to, target) =>
        bareCopy(`${source.url}/acme-dev/big:1`, `${target.url}/${to.split('/').slice(1).join('/')}`, verify);
      rows.push(
        newRow(
          id,
          verify ? 'bare raw-socket client, verifying' : 'bare raw-socket client, not verifying',
          'sluice',
          'skopeo',
        ),
      );
    }
    ops.cli = async (to) => fromProcess(await sluiceCli(['copy', from, to], { measure: true }));
    ops.skopeo = async (to) => fromProcess(await skopeoCopy(from, to, { measure: true }));
    rows.push(newRow('cli', 'sluice CLI process', 'sluice', 'skopeo'), newRow('skopeo', 'skopeo copy', 'skopeo'));

    for (let run = -1; run < o.runs; run++) {
      log(`(c) ${runLabel(run)}`);
      for (const variant of rotate(Object.keys(ops), run)) {
        await withFreshRegistry(async (target) => {
          await syncDisks();
          const to = `${target.host}/acme-prod/big:1`;
          const counts = await counted([sourceWatch, watch('target', target)], () => ops[variant]!(to, target));
          if (run >= 0) record(rowById(rows, variant), counts, counts.value, { mib });
        });
      }
    }

    // Memory growth must not depend on the image size: the same library copy at other sizes.
    const sizes = new Map<SluiceBuild, Array<{ label: string; growth: number[] }>>(
      builds.map((b) => [b, [{ label: `${num(mib)} MiB`, growth: rowById(rows, libId(b, 'lib')).growthKiB }]]),
    );
    for (const size of o.memorySizes) {
      const other = await largeImage(size);
      const repo = `acme-dev/mem-${size.layers}x${size.layerMiB}:1`;
      await pushImage(other, source, repo);
      const otherMiB = imageMiB(other);
      for (const build of builds) {
        const row = newRow(
          libId(build, `lib-${size.layers}x${size.layerMiB}`),
          libLabel(build, `library, ${num(otherMiB)} MiB image`),
          'sluice',
        );
        for (let run = 0; run < o.runs; run++) {
          log(`(c) memory check, ${build.name}, ${num(otherMiB)} MiB, ${runLabel(run)}`);
          await withFreshRegistry(async (target) => {
            await syncDisks();
            const to = `${target.host}/acme-prod/mem:1`;
            const counts = await counted([sourceWatch, watch('target', target)], () =>
              workerCopy(build, `${source.host}/${repo}`, to, [source.host, target.host]),
            );
            record(row, counts, counts.value, { mib: otherMiB });
          });
        }
        rows.push(row);
        sizes.get(build)!.push({ label: `${num(otherMiB)} MiB`, growth: row.growthKiB });
      }
    }

    const skopeoRow = rowById(rows, 'skopeo');
    const goals: Goal[] = [];
    for (const build of builds) {
      const row = rowById(rows, libId(build, 'lib'));
      goals.push(speedGoal(row, skopeoRow, 1.3, `${row.label} >= 1.3x faster than skopeo`));
    }
    goals.push(speedGoal(rowById(rows, 'cli'), skopeoRow, 1.3, 'sluice CLI process >= 1.3x faster than skopeo'));
    for (const build of builds) {
      const list = sizes.get(build)!;
      const worst = Math.max(...list.flatMap((x) => x.growth));
      goals.push({
        text: `${build.name} memory growth < 64 MiB whatever the image size`,
        measured:
          list.map((x) => `${x.label}: ${num(median(x.growth) / 1024)} MiB`).join(', ') +
          ` (worst run ${num(worst / 1024)} MiB)`,
        met: worst < 64 * 1024,
      });
    }
    return {
      id: 'c',
      title: `cross-registry copy of a ${num(mib)} MiB image`,
      setup:
        `${o.large.layers} layers of ${o.large.layerMiB} MiB random data (harness largeImage), registry A -> a registry B ` +
        `started for each copy; disks synced before each copy; library: blobConcurrency 4 (default), referrers: tags`,
      rows,
      goals,
      notes: [
        'library: time and CPU of the copy inside its own process (start-up excluded); growth = peak RSS during the copy (VmHWM, reset right before it) - RSS right before it',
        'CLI and skopeo: wall time of the whole process; CPU and peak RSS from GNU time',
        'registry CPU = source + target registry processes during the copy',
        'bare rows: not Sluice; raw sockets, no HTTP library (bench/lib/bare-copy.ts), timed inside their process; the floor for any transport change here',
      ],
    };
  } finally {
    await source.stop();
  }
}

// ------------------------------------------------------------------ (d) multi-platform index

async function scenarioD({ o, builds }: Context): Promise<ScenarioResult> {
  const source = await startRegistry();
  try {
    const sourceWatch = watch('source', source);
    const index = await buildIndex({
      platforms: ['amd64', 'arm64'],
      layers: 3,
      layerBytes: 2 * MiB,
      random: true,
      seed: 'bench-d',
    });
    await pushImage(index, source, 'acme-dev/multi:1.0.0');
    const from = `${source.host}/acme-dev/multi:1.0.0`;
    const mib = imageMiB(index);

    const tools: Record<string, (to: string) => Promise<Sample>> = {};
    const labels: Record<string, string> = {};
    for (const build of builds) {
      tools[libId(build, 'lib')] = (to) => libraryCopy(build, from, to, 'tags');
      labels[libId(build, 'lib')] = libLabel(build, 'library');
    }
    tools.cli = async (to) => fromProcess(await sluiceCli(['copy', from, to], { measure: true }));
    tools.skopeo = async (to) => fromProcess(await skopeoCopy(from, to, { all: true, measure: true }));
    labels.cli = 'sluice CLI process';
    labels.skopeo = 'skopeo copy --all';
    const rows: Row[] = [];
    for (const where of ['cross', 'same'] as const) {
      for (const tool of Object.keys(tools)) {
        const prefix = where === 'cross' ? 'across registries' : 'same registry';
        const isSkopeo = tool === 'skopeo';
        rows.push(
          newRow(
            `${where}-${tool}`,
            `${prefix}: ${labels[tool]}`,
            isSkopeo ? 'skopeo' : 'sluice',
            isSkopeo ? undefined : `${where}-skopeo`,
          ),
        );
      }
    }

    for (let run = -1; run < o.runs; run++) {
      log(`(d) ${runLabel(run)}`);
      for (const tool of rotate(Object.keys(tools), run)) {
        await withFreshRegistry(async (target) => {
          await syncDisks();
          const counts = await counted([sourceWatch, watch('target', target)], () =>
            tools[tool]!(`${target.host}/acme-prod/multi:1.0.0`),
          );
          if (run >= 0) record(rowById(rows, `cross-${tool}`), counts, counts.value, { mib });
        });
        await syncDisks();
        const to = `${source.host}/acme-prod-${tool}-${RUN_ID}-${run + 1}/multi:1.0.0`;
        const counts = await counted([sourceWatch], () => tools[tool]!(to));
        if (run >= 0) record(rowById(rows, `same-${tool}`), counts, counts.value);
      }
    }
    const goals: Goal[] = [];
    for (const where of ['cross', 'same'] as const) {
      for (const tool of Object.keys(tools).filter((t) => t !== 'skopeo')) {
        const row = rowById(rows, `${where}-${tool}`);
        goals.push(speedGoal(row, rowById(rows, `${where}-skopeo`), 1, `${row.label} faster than skopeo`));
      }
    }
    return {
      id: 'd',
      title: 'copy of a multi-platform index (linux/amd64 + linux/arm64)',
      setup:
        `OCI index over 2 images of 3 layers x 2 MiB random data (${num(mib)} MiB); across: registry A -> a registry B ` +
        `started for each copy; same: A -> a new repository in A; library: fresh pool per copy, referrers: tags`,
      rows,
      goals,
      notes: ['library times exclude process start-up; CLI and skopeo times include it'],
    };
  } finally {
    await source.stop();
  }
}

// ------------------------------------------------------------------ entry

const SCENARIOS: Record<string, (c: Context) => Promise<ScenarioResult>> = {
  a: scenarioA,
  b: scenarioB,
  c: scenarioC,
  d: scenarioD,
};

function parseSize(text: string): { layers: number; layerMiB: number } {
  const m = /^(\d+)x(\d+)$/.exec(text.trim());
  if (!m) throw new Error(`size "${text}" must look like LAYERSxMIB, e.g. 4x64`);
  return { layers: Number(m[1]), layerMiB: Number(m[2]) };
}

export function parseCopyBenchArgs(argv: string[]): CopyBenchOptions {
  const { values } = parseArgs({
    args: argv,
    options: {
      runs: { type: 'string', default: '5' },
      scenario: { type: 'string', default: 'a,b,c,d' },
      json: { type: 'boolean', default: false },
      verbose: { type: 'boolean', short: 'v', default: false },
      images: { type: 'string', default: '200' },
      sweep: { type: 'string', default: '4,8,16,32' },
      large: { type: 'string', default: '4x64' },
      'memory-sizes': { type: 'string', default: '1x16' },
      candidate: { type: 'string' },
    },
    allowPositionals: false,
  });
  const scenarios = new Set(values.scenario.split(',').map((s) => s.trim().toLowerCase()));
  for (const s of scenarios) if (!SCENARIOS[s]) throw new Error(`unknown scenario "${s}" (a, b, c, d)`);
  const runs = Number(values.runs);
  if (!Number.isInteger(runs) || runs < 1) throw new Error('--runs must be a positive integer');
  const sweep = values.sweep.split(',').map(Number);
  if (sweep.some((c) => !Number.isInteger(c) || c < 1)) throw new Error('--sweep takes positive integers, e.g. 4,8,16');
  return {
    runs,
    scenarios,
    json: values.json,
    verbose: values.verbose,
    images: Number(values.images),
    sweep,
    large: parseSize(values.large),
    memorySizes: values['memory-sizes'].split(',').filter(Boolean).map(parseSize),
    ...(values.candidate ? { candidate: path.resolve(values.candidate) } : {}),
  };
}

export async function runCopyBench(o: CopyBenchOptions): Promise<ScenarioResult[]> {
  const builds = [await loadSluice('sluice')];
  if (o.candidate) builds.push(await loadSluice('candidate', o.candidate));
  const machine = await machineInfo();
  console.log(renderMachine(machine));
  console.log(`runs: ${o.runs} per variant after one warm-up; medians shown, range = min-max over the runs`);
  if (o.candidate) console.log(`candidate: library loaded from ${o.candidate}`);
  console.log('');
  const results: ScenarioResult[] = [];
  for (const id of Object.keys(SCENARIOS)) {
    if (!o.scenarios.has(id)) continue;
    const result = await SCENARIOS[id]!({ o, builds });
    results.push(result);
    console.log(renderScenario(result, o.verbose) + '\n');
  }
  const goals = results.flatMap((r) => r.goals.map((g) => `(${r.id}) ${g.text}: ${g.met ? 'MET' : 'NOT MET'}`));
  console.log('summary:\n' + goals.map((g) => `  ${g}`).join('\n'));
  if (o.json) {
    const file = await saveJson('copy', { machine, options: { ...o, scenarios: [...o.scenarios] }, results });
    console.log(`\nresults written to ${path.relative(process.cwd(), file)}`);
  }
  return results;
}

if (import.meta.main) await runCopyBench(parseCopyBenchArgs(process.argv.slice(2)));
