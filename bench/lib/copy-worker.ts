/**
 * Runs Sluice copies through the library in a process of its own and reports time, CPU and
 * memory: the resident set right before the copy, and the peak during it. The peak comes from
 * the kernel (`VmHWM`, reset through `/proc/self/clear_refs` right before the copy) and is
 * cross-checked by sampling `process.memoryUsage().rss` every 5 ms.
 *
 *   node bench/lib/copy-worker.ts '<WorkerInput as JSON>'   → one line of WorkerOutput JSON
 */
import { readFileSync, writeFileSync } from 'node:fs';
import type { ReferrersMode } from '../../src/oci/client.ts';
import { loadSluice, poolFor, requestFor } from './sluice.ts';

export interface WorkerInput {
  /** Source tree to load Sluice from (this repository or a candidate). */
  root: string;
  /** `host/repo:tag` source and `host/repo:tag` target. */
  copies: Array<{ source: string; target: string }>;
  hosts: string[];
  referrers: ReferrersMode;
  transportConcurrency: number;
  blobConcurrency?: number;
  concurrency?: number;
}

export interface WorkerOutput {
  ms: number;
  /** User + system CPU time of this process (all threads) during the copy. */
  cpuMs: number;
  rssBeforeKiB: number;
  /** Kernel high-water mark during the copy (undefined if it could not be reset). */
  hwmKiB?: number;
  sampledPeakKiB: number;
  bytesTransferred: number;
  failures: number;
}

function status(field: 'VmRSS' | 'VmHWM'): number {
  const m = new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(readFileSync('/proc/self/status', 'utf8'));
  return m ? Number(m[1]) : NaN;
}

async function main(): Promise<void> {
  const input = JSON.parse(process.argv[2] ?? '{}') as WorkerInput;
  const build = await loadSluice('worker', input.root);
  const pool = poolFor(build, input.hosts, input.referrers, input.transportConcurrency);
  const engine = new build.copy.CopyEngine(pool);
  const requests = input.copies.map((c) => requestFor(build, c.source, c.target));

  const rssBeforeKiB = status('VmRSS');
  let hwmReset = true;
  try {
    writeFileSync('/proc/self/clear_refs', '5');
  } catch {
    hwmReset = false;
  }
  let sampledPeakKiB = rssBeforeKiB;
  const sampler = setInterval(() => {
    sampledPeakKiB = Math.max(sampledPeakKiB, process.memoryUsage().rss / 1024);
  }, 5);

  const cpu = process.cpuUsage();
  const started = performance.now();
  const outcomes = await engine.copyAll(requests, {
    concurrency: input.concurrency ?? 8,
    ...(input.blobConcurrency ? { blobConcurrency: input.blobConcurrency } : {}),
  });
  const ms = performance.now() - started;
  const used = process.cpuUsage(cpu);
  clearInterval(sampler);
  const hwm = status('VmHWM');
  pool.close();

  const failures = outcomes.filter((o) => o.error);
  for (const f of failures) process.stderr.write(`${f.error?.message}\n`);
  const output: WorkerOutput = {
    ms,
    cpuMs: (used.user + used.system) / 1000,
    rssBeforeKiB,
    ...(hwmReset ? { hwmKiB: hwm } : {}),
    sampledPeakKiB: Math.round(Math.max(sampledPeakKiB, status('VmRSS'))),
    bytesTransferred: outcomes.reduce((n, o) => n + (o.result?.bytesTransferred ?? 0), 0),
    failures: failures.length,
  };
  process.stdout.write(JSON.stringify(output) + '\n');
}

if (import.meta.main) await main();
