/**
 * What every command needs: global flags, where to write, and a registry pool built from
 * flags (and, once loaded, from the policy's registry list).
 */
import { readFileSync } from 'node:fs';
import type { Command } from 'commander';
import { SluiceError } from '../errors.ts';
import { CredentialStore } from '../oci/credentials.ts';
import { RegistryPool, type RegistrySettings } from '../oci/pool.ts';
import { parseOutputFormat, stdio, type OutputFormat, type Writer } from './output.ts';

export interface GlobalOptions {
  output: OutputFormat;
  insecure: boolean;
  caFile?: string;
  authfile?: string;
  config?: string;
  quiet: boolean;
}

export class CliContext {
  readonly w: Writer;
  readonly env: NodeJS.ProcessEnv;
  private pools: RegistryPool[] = [];

  constructor(w: Writer = stdio, env: NodeJS.ProcessEnv = process.env) {
    this.w = w;
    this.env = env;
  }

  globals(cmd: Command): GlobalOptions {
    const o = cmd.optsWithGlobals() as Record<string, unknown>;
    return {
      output: parseOutputFormat(String(o.output ?? 'table')),
      insecure: !!o.insecure,
      caFile: o.caFile as string | undefined,
      authfile: (o.authfile as string | undefined) ?? this.env.SLUICE_AUTH_FILE,
      config: o.config as string | undefined,
      quiet: !!o.quiet,
    };
  }

  /** Whether a progress display may be drawn (never with machine-readable output). */
  interactive(g: GlobalOptions): boolean {
    return !g.quiet && (g.output === 'table' || g.output === 'wide');
  }

  pool(g: GlobalOptions, registries: Record<string, RegistrySettings> = {}): RegistryPool {
    const defaults: RegistrySettings = {};
    if (g.insecure) defaults.insecure = true;
    if (g.caFile) {
      try {
        defaults.caPem = readFileSync(g.caFile, 'utf8');
      } catch (err) {
        throw new SluiceError('CA_FILE_UNREADABLE', 'invalid-input', `cannot read --ca-file ${g.caFile}: ${(err as Error).message}`);
      }
    }
    const env = g.authfile ? { ...this.env, REGISTRY_AUTH_FILE: g.authfile } : this.env;
    const pool = new RegistryPool({ credentials: new CredentialStore({ env }), registries, defaults });
    this.pools.push(pool);
    return pool;
  }

  close(): void {
    for (const p of this.pools) p.close();
    this.pools = [];
  }
}
