/**
 * A stand-in for the object storage that real registries redirect blob downloads to.
 *
 * It listens on 127.0.0.2, a different origin from the registry on 127.0.0.1 (Linux answers
 * on all of 127/8), fetches each blob from the registry with its own credentials, and records
 * every request's headers so tests can prove that a client did not forward the registry's
 * `Authorization` across origins.
 */
import http, { type IncomingHttpHeaders, type IncomingMessage, type ServerResponse } from 'node:http';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import { getTestPki } from './tls.ts';

/** The registry the blob host reads from: a RegistryHandle fits. */
export interface BlobSource {
  url: string;
  caPem?: string;
  users?: Record<string, string>;
}

export interface BlobHostOptions {
  /** Registry user the blob host authenticates as; default `alice` if known, else anonymous. */
  user?: string;
  /** Fetch anonymously even if the registry has users. */
  anonymous?: boolean;
  /** Bind address. Default 127.0.0.2, so the host is a different origin from the registry. */
  host?: string;
  /** Serve HTTPS with the shared test certificate (its SAN includes 127.0.0.2). */
  tls?: boolean;
}

export interface BlobHostRequestRecord {
  method: string;
  /** Path and query as received. */
  url: string;
  /** Every request header, lower-cased names. */
  headers: IncomingHttpHeaders;
  status: number;
  time: number;
}

export interface BlobHostHandle {
  /** e.g. `http://127.0.0.2:40111` */
  url: string;
  host: string;
  readonly requests: BlobHostRequestRecord[];
  /** URL that serves blob `digest` of repository `name`. */
  blobUrl(name: string, digest: string, query?: string): string;
  reset(): void;
  /** Answers the next `count` requests with `status` (e.g. 403 for an expired presigned URL). */
  failNext(count: number, status?: number): void;
  close(): Promise<void>;
}

interface Upstream {
  status: number;
  headers: IncomingHttpHeaders;
  body: IncomingMessage;
}

function requestUpstream(url: URL, method: string, headers: Record<string, string>, caPem?: string): Promise<Upstream> {
  return new Promise((resolve, reject) => {
    const onResponse = (res: IncomingMessage): void =>
      resolve({ status: res.statusCode ?? 0, headers: res.headers, body: res });
    const req =
      url.protocol === 'https:'
        ? https.request(url, { method, headers, ca: caPem, agent: false }, onResponse)
        : http.request(url, { method, headers, agent: false }, onResponse);
    req.on('error', reject);
    req.end();
  });
}

function parseChallenge(header: string | undefined): { scheme: string; params: Record<string, string> } | undefined {
  const match = /^(\w+)\s*(.*)$/s.exec(header ?? '');
  if (!match) return undefined;
  const params: Record<string, string> = {};
  for (const [, key, value] of match[2]!.matchAll(/(\w+)="([^"]*)"/g)) params[key!.toLowerCase()] = value!;
  return { scheme: match[1]!.toLowerCase(), params };
}

/** Starts a blob host in front of `registry`'s blobs. */
export async function startBlobHost(registry: BlobSource, options: BlobHostOptions = {}): Promise<BlobHostHandle> {
  const users = registry.users ?? {};
  const user = options.anonymous ? undefined : (options.user ?? ('alice' in users ? 'alice' : undefined));
  const basic =
    user !== undefined ? `Basic ${Buffer.from(`${user}:${users[user] ?? ''}`).toString('base64')}` : undefined;
  const requests: BlobHostRequestRecord[] = [];
  let failures = { count: 0, status: 403 };
  const bearerByRepo = new Map<string, string>();

  async function fetchBlob(name: string, digest: string, method: string, range: string | undefined): Promise<Upstream> {
    const url = new URL(`/v2/${name}/blobs/${digest}`, registry.url);
    const headers: Record<string, string> = range ? { range } : {};
    const cached = bearerByRepo.get(name);
    const first = await requestUpstream(
      url,
      method,
      cached ? { ...headers, authorization: cached } : headers,
      registry.caPem,
    );
    if (first.status !== 401) return first;
    first.body.resume();
    const challenge = parseChallenge(first.headers['www-authenticate']);
    let authorization: string | undefined;
    if (challenge?.scheme === 'basic') {
      authorization = basic;
    } else if (challenge?.scheme === 'bearer' && challenge.params.realm) {
      const realm = new URL(challenge.params.realm);
      if (challenge.params.service) realm.searchParams.set('service', challenge.params.service);
      realm.searchParams.set('scope', `repository:${name}:pull`);
      const tokenResponse = await requestUpstream(realm, 'GET', basic ? { authorization: basic } : {}, registry.caPem);
      const chunks: Buffer[] = [];
      for await (const chunk of tokenResponse.body) chunks.push(chunk as Buffer);
      if (tokenResponse.status === 200) {
        const parsed = JSON.parse(Buffer.concat(chunks).toString('utf8')) as { token?: string; access_token?: string };
        authorization = `Bearer ${parsed.token ?? parsed.access_token}`;
        bearerByRepo.set(name, authorization);
      }
    }
    if (!authorization) return first;
    return requestUpstream(url, method, { ...headers, authorization }, registry.caPem);
  }

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const record: BlobHostRequestRecord = {
      method: req.method ?? 'GET',
      url: req.url ?? '/',
      headers: { ...req.headers },
      status: 0,
      time: Date.now(),
    };
    requests.push(record);
    const reply = (status: number, text: string): void => {
      record.status = status;
      res.writeHead(status, { 'content-type': 'text/plain', 'content-length': Buffer.byteLength(text) });
      res.end(text);
    };
    if (failures.count > 0) {
      failures.count--;
      reply(failures.status, 'injected blob host failure\n');
      return;
    }
    const { pathname } = new URL(record.url, 'http://blob-host.invalid');
    const match = /^\/(.+)\/blobs\/([a-z0-9]+:[a-f0-9]+)$/.exec(pathname);
    if (!match || (req.method !== 'GET' && req.method !== 'HEAD')) {
      reply(404, 'not found\n');
      return;
    }
    const upstream = await fetchBlob(match[1]!, match[2]!, req.method, req.headers.range);
    const headers: Record<string, string | string[]> = {};
    // Only what object storage would send: no Docker-Content-Digest, no registry headers.
    for (const name of ['content-type', 'content-length', 'content-range', 'accept-ranges', 'etag']) {
      const value = upstream.headers[name];
      if (value !== undefined) headers[name] = value;
    }
    record.status = upstream.status === 401 || upstream.status === 403 ? 403 : upstream.status;
    res.writeHead(record.status, headers);
    upstream.body.pipe(res);
    upstream.body.on('error', () => res.destroy());
    res.on('close', () => upstream.body.destroy());
  }

  const listener = (req: IncomingMessage, res: ServerResponse): void => {
    handle(req, res).catch(() => {
      if (!res.headersSent) {
        res.writeHead(502);
        res.end();
      } else {
        res.destroy();
      }
    });
  };
  const bindHost = options.host ?? '127.0.0.2';
  const pki = options.tls ? await getTestPki() : undefined;
  const server = pki
    ? https.createServer({ cert: pki.certPem, key: pki.keyPem }, listener)
    : http.createServer(listener);
  server.keepAliveTimeout = 1000;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, bindHost, () => resolve());
  });
  server.unref();
  const { port } = server.address() as AddressInfo;
  const origin = `${pki ? 'https' : 'http'}://${bindHost}:${port}`;

  return {
    url: origin,
    host: `${bindHost}:${port}`,
    requests,
    blobUrl: (name, digest, query) => `${origin}/${name}/blobs/${digest}${query ? `?${query}` : ''}`,
    reset: () => {
      requests.length = 0;
    },
    failNext: (count, status = 403) => {
      failures = { count, status };
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
