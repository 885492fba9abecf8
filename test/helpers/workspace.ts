/**
 * A Sluice workspace for integration tests: a temp dir with a sluice.yaml whose registries
 * point at harness registries, and a fresh database (SQLite file or PostgreSQL schema).
 */
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { parseDocument } from 'yaml';
import { renderInitFile } from '../../src/policy/index.ts';
import { openRuntime, type Runtime } from '../../src/runtime.ts';
import type { Engine } from '../../src/store/index.ts';
import { runCli, type CliResult } from './cli.ts';
import { createTestDatabase, type TestDatabase } from './db.ts';
import { makeTempDir, removeTempDir } from './proc.ts';

export interface WorkspaceRegistry {
  name: string;
  url: string;
  kind?: 'distribution' | 'quay' | 'harbor' | 'generic';
  /** Secret reference for credentials, e.g. `env:REG_CREDS`. */
  credentials?: string;
  caFile?: string;
}

export interface WorkspaceOptions {
  registries: WorkspaceRegistry[];
  engine?: Engine;
  /** Edits the parsed policy document before it is written (paths like ['spec', 'stages', 0]). */
  edit?: (doc: ReturnType<typeof parseDocument>) => void;
  env?: NodeJS.ProcessEnv;
}

export interface Workspace {
  dir: string;
  configPath: string;
  db: TestDatabase;
  env: NodeJS.ProcessEnv;
  cli(args: string[], env?: NodeJS.ProcessEnv): Promise<CliResult>;
  runtime(): Promise<Runtime>;
  cleanup(): Promise<void>;
}

export async function createWorkspace(options: WorkspaceOptions): Promise<Workspace> {
  const dir = await makeTempDir('sluice-ws-');
  const doc = parseDocument(renderInitFile());
  doc.setIn(
    ['spec', 'registries'],
    options.registries.map((r, i) => ({
      name: r.name,
      url: r.url,
      kind: r.kind ?? 'distribution',
      default: i === 0,
      ...(r.kind === undefined || r.kind === 'distribution' ? { referrers: 'tags' } : {}),
      ...(r.credentials ? { credentials: r.credentials } : {}),
      ...(r.caFile ? { caFile: r.caFile } : {}),
    })),
  );
  options.edit?.(doc);
  const configPath = path.join(dir, 'sluice.yaml');
  await writeFile(configPath, doc.toString());
  const db = await createTestDatabase(options.engine ?? 'sqlite');
  const env = { ...options.env, SLUICE_DATABASE_URL: db.url };
  const opened: Runtime[] = [];
  return {
    dir,
    configPath,
    db,
    env,
    cli: (args, extra = {}) => runCli(['--config', configPath, ...args], { ...env, ...extra }),
    async runtime() {
      const rt = await openRuntime({ configPath, env: { ...process.env, ...env } });
      opened.push(rt);
      return rt;
    },
    async cleanup() {
      for (const rt of opened) await rt.close();
      await db.cleanup();
      await removeTempDir(dir);
    },
  };
}
