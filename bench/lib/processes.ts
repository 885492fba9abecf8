/**
 * Timed child processes: skopeo (isolated from the machine's container configuration, like the
 * test harness runs it) and the Sluice CLI. Optionally wrapped in GNU time for peak RSS and CPU.
 */
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const REPO_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const GNU_TIME = '/usr/bin/time';

export interface ProcessRun {
  /** Wall time from spawn to exit, including process start-up. */
  ms: number;
  stdout: string;
  /** With `measure`: peak resident set size of the process. */
  maxRssKiB?: number;
  /** With `measure`: user + system CPU time of the process. */
  cpuMs?: number;
}

let scratch: string | undefined;

/** A temp dir for this bench process, removed on exit. */
export function scratchDir(): string {
  if (!scratch) {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'sluice-bench-'));
    scratch = dir;
    process.on('exit', () => rmSync(dir, { recursive: true, force: true }));
  }
  return scratch;
}

let skopeoEnvCache: NodeJS.ProcessEnv | undefined;

/** Empty auth file and registries.conf, so no login, mirror or alias of the machine applies. */
function skopeoEnv(): NodeJS.ProcessEnv {
  if (!skopeoEnvCache) {
    const real = mkdtempSync(path.join(scratchDir(), 'skopeo-'));
    writeFileSync(path.join(real, 'auth.json'), '{"auths":{}}\n');
    writeFileSync(path.join(real, 'registries.conf'), '');
    skopeoEnvCache = {
      ...process.env,
      REGISTRY_AUTH_FILE: path.join(real, 'auth.json'),
      CONTAINERS_REGISTRIES_CONF: path.join(real, 'registries.conf'),
      XDG_RUNTIME_DIR: real,
    };
  }
  return skopeoEnvCache;
}

let counter = 0;

/** Runs a command to completion; rejects with its stderr on a non-zero exit. */
export function runTimed(
  command: string,
  args: readonly string[],
  options: { env?: NodeJS.ProcessEnv; measure?: boolean; input?: string; allowFailure?: boolean } = {},
): Promise<ProcessRun> {
  const measure = (options.measure ?? false) && existsSync(GNU_TIME);
  const timeFile = measure ? path.join(scratchDir(), `time-${process.pid}-${counter++}`) : '';
  const argv = measure ? ['-f', '%M %U %S', '-o', timeFile, command, ...args] : [...args];
  const started = performance.now();
  return new Promise((resolve, reject) => {
    const child = spawn(measure ? GNU_TIME : command, argv, {
      env: options.env ?? process.env,
      stdio: [options.input === undefined ? 'ignore' : 'pipe', 'pipe', 'pipe'],
    });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    child.stdout?.on('data', (c: Buffer) => out.push(c));
    child.stderr?.on('data', (c: Buffer) => err.push(c));
    if (options.input !== undefined) child.stdin?.end(options.input);
    child.on('error', reject);
    child.on('close', (code) => {
      const ms = performance.now() - started;
      const stdout = Buffer.concat(out).toString('utf8');
      if (code !== 0 && !options.allowFailure) {
        reject(new Error(`${command} ${args.join(' ')} exited ${code}: ${Buffer.concat(err).toString('utf8').trim()}`));
        return;
      }
      const run: ProcessRun = { ms, stdout };
      if (measure) {
        const [rss, user, sys] = readFileSync(timeFile, 'utf8').trim().split('\n').pop()!.split(' ').map(Number);
        rmSync(timeFile, { force: true });
        run.maxRssKiB = rss;
        run.cpuMs = ((user ?? 0) + (sys ?? 0)) * 1000;
      }
      resolve(run);
    });
  });
}

/** `skopeo copy` between plain-http registries (`host/repo:tag` references, no scheme). */
export function skopeoCopy(
  from: string,
  to: string,
  options: { all?: boolean; measure?: boolean } = {},
): Promise<ProcessRun> {
  return runTimed(
    'skopeo',
    [
      '--insecure-policy',
      'copy',
      '--quiet',
      ...(options.all ? ['--all'] : []),
      '--src-tls-verify=false',
      '--dest-tls-verify=false',
      `docker://${from}`,
      `docker://${to}`,
    ],
    { env: skopeoEnv(), ...(options.measure !== undefined ? { measure: options.measure } : {}) },
  );
}

/**
 * The Sluice CLI in a new process (the Node 24 that runs this bench, `bin/sluice.js` of `root`),
 * as `npx sluice` would run it.
 */
export function sluiceCli(
  args: readonly string[],
  options: { measure?: boolean; allowFailure?: boolean; root?: string } = {},
): Promise<ProcessRun> {
  // An empty auth file keeps the machine's logins out, as for skopeo.
  const authFile = path.join(scratchDir(), 'sluice-auth.json');
  if (!existsSync(authFile)) writeFileSync(authFile, '{"auths":{}}\n');
  const bin = path.join(options.root ?? REPO_ROOT, 'bin', 'sluice.js');
  return runTimed(process.execPath, [bin, '--quiet', '--authfile', authFile, ...args], options);
}

let clockTicks: number | undefined;

/** User + system CPU time a running process has used so far (e.g. a registry's), from /proc. */
export function processCpuMs(pid: number | undefined): number {
  if (pid === undefined) return NaN;
  clockTicks ??= Number(spawnSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).stdout.trim()) || 100;
  try {
    const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
    return ((Number(fields[11]) + Number(fields[12])) * 1000) / clockTicks;
  } catch {
    return NaN;
  }
}

/** Flushes dirty pages so one run's writeback does not land in the next run's timing. */
export async function syncDisks(): Promise<void> {
  await runTimed('sync', []);
}

export async function versionOf(command: string, args: readonly string[]): Promise<string> {
  try {
    return (await runTimed(command, args)).stdout.trim().split('\n')[0] ?? '';
  } catch {
    return 'unavailable';
  }
}
