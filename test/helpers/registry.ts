/**
 * Runs the CNCF Distribution registry (`docker-registry` 2.8) on a random loopback port with
 * its own config and filesystem storage in a fresh temp dir.
 */
import { closeSync, openSync } from 'node:fs';
import { readFile, writeFile, mkdir } from 'node:fs/promises';
import http from 'node:http';
import https from 'node:https';
import path from 'node:path';
import bcrypt from 'bcryptjs';
import { stringify } from 'yaml';
import { getFreePort } from './ports.ts';
import { makeTempDir, removeTempDir, run, sleep, spawnDaemon, type Daemon } from './proc.ts';
import { getTestPki } from './tls.ts';
import { DEFAULT_USERS, startTokenServer, type TokenServerHandle, type TokenServerOptions } from './token-server.ts';

export type RegistryAuth = 'none' | 'htpasswd' | 'token';

/** One entry of Distribution's `notifications.endpoints`. */
export interface NotificationEndpoint {
  url: string;
  /** Defaults to `endpoint-<index>`. */
  name?: string;
  headers?: Record<string, string[]>;
  /** Per-request timeout. Default 1000 ms. */
  timeoutMs?: number;
  /** Failures before the endpoint is considered down and backoff starts. Default 3. */
  threshold?: number;
  /** Wait between retries once the threshold is reached. Default 100 ms (Distribution: 1 s). */
  backoffMs?: number;
  ignoredMediaTypes?: string[];
  /** Actions (`pull`, `push`, `delete`) not to report. */
  ignoredActions?: string[];
}

/** Settings that may differ between restarts of the same registry. */
export interface RegistryRuntimeOptions {
  /** `storage.delete.enabled`; default true. */
  deleteEnabled?: boolean;
  /** `storage.maintenance.readonly`: pushes and deletes answer 405 UNSUPPORTED. */
  readonly?: boolean;
  notifications?: NotificationEndpoint[];
  /** Default `info`; `debug` logs every request header set. */
  logLevel?: 'error' | 'warn' | 'info' | 'debug';
}

export interface RegistryOptions extends RegistryRuntimeOptions {
  auth?: RegistryAuth;
  /** Serve HTTPS with the shared test certificate (see tls.ts). */
  tls?: boolean;
  /** User name to password, for htpasswd and token auth. Default alice and reader. */
  users?: Record<string, string>;
  /** Token server settings (ACL, anonymousPull, lifetime, alg...) for `auth: 'token'`. */
  token?: Omit<TokenServerOptions, 'users' | 'service' | 'tls'>;
}

export interface RegistryHandle {
  /** `127.0.0.1:PORT`, as used in image references. */
  host: string;
  /** `http://127.0.0.1:PORT` or `https://127.0.0.1:PORT`. */
  url: string;
  port: number;
  tls: boolean;
  auth: RegistryAuth;
  users: Record<string, string>;
  /** CA that signed the registry's certificate (TLS only). */
  caFile?: string;
  caPem?: string;
  /** Dir holding only `ca.crt`, for skopeo `--cert-dir` (TLS only). */
  caDir?: string;
  /** Temp dir with config, storage, htpasswd and log. Removed by {@link RegistryHandle.stop}. */
  rootDir: string;
  storageDir: string;
  configFile: string;
  logFile: string;
  tokenServer?: TokenServerHandle;
  /** True while the registry process runs. */
  running(): boolean;
  /** Process id of the running registry, for signals a test wants to send itself. */
  pid(): number | undefined;
  /**
   * SIGSTOPs the registry: connections are still accepted by the kernel but never answered,
   * which is how a hung registry looks to a client. {@link RegistryHandle.thaw} undoes it.
   */
  freeze(): void;
  thaw(): void;
  /** Stops the process but keeps storage and port: the "registry is down" state. */
  kill(): Promise<void>;
  /** (Re)starts on the same port and storage, optionally with changed runtime settings. */
  restart(overrides?: RegistryRuntimeOptions): Promise<void>;
  /** The registry's log so far. */
  readLog(): Promise<string>;
  /** Stops the process and token server and removes the temp dir. Safe to call twice. */
  stop(): Promise<void>;
}

const HTPASSWD_BCRYPT_COST = 4;
const NEVER_MEDIA_TYPE = 'application/x.sluice-test.never';
const READY_POLL_MS = 25;
const READY_TIMEOUT_MS = 15_000;
const START_ATTEMPTS = 4;

function duration(ms: number): string {
  return `${ms}ms`;
}

interface ConfigInputs {
  port: number;
  storageDir: string;
  auth: RegistryAuth;
  tlsFiles?: { certFile: string; keyFile: string };
  htpasswdFile: string;
  tokenServer?: TokenServerHandle;
  runtime: RegistryRuntimeOptions;
}

function buildConfig(inputs: ConfigInputs): Record<string, unknown> {
  const { runtime } = inputs;
  const config: Record<string, unknown> = {
    version: 0.1,
    log: { level: runtime.logLevel ?? 'info', formatter: 'text', fields: { service: 'registry' } },
    storage: {
      filesystem: { rootdirectory: inputs.storageDir },
      delete: { enabled: runtime.deleteEnabled ?? true },
      // Purging would delete uploads a slow test left open; tests own their storage anyway.
      maintenance: {
        uploadpurging: { enabled: false },
        readonly: { enabled: runtime.readonly ?? false },
      },
      // No blob descriptor cache: after garbage-collect a cache would report deleted blobs.
    },
    http: {
      addr: `127.0.0.1:${inputs.port}`,
      // Fixed so upload state (_state) stays valid across restarts.
      secret: 'sluice-test-http-secret',
      headers: { 'X-Content-Type-Options': ['nosniff'] },
      ...(inputs.tlsFiles ? { tls: { certificate: inputs.tlsFiles.certFile, key: inputs.tlsFiles.keyFile } } : {}),
    },
  };
  if (inputs.auth === 'htpasswd') {
    config.auth = { htpasswd: { realm: 'sluice-test', path: inputs.htpasswdFile } };
  } else if (inputs.auth === 'token' && inputs.tokenServer) {
    config.auth = {
      token: {
        realm: inputs.tokenServer.realm,
        service: inputs.tokenServer.service,
        issuer: inputs.tokenServer.issuer,
        rootcertbundle: inputs.tokenServer.certFile,
      },
    };
  }
  if (runtime.notifications && runtime.notifications.length > 0) {
    config.notifications = {
      events: { includereferences: true },
      endpoints: runtime.notifications.map((endpoint, index) => ({
        name: endpoint.name ?? `endpoint-${index}`,
        url: endpoint.url,
        headers: endpoint.headers ?? {},
        timeout: duration(endpoint.timeoutMs ?? 1000),
        threshold: endpoint.threshold ?? 3,
        backoff: duration(endpoint.backoffMs ?? 100),
        // Distribution 2.8 applies `ignore.actions` only when `ignoredmediatypes` is non-empty,
        // so a media type no event carries is added to make action filtering take effect.
        ...(endpoint.ignoredMediaTypes?.length || endpoint.ignoredActions?.length
          ? { ignoredmediatypes: endpoint.ignoredMediaTypes?.length ? endpoint.ignoredMediaTypes : [NEVER_MEDIA_TYPE] }
          : {}),
        ...(endpoint.ignoredActions ? { ignore: { actions: endpoint.ignoredActions } } : {}),
      })),
    };
  }
  return config;
}

/** GET /v2/ once; resolves with the status, or undefined if nothing answered. */
function probe(url: string, caPem: string | undefined): Promise<number | undefined> {
  return new Promise((resolve) => {
    const target = new URL('/v2/', url);
    const onResponse = (res: http.IncomingMessage): void => {
      res.resume();
      resolve(res.statusCode);
    };
    const req =
      target.protocol === 'https:'
        ? https.get(target, { ca: caPem, agent: false }, onResponse)
        : http.get(target, { agent: false }, onResponse);
    req.setTimeout(1000, () => req.destroy());
    req.on('error', () => resolve(undefined));
  });
}

async function waitReady(url: string, caPem: string | undefined, daemon: Daemon, logFile: string): Promise<void> {
  const deadline = Date.now() + READY_TIMEOUT_MS;
  while (Date.now() < deadline) {
    const status = await probe(url, caPem);
    if (status === 200 || status === 401) return;
    if (!daemon.running()) {
      const log = await readFile(logFile, 'utf8').catch(() => '');
      throw new RegistryStartError(`docker-registry exited before becoming ready:\n${log.slice(-4000)}`, log);
    }
    await sleep(READY_POLL_MS);
  }
  await daemon.stop();
  throw new RegistryStartError(`docker-registry did not answer GET /v2/ within ${READY_TIMEOUT_MS} ms`, '');
}

class RegistryStartError extends Error {
  readonly log: string;
  constructor(message: string, log: string) {
    super(message);
    this.name = 'RegistryStartError';
    this.log = log;
  }
}

/**
 * Starts a registry and waits until `GET /v2/` answers. Typical start-up is 50–100 ms.
 *
 * @example
 * const registry = await startRegistry({ auth: 'token', tls: true });
 * try { ... } finally { await registry.stop(); }
 */
export async function startRegistry(options: RegistryOptions = {}): Promise<RegistryHandle> {
  const auth = options.auth ?? 'none';
  const useTls = options.tls ?? false;
  const users = { ...(options.users ?? DEFAULT_USERS) };
  const rootDir = await makeTempDir('registry');
  const storageDir = path.join(rootDir, 'storage');
  const configFile = path.join(rootDir, 'config.yml');
  const logFile = path.join(rootDir, 'registry.log');
  const htpasswdFile = path.join(rootDir, 'htpasswd');
  await mkdir(storageDir);
  let tokenServer: TokenServerHandle | undefined;

  try {
    const pki = useTls ? await getTestPki() : undefined;
    if (auth === 'htpasswd') {
      const lines = Object.entries(users).map(([user, password]) => {
        // Distribution checks bcrypt on every request; the minimum cost keeps that at ~1 ms.
        return `${user}:${bcrypt.hashSync(password, HTPASSWD_BCRYPT_COST)}`;
      });
      await writeFile(htpasswdFile, lines.join('\n') + '\n');
    }
    if (auth === 'token') tokenServer = await startTokenServer({ ...options.token, users, tls: useTls });
    const tokens = tokenServer;

    let runtime: RegistryRuntimeOptions = {
      deleteEnabled: options.deleteEnabled,
      readonly: options.readonly,
      notifications: options.notifications,
      logLevel: options.logLevel,
    };
    let daemon: Daemon | undefined;
    let port = 0;
    const scheme = useTls ? 'https' : 'http';

    const launch = async (): Promise<void> => {
      const config = buildConfig({
        port,
        storageDir,
        auth,
        htpasswdFile,
        runtime,
        ...(pki ? { tlsFiles: { certFile: pki.certFile, keyFile: pki.keyFile } } : {}),
        ...(tokens ? { tokenServer: tokens } : {}),
      });
      await writeFile(configFile, stringify(config));
      const fd = openSync(logFile, 'a');
      try {
        daemon = spawnDaemon('docker-registry', ['serve', configFile], fd, { orphanCleanupDir: rootDir });
      } finally {
        closeSync(fd);
      }
      await waitReady(`${scheme}://127.0.0.1:${port}`, pki?.caPem, daemon, logFile);
    };

    for (let attempt = 1; ; attempt++) {
      port = await getFreePort();
      try {
        await launch();
        break;
      } catch (error) {
        // Another process may take the port between getFreePort and the registry's bind.
        const retryable = error instanceof RegistryStartError && /address already in use/.test(error.log);
        if (!retryable || attempt >= START_ATTEMPTS) throw error;
      }
    }

    let stopped = false;
    const handle: RegistryHandle = {
      host: `127.0.0.1:${port}`,
      url: `${scheme}://127.0.0.1:${port}`,
      port,
      tls: useTls,
      auth,
      users,
      ...(pki ? { caFile: pki.caFile, caPem: pki.caPem, caDir: pki.caDir } : {}),
      rootDir,
      storageDir,
      configFile,
      logFile,
      ...(tokens ? { tokenServer: tokens } : {}),
      running: () => daemon?.running() ?? false,
      pid: () => (daemon?.running() ? daemon.pid : undefined),
      freeze: () => {
        if (daemon?.running()) process.kill(daemon.pid, 'SIGSTOP');
      },
      thaw: () => {
        if (daemon?.running()) process.kill(daemon.pid, 'SIGCONT');
      },
      kill: async () => {
        await daemon?.stop();
      },
      restart: async (overrides: RegistryRuntimeOptions = {}) => {
        if (stopped) throw new Error('registry was stopped; start a new one');
        await daemon?.stop();
        runtime = { ...runtime, ...overrides };
        await launch();
      },
      readLog: () => readFile(logFile, 'utf8'),
      stop: async () => {
        if (stopped) return;
        stopped = true;
        await daemon?.stop();
        await tokens?.close();
        await removeTempDir(rootDir);
      },
    };
    return handle;
  } catch (error) {
    await tokenServer?.close();
    await removeTempDir(rootDir);
    throw error;
  }
}

export interface GarbageCollectOptions {
  /** `--delete-untagged`: also remove manifests no tag points at. */
  deleteUntagged?: boolean;
  dryRun?: boolean;
}

/**
 * Runs `docker-registry garbage-collect` over the registry's storage and returns its output.
 * Distribution expects no concurrent pushes during GC; stop the registry or restart it with
 * `readonly: true` first when a test pushes in parallel.
 */
export async function garbageCollect(registry: RegistryHandle, options: GarbageCollectOptions = {}): Promise<string> {
  const args = ['garbage-collect'];
  if (options.deleteUntagged) args.push('--delete-untagged');
  if (options.dryRun) args.push('--dry-run');
  args.push(registry.configFile);
  const { stdout, stderr } = await run('docker-registry', args);
  return stdout.toString('utf8') + stderr;
}
