/**
 * What every command needs: global flags, where to write, and a registry pool built from
 * flags (and, once loaded, from the policy's registry list).
 */
import { existsSync } from 'node:fs';
import type { Command } from 'commander';
import { SluiceError } from '../errors.ts';
import { MAX_CERTIFICATE_FILE_BYTES, readInputText } from '../files.ts';
import { CredentialStore, type Credential } from '../oci/credentials.ts';
import { DEFAULT_POLICY_FILE } from '../policy/schema.ts';
import { RegistryPool, type RegistrySettings } from '../oci/pool.ts';
import { formatWait, type RetryWait } from '../oci/transport.ts';
import type { Runtime } from '../runtime.ts';
import { parseOutputFormat, stdio, type OutputFormat, type Writer } from './output.ts';

/** Waits this long or shorter pass unannounced: a blip, not a stall the user should know about. */
export const ANNOUNCE_WAIT_MS = 2000;

/** The stderr line for a wait before a retry, or undefined when the wait is too short to mention. */
export function retryWaitNotice(wait: RetryWait): string | undefined {
  if (wait.delayMs <= ANNOUNCE_WAIT_MS) return undefined;
  const why =
    wait.status !== undefined
      ? `HTTP ${wait.status}${wait.retryAfterMs !== undefined ? `, Retry-After ${formatWait(wait.retryAfterMs)}` : ''}`
      : (wait.error ?? 'network error');
  return `sluice: waiting ${formatWait(wait.delayMs)} before retrying ${wait.method} ${wait.url.host}${wait.url.pathname} (${why}; attempt ${wait.attempt} of ${wait.attempts})\n`;
}

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
  private runtimes: Runtime[] = [];

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

  /** Policy, store and registry clients, for commands that work on the lifecycle state. */
  async runtime(g: GlobalOptions): Promise<Runtime> {
    // Loaded on demand: the store and its drivers are most of the CLI's start-up, and the
    // registry commands never need them.
    const { openRuntime } = await import('../runtime.ts');
    const rt = await openRuntime({
      configPath: g.config,
      env: this.env,
      registryDefaults: await this.registryDefaults(g),
      authFile: g.authfile,
    });
    this.runtimes.push(rt);
    return rt;
  }

  /** The runtime when a policy file is there (or named), for commands that also work without one. */
  async optionalRuntime(g: GlobalOptions): Promise<Runtime | undefined> {
    if (g.config === undefined && !existsSync(DEFAULT_POLICY_FILE)) return undefined;
    return this.runtime(g);
  }

  private async registryDefaults(g: GlobalOptions): Promise<RegistrySettings> {
    const defaults: RegistrySettings = {};
    // A silent minute looks like a hang; the transport reports waits and the CLI says so.
    if (!g.quiet) {
      defaults.onRetry = (wait) => {
        const notice = retryWaitNotice(wait);
        if (notice) this.w.err(notice);
      };
    }
    if (g.insecure) defaults.insecure = true;
    if (g.caFile) {
      const file = g.caFile;
      defaults.caPem = await readInputText(file, {
        what: '--ca-file',
        limit: MAX_CERTIFICATE_FILE_BYTES,
        unreadable: (errno) =>
          new SluiceError('CA_FILE_UNREADABLE', 'invalid-input', `cannot read --ca-file ${file}: ${errno}`),
      });
    }
    return defaults;
  }

  /**
   * Registry clients for the registry commands: settings and credentials of the policy's
   * registries when a policy file is there (or named with --config), flags for the rest.
   */
  async pool(g: GlobalOptions): Promise<RegistryPool> {
    const defaults = await this.registryDefaults(g);
    let registries: Record<string, RegistrySettings> = {};
    let explicit: Record<string, Credential> = {};
    const policyPath = g.config ?? DEFAULT_POLICY_FILE;
    if (g.config !== undefined || existsSync(policyPath)) {
      // The policy modules (and the YAML parser) load only when there is a policy to read.
      const [{ loadPolicy }, { registrySettings }] = await Promise.all([
        import('../policy/index.ts'),
        import('../registries/settings.ts'),
      ]);
      const policy = await loadPolicy(policyPath);
      ({ settings: registries, credentials: explicit } = await registrySettings(policy, this.env));
    }
    const env = g.authfile ? { ...this.env, REGISTRY_AUTH_FILE: g.authfile } : this.env;
    const pool = new RegistryPool({ credentials: new CredentialStore({ env, explicit }), registries, defaults });
    this.pools.push(pool);
    return pool;
  }

  async close(): Promise<void> {
    for (const p of this.pools) p.close();
    this.pools = [];
    for (const rt of this.runtimes) await rt.close();
    this.runtimes = [];
  }
}
