/** Result rows, goals, and how they are printed and saved. */
import { mkdir, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { formatBreakdown } from './access-log.ts';
import { REPO_ROOT, versionOf } from './processes.ts';
import { max, median, min, num, ratio, table } from './stats.ts';

export type Tool = 'sluice' | 'skopeo';

/** One line of a scenario table: the samples of one tool/variant over all runs. */
export interface Row {
  id: string;
  label: string;
  tool: Tool;
  /** Row id of the skopeo row this one is compared with. */
  baseline?: string;
  ms: number[];
  requests: number[];
  imagesPerSecond: number[];
  mibPerSecond: number[];
  /** Sluice library: resident set growth during the copy. */
  growthKiB: number[];
  /** Peak resident set of the whole process. */
  peakRssKiB: number[];
  cpuMs: number[];
  /** CPU time the registries spent serving the run. */
  registryCpuMs: number[];
  /** Copies that failed in each run (bulk runs keep going when some fail). */
  failures: number[];
  /** Requests by kind in the last run (and per registry when two are involved). */
  breakdown?: Record<string, number>;
  note?: string;
}

export interface Goal {
  text: string;
  measured: string;
  met: boolean;
}

export interface ScenarioResult {
  id: string;
  title: string;
  setup: string;
  rows: Row[];
  goals: Goal[];
  notes: string[];
}

export function newRow(id: string, label: string, tool: Tool, baseline?: string): Row {
  return {
    id,
    label,
    tool,
    ...(baseline ? { baseline } : {}),
    ms: [],
    requests: [],
    imagesPerSecond: [],
    mibPerSecond: [],
    growthKiB: [],
    peakRssKiB: [],
    cpuMs: [],
    registryCpuMs: [],
    failures: [],
  };
}

export function rowById(rows: readonly Row[], id: string): Row {
  const row = rows.find((r) => r.id === id);
  if (!row) throw new Error(`no row ${id}`);
  return row;
}

/** How many times faster `row` is than its baseline (baseline median time / row median time). */
export function speedup(row: Row, baseline: Row): number {
  return median(baseline.ms) / median(row.ms);
}

export function requestShare(row: Row, baseline: Row): number {
  return median(row.requests) / median(baseline.requests);
}

function spread(values: number[]): string {
  if (values.length < 2) return '';
  return `${num(min(values))}-${num(max(values))}`;
}

function mib(kib: number[]): string {
  return kib.length ? num(median(kib) / 1024) : '-';
}

export function renderScenario(result: ScenarioResult, verbose: boolean): string {
  const lines: string[] = [`(${result.id}) ${result.title}`, `    ${result.setup}`];
  const anyImages = result.rows.some((r) => r.imagesPerSecond.length);
  const anyMiB = result.rows.some((r) => r.mibPerSecond.length);
  const anyMem = result.rows.some((r) => r.peakRssKiB.length || r.growthKiB.length);
  const anyCpu = result.rows.some((r) => r.cpuMs.length || r.registryCpuMs.length);
  const anyFailures = result.rows.some((r) => r.failures.some((f) => f > 0));
  const header = [
    'variant',
    'time ms',
    'range',
    'requests',
    ...(anyImages ? ['images/s'] : []),
    ...(anyMiB ? ['MiB/s'] : []),
    ...(anyMem ? ['peak RSS MiB', 'growth MiB'] : []),
    ...(anyCpu ? ['client CPU ms', 'registry CPU ms'] : []),
    ...(anyFailures ? ['failed copies'] : []),
    'speed vs skopeo',
    'requests vs skopeo',
  ];
  const rows = result.rows.map((r) => {
    const base = r.baseline ? result.rows.find((b) => b.id === r.baseline) : undefined;
    return [
      r.label,
      num(median(r.ms)),
      spread(r.ms),
      num(median(r.requests)) + (min(r.requests) !== max(r.requests) ? ` (${spread(r.requests)})` : ''),
      ...(anyImages ? [r.imagesPerSecond.length ? num(median(r.imagesPerSecond)) : '-'] : []),
      ...(anyMiB ? [r.mibPerSecond.length ? num(median(r.mibPerSecond)) : '-'] : []),
      ...(anyMem ? [mib(r.peakRssKiB), mib(r.growthKiB)] : []),
      ...(anyCpu
        ? [r.cpuMs.length ? num(median(r.cpuMs)) : '-', r.registryCpuMs.length ? num(median(r.registryCpuMs)) : '-']
        : []),
      ...(anyFailures ? [r.failures.join('/') || '-'] : []),
      base ? ratio(speedup(r, base)) : '',
      base ? `${((median(r.requests) / median(base.requests)) * 100).toFixed(1)}%` : '',
    ];
  });
  lines.push(
    table(header, rows)
      .split('\n')
      .map((l) => `    ${l}`)
      .join('\n'),
  );
  for (const g of result.goals) lines.push(`    goal: ${g.text}: ${g.measured} -> ${g.met ? 'MET' : 'NOT MET'}`);
  for (const n of result.notes) lines.push(`    note: ${n}`);
  const withBreakdown = result.rows.filter((r) => r.breakdown && (verbose || result.id === 'a'));
  if (withBreakdown.length) {
    lines.push('    requests by kind (last run):');
    for (const r of withBreakdown) lines.push(`      ${r.label}: ${formatBreakdown(r.breakdown!)}`);
  }
  return lines.join('\n');
}

export interface MachineInfo {
  cpus: number;
  cpuModel: string;
  memoryGiB: number;
  kernel: string;
  node: string;
  skopeo: string;
  registry: string;
  loadAverageAtStart: number[];
}

export async function machineInfo(): Promise<MachineInfo> {
  return {
    cpus: os.availableParallelism(),
    cpuModel: os.cpus()[0]?.model ?? 'unknown',
    memoryGiB: Math.round((os.totalmem() / 2 ** 30) * 10) / 10,
    kernel: `${os.type()} ${os.release()}`,
    node: process.version,
    skopeo: await versionOf('skopeo', ['--version']),
    registry: await versionOf('docker-registry', ['--version']),
    loadAverageAtStart: os.loadavg().map((l) => Math.round(l * 100) / 100),
  };
}

export function renderMachine(m: MachineInfo): string {
  return (
    `machine: ${m.cpus} cores (${m.cpuModel}), ${m.memoryGiB} GiB, ${m.kernel}; node ${m.node}; ` +
    `${m.skopeo}; ${m.registry}; load average at start ${m.loadAverageAtStart.join(' ')}`
  );
}

export async function saveJson(name: string, data: unknown): Promise<string> {
  const dir = path.join(REPO_ROOT, 'bench', 'results');
  await mkdir(dir, { recursive: true });
  const stamp = new Date().toISOString().replace(/[:.]/g, '-');
  const file = path.join(dir, `${name}-${stamp}.json`);
  await writeFile(file, JSON.stringify(data, null, 2) + '\n');
  return file;
}
