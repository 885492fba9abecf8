/** Runs the sluice CLI in-process (fast) or as a real process (for the bin entry point). */
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { main } from '../../src/cli/main.ts';
import { CommandError, makeTempDir, run } from './proc.ts';

export interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

export async function runCli(args: string[], env: NodeJS.ProcessEnv = {}): Promise<CliResult> {
  let stdout = '';
  let stderr = '';
  const code = await main(
    args,
    { out: (t) => void (stdout += t), err: (t) => void (stderr += t) },
    { ...process.env, ...env },
  );
  return { code, stdout, stderr };
}

/** Writes a containers-auth.json with `user:password` for each registry host. */
export async function writeAuthFile(entries: Record<string, { user: string; password: string }>): Promise<string> {
  const dir = await makeTempDir('sluice-authfile-');
  const file = path.join(dir, 'auth.json');
  const auths: Record<string, { auth: string }> = {};
  for (const [host, { user, password }] of Object.entries(entries)) {
    auths[host] = { auth: Buffer.from(`${user}:${password}`).toString('base64') };
  }
  await writeFile(file, JSON.stringify({ auths }));
  return file;
}

const ROOT = path.resolve(import.meta.dirname, '../..');

/** Runs `bin/sluice.js` with the repository's Node 24, as a user would through npx. */
export async function runBin(args: string[], env: NodeJS.ProcessEnv = {}): Promise<CliResult> {
  try {
    const r = await run(process.execPath, [path.join(ROOT, 'bin/sluice.js'), ...args], {
      env: { ...process.env, ...env },
    });
    return { code: 0, stdout: r.stdout.toString('utf8'), stderr: r.stderr };
  } catch (err) {
    if (!(err instanceof CommandError)) throw err;
    return { code: err.code ?? 1, stdout: err.stdout, stderr: err.stderr };
  }
}
