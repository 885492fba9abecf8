/**
 * A programmable reverse proxy in front of a real registry: it counts requests, injects
 * faults (statuses, connection resets, stalls, corrupted or replaced bodies), and redirects
 * blob downloads to a blob host on another origin.
 *
 * Bodies are streamed in both directions, so multi-GiB blobs pass through in constant memory.
 */
import http, {
  type IncomingHttpHeaders,
  type IncomingMessage,
  type OutgoingHttpHeaders,
  type ServerResponse,
} from 'node:http';
import https from 'node:https';
import type { AddressInfo, Socket } from 'node:net';
import { Transform, type TransformCallback } from 'node:stream';
import type { BlobHostHandle } from './blob-host.ts';
import { getTestPki } from './tls.ts';

export { startBlobHost } from './blob-host.ts';
export type { BlobHostHandle, BlobHostOptions, BlobHostRequestRecord, BlobSource } from './blob-host.ts';

/** A registry to proxy: a RegistryHandle fits, or a bare URL. */
export interface ProxyTarget {
  url: string;
  caPem?: string;
  auth?: 'none' | 'htpasswd' | 'token';
  users?: Record<string, string>;
}

export type FaultAction =
  /** Answer without contacting the registry. Body defaults to a Distribution-style error. */
  | { kind: 'status'; status: number; headers?: Record<string, string>; body?: string | Buffer }
  /**
   * TCP RST: before forwarding; after `afterBytes` bytes of the response body; or, for an
   * upload, once `afterRequestBytes` bytes of the request body have arrived (those are
   * forwarded, the registry then sees its upload break off and commits nothing).
   */
  | { kind: 'reset'; afterBytes?: number; afterRequestBytes?: number }
  /** Send headers and `afterBytes` bytes of the body, then go silent (for idle timeouts). */
  | { kind: 'stall'; afterBytes?: number }
  /**
   * Flip one byte (XOR 0x01) of a successful response body; status, headers and length are
   * unchanged: a registry lying about a digest. `offset` defaults to the middle of the body.
   */
  | { kind: 'corrupt'; offset?: number }
  /** Replace a successful response's body (Content-Length adjusted, other headers kept). */
  | { kind: 'replaceBody'; body: string | Buffer; contentType?: string; headers?: Record<string, string> }
  /** Wait before forwarding. */
  | { kind: 'delay'; ms: number };

export type FaultKind = FaultAction['kind'];

export type FaultRule = FaultAction & {
  /** HTTP method(s) to match, any when omitted. */
  method?: string | string[];
  /** Matched against the path (without query); a string is compiled as a regular expression. */
  path?: RegExp | string;
  /** Extra condition, e.g. only requests that carry `Authorization`. */
  when?: (req: IncomingMessage) => boolean;
  /** Matching requests affected; default 1, `Infinity` for all. */
  times?: number;
};

export interface FaultHandle {
  /** Requests this rule has affected so far. */
  readonly hits: number;
  /** Requests it will still affect. */
  readonly remaining: number;
  remove(): void;
}

export interface ProxyRequestRecord {
  method: string;
  /** Path without query string. */
  path: string;
  /** Query string including `?`, or ''. */
  query: string;
  /** Status sent to the client; 0 while pending or when the connection was reset. */
  status: number;
  /** Fault applied, if any; `redirect` for blob redirects. */
  fault?: FaultKind | 'redirect';
  /** Whether the client sent an Authorization header. */
  authorization: boolean;
  time: number;
}

export interface ProxyOptions {
  /** CA to trust when the target is https; defaults to the target handle's `caPem`. */
  caPem?: string;
  /**
   * Replace the target's origin with the proxy's in `Location`, `Link` and `WWW-Authenticate`
   * response headers (default true), so clients keep talking to the proxy.
   */
  rewriteHeaders?: boolean;
  /**
   * Also route the token realm through the proxy (default false): the realm in
   * `WWW-Authenticate` becomes `<proxy>/__realm/<n>/<path>`, so token requests are counted
   * and can be failed like any other.
   */
  proxyAuthRealm?: boolean;
  /** Serve HTTPS to the client with the shared test certificate. */
  tls?: boolean;
}

export interface ProxyHandle {
  /** e.g. `http://127.0.0.1:40111` */
  url: string;
  /** `127.0.0.1:PORT`, for image references. */
  host: string;
  port: number;
  /** Target origin. */
  target: string;
  /** Copied from the target handle, so skopeo helpers can authenticate through the proxy. */
  auth?: 'none' | 'htpasswd' | 'token';
  users?: Record<string, string>;
  /** CA dir for skopeo when the proxy itself serves TLS. */
  caDir?: string;
  caPem?: string;
  /** Every request, in arrival order; recorded before it is forwarded. */
  readonly requests: ProxyRequestRecord[];
  /** Number of requests matching the filter. */
  count(filter?: { method?: string; path?: RegExp }): number;
  /** Forgets recorded requests (fault rules stay). */
  reset(): void;
  /** Adds a fault rule; rules are tried in the order they were added. */
  inject(rule: FaultRule): FaultHandle;
  clearFaults(): void;
  /**
   * Redirect successful blob GETs to `blobHost` (undefined turns it off). The proxy first
   * checks the blob with a HEAD carrying the client's credentials, as registries do before
   * handing out a storage URL; on anything but 200 the GET is forwarded normally.
   */
  redirectBlobs(
    blobHost: BlobHostHandle | undefined,
    options?: { status?: 301 | 302 | 303 | 307 | 308; times?: number },
  ): void;
  close(): Promise<void>;
}

const HOP_BY_HOP = new Set([
  'connection',
  'keep-alive',
  'proxy-authenticate',
  'proxy-authorization',
  'proxy-connection',
  'te',
  'trailer',
  'transfer-encoding',
  'upgrade',
]);

const BLOB_PATH = /^\/v2\/(.+)\/blobs\/([a-z0-9]+:[a-f0-9]+)$/;

interface ActiveRule {
  rule: FaultRule;
  pattern: RegExp | undefined;
  remaining: number;
  hits: number;
}

/** Flips one byte at `offset` and counts bytes; everything else passes untouched. */
class ByteFlipper extends Transform {
  private seen = 0;
  private readonly offset: number;
  constructor(offset: number) {
    super();
    this.offset = offset;
  }
  override _transform(chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback): void {
    if (this.offset >= this.seen && this.offset < this.seen + chunk.length) {
      chunk = Buffer.from(chunk);
      chunk[this.offset - this.seen]! ^= 0x01;
    }
    this.seen += chunk.length;
    callback(null, chunk);
  }
}

/** Passes `limit` bytes, then calls `onLimit` and swallows the rest. */
class ByteLimiter extends Transform {
  private seen = 0;
  private fired = false;
  private readonly limit: number;
  private readonly onLimit: () => void;
  constructor(limit: number, onLimit: () => void) {
    super();
    this.limit = limit;
    this.onLimit = onLimit;
  }
  override _transform(chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback): void {
    if (this.fired) return callback();
    const room = this.limit - this.seen;
    this.seen += chunk.length;
    if (chunk.length < room) return callback(null, chunk);
    this.fired = true;
    if (room > 0) this.push(chunk.subarray(0, room));
    callback();
    // Let the pushed bytes reach the socket before acting on the limit.
    setTimeout(this.onLimit, 20);
  }
  override _flush(callback: TransformCallback): void {
    // Once the limit is hit the body must never look complete: ending would let the response
    // finish early, and Node then closes the socket instead of stalling or resetting it.
    if (!this.fired) callback();
  }
}

function errorBody(status: number): string {
  const code =
    status === 429 ? 'TOOMANYREQUESTS' : status === 401 ? 'UNAUTHORIZED' : status === 404 ? 'NOT_FOUND' : 'UNAVAILABLE';
  return JSON.stringify({ errors: [{ code, message: `injected fault: HTTP ${status}`, detail: null }] });
}

function resetSocket(socket: Socket): void {
  if (!socket.destroyed) socket.resetAndDestroy();
}

/**
 * Starts a reverse proxy on a random loopback port in front of `target`.
 *
 * @example
 * const proxy = await startProxy(registry);
 * proxy.inject({ kind: 'status', status: 503, method: 'GET', path: /\/manifests\//, times: 2 });
 */
export async function startProxy(target: string | ProxyTarget, options: ProxyOptions = {}): Promise<ProxyHandle> {
  const targetInfo: ProxyTarget = typeof target === 'string' ? { url: target } : target;
  const targetUrl = new URL(targetInfo.url);
  const targetOrigin = targetUrl.origin;
  const caPem = options.caPem ?? targetInfo.caPem;
  const rewrite = options.rewriteHeaders ?? true;
  const requests: ProxyRequestRecord[] = [];
  let rules: ActiveRule[] = [];
  let redirect: { host: BlobHostHandle; status: number; remaining: number } | undefined;
  const realms: string[] = [];
  let proxyOrigin = '';

  const httpAgent = new http.Agent({ keepAlive: true, maxSockets: 64 });
  const httpsAgent = new https.Agent({ keepAlive: true, maxSockets: 64, ca: caPem });

  function takeRule(req: IncomingMessage, pathname: string, phase: 'request' | 'response'): FaultRule | undefined {
    for (const active of rules) {
      const { rule } = active;
      const responsePhase =
        rule.kind === 'corrupt' ||
        rule.kind === 'replaceBody' ||
        rule.kind === 'stall' ||
        (rule.kind === 'reset' && rule.afterBytes !== undefined);
      if ((phase === 'response') !== responsePhase || active.remaining <= 0) continue;
      if (rule.method !== undefined) {
        const methods = (Array.isArray(rule.method) ? rule.method : [rule.method]).map((m) => m.toUpperCase());
        if (!methods.includes(req.method ?? '')) continue;
      }
      if (active.pattern && !active.pattern.test(pathname)) continue;
      if (rule.when && !rule.when(req)) continue;
      active.remaining--;
      active.hits++;
      return rule;
    }
    return undefined;
  }

  function rewriteValue(value: string): string {
    return rewrite ? value.split(targetOrigin).join(proxyOrigin) : value;
  }

  function rewriteRealm(header: string): string {
    return header.replace(/realm="([^"]+)"/i, (_all, realm: string) => {
      const url = new URL(realm);
      let index = realms.indexOf(url.origin);
      if (index < 0) index = realms.push(url.origin) - 1;
      return `realm="${proxyOrigin}/__realm/${index}${url.pathname}${url.search}"`;
    });
  }

  function responseHeaders(upstream: IncomingHttpHeaders): OutgoingHttpHeaders {
    const out: Record<string, string | string[]> = {};
    for (const [name, value] of Object.entries(upstream)) {
      if (value === undefined || HOP_BY_HOP.has(name)) continue;
      if (name === 'location' || name === 'link' || name === 'www-authenticate') {
        const rewriteOne = (v: string): string => {
          const replaced = rewriteValue(v);
          return name === 'www-authenticate' && options.proxyAuthRealm ? rewriteRealm(replaced) : replaced;
        };
        out[name] = Array.isArray(value) ? value.map(rewriteOne) : rewriteOne(value);
      } else {
        out[name] = value;
      }
    }
    return out;
  }

  function forward(
    req: IncomingMessage,
    upstreamUrl: URL,
    method: string,
    withBody: boolean,
    cutRequestAfter?: number,
  ): Promise<IncomingMessage> {
    return new Promise((resolve, reject) => {
      const headers: OutgoingHttpHeaders = {};
      for (const [name, value] of Object.entries(req.headers)) {
        if (value !== undefined && !HOP_BY_HOP.has(name)) headers[name] = value;
      }
      headers.host = upstreamUrl.host;
      const secure = upstreamUrl.protocol === 'https:';
      const upstreamReq = (secure ? https : http).request(
        upstreamUrl,
        { method, headers, agent: secure ? httpsAgent : httpAgent },
        resolve,
      );
      upstreamReq.on('error', reject);
      if (withBody && cutRequestAfter !== undefined) {
        const limiter = new ByteLimiter(cutRequestAfter, () => {
          upstreamReq.destroy();
          resetSocket(req.socket);
        });
        req.pipe(limiter).pipe(upstreamReq);
        req.on('error', () => upstreamReq.destroy());
      } else if (withBody) {
        req.pipe(upstreamReq);
        req.on('error', () => upstreamReq.destroy());
      } else {
        upstreamReq.end();
      }
    });
  }

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const method = req.method ?? 'GET';
    const parsed = new URL(req.url ?? '/', 'http://proxy.invalid');
    const record: ProxyRequestRecord = {
      method,
      path: parsed.pathname,
      query: parsed.search,
      status: 0,
      authorization: req.headers.authorization !== undefined,
      time: Date.now(),
    };
    requests.push(record);
    const send = (status: number, headers: OutgoingHttpHeaders): void => {
      record.status = status;
      res.writeHead(status, headers);
    };

    let upstreamUrl = new URL(parsed.pathname + parsed.search, targetOrigin);
    const realmMatch = /^\/__realm\/(\d+)(\/.*)$/.exec(parsed.pathname);
    if (realmMatch && realms[Number(realmMatch[1])] !== undefined) {
      upstreamUrl = new URL(realmMatch[2]! + parsed.search, realms[Number(realmMatch[1])]);
    }

    const early = takeRule(req, parsed.pathname, 'request');
    let cutRequestAfter: number | undefined;
    if (early) {
      record.fault = early.kind;
      if (early.kind === 'reset' && early.afterRequestBytes !== undefined) {
        cutRequestAfter = early.afterRequestBytes;
      } else if (early.kind === 'reset') {
        resetSocket(req.socket);
        return;
      }
      if (early.kind === 'status') {
        const body = early.body ?? errorBody(early.status);
        send(early.status, {
          'content-type': 'application/json',
          'content-length': Buffer.byteLength(body),
          'docker-distribution-api-version': 'registry/2.0',
          ...early.headers,
        });
        res.end(method === 'HEAD' ? undefined : body);
        req.resume();
        return;
      }
      // Unreferenced: a request held past the end of a test must not keep its file's process
      // alive for the rest of the delay after everything else has closed.
      if (early.kind === 'delay') await new Promise((resolve) => setTimeout(resolve, early.ms).unref());
    }

    const blob = BLOB_PATH.exec(parsed.pathname);
    if (redirect && redirect.remaining > 0 && method === 'GET' && blob) {
      const check = await forward(req, upstreamUrl, 'HEAD', false);
      check.resume();
      if (check.statusCode === 200) {
        redirect.remaining--;
        record.fault = 'redirect';
        const location = redirect.host.blobUrl(blob[1]!, blob[2]!, 'expires=3600&signature=test');
        send(redirect.status, { location, 'content-length': 0 });
        res.end();
        return;
      }
    }

    let upstream: IncomingMessage;
    try {
      upstream = await forward(req, upstreamUrl, method, method !== 'GET' && method !== 'HEAD', cutRequestAfter);
    } catch (error) {
      const body = JSON.stringify({
        errors: [{ code: 'UNAVAILABLE', message: `proxy: upstream unreachable: ${(error as Error).message}` }],
      });
      if (!res.headersSent && !res.destroyed && !req.socket.destroyed) {
        send(502, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) });
        res.end(body);
      }
      return;
    }
    const status = upstream.statusCode ?? 502;
    const headers = responseHeaders(upstream.headers);
    let detached = false;
    res.on('close', () => upstream.destroy());
    upstream.on('error', () => {
      if (!detached) res.destroy();
    });

    const late = status >= 200 && status < 300 ? takeRule(req, parsed.pathname, 'response') : undefined;
    if (late) record.fault = late.kind;
    if (late?.kind === 'replaceBody') {
      upstream.resume();
      const body = Buffer.from(late.body);
      send(status, {
        ...headers,
        'content-length': body.length,
        ...(late.contentType ? { 'content-type': late.contentType } : {}),
        ...late.headers,
      });
      res.end(method === 'HEAD' ? undefined : body);
      return;
    }
    send(status, headers);
    if (late?.kind === 'corrupt') {
      const length = Number(upstream.headers['content-length'] ?? 0);
      upstream.pipe(new ByteFlipper(late.offset ?? Math.floor(length / 2))).pipe(res);
    } else if (late?.kind === 'reset' || late?.kind === 'stall') {
      const socket = req.socket;
      const limiter = new ByteLimiter(late.afterBytes ?? 0, () => {
        // The client connection stays as the fault wants it, whatever the upstream does next.
        detached = true;
        upstream.destroy();
        if (late.kind === 'reset') resetSocket(socket);
      });
      // Headers go out even when no body byte will.
      res.flushHeaders();
      upstream.pipe(limiter).pipe(res);
    } else {
      upstream.pipe(res);
    }
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
  const pki = options.tls ? await getTestPki() : undefined;
  const server = pki
    ? https.createServer({ cert: pki.certPem, key: pki.keyPem }, listener)
    : http.createServer(listener);
  server.keepAliveTimeout = 5000;
  server.requestTimeout = 0;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  server.unref();
  const { port } = server.address() as AddressInfo;
  proxyOrigin = `${pki ? 'https' : 'http'}://127.0.0.1:${port}`;

  return {
    url: proxyOrigin,
    host: `127.0.0.1:${port}`,
    port,
    target: targetOrigin,
    ...(targetInfo.auth ? { auth: targetInfo.auth } : {}),
    ...(targetInfo.users ? { users: targetInfo.users } : {}),
    ...(pki ? { caDir: pki.caDir, caPem: pki.caPem } : {}),
    requests,
    count: (filter = {}) =>
      requests.filter(
        (r) =>
          (filter.method === undefined || r.method === filter.method.toUpperCase()) &&
          (filter.path === undefined || filter.path.test(r.path)),
      ).length,
    reset: () => {
      requests.length = 0;
    },
    inject: (rule: FaultRule): FaultHandle => {
      const active: ActiveRule = {
        rule,
        pattern:
          rule.path === undefined ? undefined : typeof rule.path === 'string' ? new RegExp(rule.path) : rule.path,
        remaining: rule.times ?? 1,
        hits: 0,
      };
      rules.push(active);
      return {
        get hits() {
          return active.hits;
        },
        get remaining() {
          return active.remaining;
        },
        remove: () => {
          rules = rules.filter((r) => r !== active);
        },
      };
    },
    clearFaults: () => {
      rules = [];
    },
    redirectBlobs: (blobHost, redirectOptions = {}) => {
      redirect = blobHost
        ? { host: blobHost, status: redirectOptions.status ?? 307, remaining: redirectOptions.times ?? Infinity }
        : undefined;
    },
    close: () =>
      new Promise<void>((resolve) => {
        httpAgent.destroy();
        httpsAgent.destroy();
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
