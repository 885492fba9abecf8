import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after } from 'node:test';

/** A temporary directory removed when the test file finishes. */
export function tempDir(): string {
  const dir = mkdtempSync(path.join(tmpdir(), 'sluice-signing-'));
  after(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

/** Runs the real openssl CLI: an implementation independent of the code under test. */
export function openssl(args: string[], input?: Buffer | string): { status: number; stdout: Buffer; stderr: string } {
  const r = spawnSync('openssl', args, { input });
  if (r.error) throw r.error;
  return { status: r.status ?? -1, stdout: r.stdout, stderr: r.stderr.toString() };
}

export const fixture = (name: string): string => new URL(`./fixtures/${name}`, import.meta.url).pathname;

/** Every string reachable in an error: message and context, to check that no secret leaked. */
export function errorText(err: unknown): string {
  const e = err as { message?: string; context?: unknown; stack?: string };
  return `${e.message ?? ''} ${JSON.stringify(e.context ?? {})}`;
}
