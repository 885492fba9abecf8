/**
 * Process and temp-dir lifecycle shared by the helpers.
 *
 * Integration tests start real daemons. A test that throws, times out or is killed must not
 * leave registries listening or temp dirs behind, so everything started here is tracked and
 * torn down on normal exit, on SIGINT/SIGTERM, and (through a watchdog) even when the test
 * process is SIGKILLed.
 */
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';

const liveChildren = new Set<ChildProcess>();
const tempDirs = new Set<string>();
let hooksInstalled = false;

function cleanupSync(): void {
  for (const child of liveChildren) {
    try {
      child.kill('SIGKILL');
    } catch {
      // Already gone.
    }
  }
  liveChildren.clear();
  for (const dir of tempDirs) {
    try {
      rmSync(dir, { recursive: true, force: true });
    } catch {
      // Best effort: a busy dir on exit must not mask the test's own failure.
    }
  }
  tempDirs.clear();
}

function installHooks(): void {
  if (hooksInstalled) return;
  hooksInstalled = true;
  process.on('exit', cleanupSync);
  for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
    // A listener replaces the default "die" behaviour, so re-raise after cleaning up.
    const onSignal = (): void => {
      cleanupSync();
      process.removeListener(signal, onSignal);
      process.kill(process.pid, signal);
    };
    process.on(signal, onSignal);
  }
}

/**
 * Creates a temp dir under the OS temp dir that is removed when the process exits.
 * Call {@link removeTempDir} to remove it earlier.
 */
export async function makeTempDir(prefix: string): Promise<string> {
  installHooks();
  const dir = await mkdtemp(path.join(os.tmpdir(), `sluice-${prefix}-`));
  tempDirs.add(dir);
  return dir;
}

/** Synchronous {@link makeTempDir}, for lazily initialised caches. */
export function makeTempDirSync(prefix: string): string {
  installHooks();
  const dir = mkdtempSync(path.join(os.tmpdir(), `sluice-${prefix}-`));
  tempDirs.add(dir);
  return dir;
}

/** Removes a dir made by {@link makeTempDir} now rather than at exit. */
export async function removeTempDir(dir: string): Promise<void> {
  tempDirs.delete(dir);
  await rm(dir, { recursive: true, force: true });
}

export interface RunResult {
  stdout: Buffer;
  stderr: string;
}

/** Error thrown by {@link run}; carries the exit code and stderr for assertions. */
export class CommandError extends Error {
  readonly code: number | null;
  readonly stderr: string;
  readonly stdout: string;
  constructor(message: string, code: number | null, stdout: string, stderr: string) {
    super(message);
    this.name = 'CommandError';
    this.code = code;
    this.stdout = stdout;
    this.stderr = stderr;
  }
}

/**
 * Runs a short-lived command to completion and returns its output.
 * Throws {@link CommandError} with stderr in the message on a non-zero exit, because a bare
 * "exit code 1" from skopeo or umoci is useless when a test fails in CI.
 */
export function run(
  command: string,
  args: readonly string[],
  options: { cwd?: string; env?: NodeJS.ProcessEnv; timeoutMs?: number } = {},
): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    execFile(
      command,
      args,
      {
        cwd: options.cwd,
        env: options.env ?? process.env,
        encoding: 'buffer',
        maxBuffer: 64 * 1024 * 1024,
        timeout: options.timeoutMs ?? 120_000,
        killSignal: 'SIGKILL',
      },
      (error, stdout, stderr) => {
        const errText = stderr.toString('utf8');
        if (error) {
          const code = typeof error.code === 'number' ? error.code : null;
          const shown = [command, ...args].join(' ');
          reject(
            new CommandError(
              `${shown} failed (${code ?? error.signal ?? error.message}): ${errText.trim()}`,
              code,
              stdout.toString('utf8'),
              errText,
            ),
          );
          return;
        }
        resolve({ stdout, stderr: errText });
      },
    );
  });
}

export interface Daemon {
  readonly child: ChildProcess;
  readonly pid: number;
  /** Resolves when the process has exited, with its exit code or signal. */
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  /** True until the process exits. */
  running(): boolean;
  /** SIGTERM, then SIGKILL after `graceMs`; resolves once the process is gone. */
  stop(graceMs?: number): Promise<void>;
}

/**
 * Starts a long-running process whose stdout and stderr go to `logFd`.
 *
 * A tiny `sh` watchdog holds a pipe from this process and kills the daemon when the pipe
 * closes, which the kernel does even when this process is SIGKILLed and no exit hook runs;
 * it then removes `orphanCleanupDir` too. Both processes are unref'd so they never keep the
 * test process alive.
 */
export function spawnDaemon(
  command: string,
  args: readonly string[],
  logFd: number,
  options: { orphanCleanupDir?: string } = {},
): Daemon {
  installHooks();
  const child = spawn(command, args, { stdio: ['ignore', logFd, logFd] });
  if (child.pid === undefined) throw new Error(`failed to start ${command}`);
  const pid = child.pid;
  liveChildren.add(child);
  let alive = true;
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => {
    child.once('exit', (code, signal) => {
      alive = false;
      liveChildren.delete(child);
      resolve({ code, signal });
    });
    child.once('error', () => {
      alive = false;
      liveChildren.delete(child);
      resolve({ code: null, signal: null });
    });
  });

  const watchdog = spawn(
    'sh',
    [
      '-c',
      'read _ignored; kill -9 "$0" 2>/dev/null; [ -n "$1" ] && rm -rf "$1"',
      String(pid),
      options.orphanCleanupDir ?? '',
    ],
    { stdio: ['pipe', 'ignore', 'ignore'] },
  );
  watchdog.on('error', () => {});
  watchdog.stdin?.on('error', () => {});
  watchdog.unref();
  (watchdog.stdin as unknown as { unref?: () => void } | null)?.unref?.();
  child.unref();
  void exited.then(() => {
    // Killed rather than released so it can never signal a recycled pid.
    watchdog.kill('SIGKILL');
  });

  return {
    child,
    pid,
    exited,
    running: () => alive,
    async stop(graceMs = 2000): Promise<void> {
      if (!alive) return;
      child.kill('SIGTERM');
      // A frozen (SIGSTOPped) process only acts on SIGTERM once continued.
      child.kill('SIGCONT');
      const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
      await exited;
      clearTimeout(timer);
    },
  };
}

/** Resolves after `ms` milliseconds. */
export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
