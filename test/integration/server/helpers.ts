/** Shared pieces of the server tests: an in-process server over a workspace, tokens, requests. */
import { spawn, type ChildProcess } from 'node:child_process';
import { connect, createServer, type Server, type Socket } from 'node:net';
import path from 'node:path';
import { Writable } from 'node:stream';
import { createToken } from '../../../src/auth/index.ts';
import type { Runtime } from '../../../src/runtime.ts';
import { startServer, type ServerHandle, type ServerOptions } from '../../../src/server/index.ts';
import { sleep } from '../../helpers/proc.ts';
import type { Workspace } from '../../helpers/workspace.ts';

export const ROOT = path.resolve(import.meta.dirname, '../../..');

/** Collects JSON log lines in memory. */
export class LogCapture extends Writable {
  readonly lines: string[] = [];
  #partial = '';
  override _write(chunk: Buffer | string, _enc: BufferEncoding, done: () => void): void {
    const text = this.#partial + chunk.toString();
    const parts = text.split('\n');
    this.#partial = parts.pop() ?? '';
    this.lines.push(...parts.filter((l) => l !== ''));
    done();
  }
  text(): string {
    return this.lines.join('\n') + this.#partial;
  }
  entries(): Array<Record<string, unknown>> {
    return this.lines.map((l) => JSON.parse(l) as Record<string, unknown>);
  }
}

export interface TestServer {
  rt: Runtime;
  server: ServerHandle;
  url: string;
  logs: LogCapture;
  close(): Promise<void>;
}

export async function startTestServer(ws: Workspace, options: ServerOptions = {}): Promise<TestServer> {
  const rt = await ws.runtime();
  const logs = new LogCapture();
  const server = await startServer(rt, {
    listen: '127.0.0.1:0',
    scheduler: false,
    logStream: logs,
    logLevel: 'debug',
    env: { ...process.env, ...ws.env },
    graceMs: 5000,
    ...options,
  });
  return { rt, server, url: server.url, logs, close: () => server.close() };
}

export async function apiToken(rt: Runtime, role: string, teams: string[] = [], lifetimeMs?: number): Promise<string> {
  const created = await createToken(
    rt.store,
    { role, teams, ...(lifetimeMs !== undefined ? { lifetimeMs } : {}) },
    { actor: 'test', audit: rt.audit, knownTeams: rt.policy.teams.map((t) => t.name) },
  );
  return created.token;
}

export interface Reply {
  status: number;
  headers: Headers;
  text: string;
  json: any; // eslint-disable-line @typescript-eslint/no-explicit-any
}

export async function call(
  base: string,
  method: string,
  urlPath: string,
  options: {
    token?: string;
    body?: unknown;
    raw?: string | Buffer;
    headers?: Record<string, string>;
    contentType?: string;
  } = {},
): Promise<Reply> {
  const headers: Record<string, string> = { ...options.headers };
  if (options.token) headers.authorization = `Bearer ${options.token}`;
  let body: string | Buffer | undefined;
  if (options.raw !== undefined) body = options.raw;
  else if (options.body !== undefined) body = JSON.stringify(options.body);
  if (body !== undefined) headers['content-type'] = options.contentType ?? 'application/json';
  const res = await fetch(new URL(urlPath, base), { method, headers, body });
  const text = await res.text();
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    json = undefined;
  }
  return { status: res.status, headers: res.headers, text, json };
}

/** Polls `probe` until it returns a truthy value, or fails with `what`. */
export async function eventually<T>(
  what: string,
  probe: () => Promise<T | undefined | false>,
  timeoutMs = 10_000,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const v = await probe();
      if (v) return v;
    } catch (err) {
      last = err;
    }
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}${last ? `: ${String(last)}` : ''}`);
    await sleep(50);
  }
}

/** Parses Prometheus text into samples. */
export function parseMetrics(text: string): Array<{ name: string; labels: Record<string, string>; value: number }> {
  const out: Array<{ name: string; labels: Record<string, string>; value: number }> = [];
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    if (!m) throw new Error(`unparseable metrics line: ${line}`);
    const labels: Record<string, string> = {};
    for (const l of (m[2] ?? '').matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g)) labels[l[1]!] = l[2]!;
    out.push({ name: m[1]!, labels, value: Number(m[3]) });
  }
  return out;
}

export function metricValue(
  samples: ReturnType<typeof parseMetrics>,
  name: string,
  labels: Record<string, string> = {},
): number {
  return samples
    .filter((s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v))
    .reduce((n, s) => n + s.value, 0);
}

export interface ServeProcess {
  child: ChildProcess;
  url: Promise<string>;
  stdout(): string;
  stderr(): string;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  kill(signal?: NodeJS.Signals): void;
}

/** Runs `bin/sluice.js ARGS` as a real process (serve), collecting its output. */
export function spawnSluice(args: string[], options: { cwd?: string; env?: NodeJS.ProcessEnv } = {}): ServeProcess {
  const child = spawn(process.execPath, [path.join(ROOT, 'bin/sluice.js'), ...args], {
    cwd: options.cwd,
    env: { ...process.env, ...options.env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  let err = '';
  let resolveUrl: (u: string) => void;
  let rejectUrl: (e: Error) => void;
  const url = new Promise<string>((res, rej) => {
    resolveUrl = res;
    rejectUrl = rej;
  });
  child.stdout!.on('data', (d: Buffer) => {
    out += d.toString();
    const m = /listening on (\S+)/.exec(out);
    if (m) resolveUrl(m[1]!);
  });
  child.stderr!.on('data', (d: Buffer) => {
    err += d.toString();
  });
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((res) => {
    child.once('exit', (code, signal) => {
      rejectUrl(new Error(`sluice exited (${code ?? signal}) before listening:\n${err}`));
      res({ code, signal });
    });
  });
  const timer = setTimeout(() => child.kill('SIGKILL'), 60_000);
  timer.unref();
  void exited.then(() => clearTimeout(timer));
  return {
    child,
    url,
    stdout: () => out,
    stderr: () => err,
    exited,
    kill: (signal = 'SIGTERM') => {
      if (child.exitCode === null && child.signalCode === null) child.kill(signal);
    },
  };
}

/** A TCP relay in front of a server, so a test can take "the database" away and bring it back. */
export class Relay {
  #server: Server | undefined;
  readonly #sockets = new Set<Socket>();
  readonly #upstream: { host: string; port: number };
  port = 0;

  constructor(upstream: { host: string; port: number }) {
    this.#upstream = upstream;
  }

  async start(): Promise<void> {
    this.#server = createServer((client) => {
      const server = connect(this.#upstream.port, this.#upstream.host);
      for (const s of [client, server]) {
        this.#sockets.add(s);
        s.on('close', () => this.#sockets.delete(s));
        s.on('error', () => {});
      }
      client.pipe(server).pipe(client);
      client.on('close', () => server.destroy());
      server.on('close', () => client.destroy());
    });
    await new Promise<void>((resolve) => this.#server!.listen(this.port, '127.0.0.1', resolve));
    this.port = (this.#server.address() as { port: number }).port;
  }

  /** Drops every connection and stops listening (the port stays reserved for `start`). */
  async stop(): Promise<void> {
    for (const s of this.#sockets) s.destroy();
    await new Promise<void>((resolve) => (this.#server ? this.#server.close(() => resolve()) : resolve()));
    this.#server = undefined;
  }
}
