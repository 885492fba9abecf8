/**
 * The outbound HTTP client of every adapter that is not a registry (webhooks, Slack,
 * ServiceNow, Vault, vendor registry APIs). Registries have their own transport in
 * `oci/transport.ts` (pools, streaming bodies); both share the pieces in this directory.
 *
 * Every request is bounded: a connect timeout, a total timeout over the whole exchange
 * (redirects and body included), and a response size cap. TLS trusts the system roots plus
 * the target's own CA, or nothing at all when the target is configured `insecure`. Redirects
 * are not followed unless asked for; when they are, the number is bounded, https never
 * downgrades to http, and credentials never go to another origin. Failures are
 * {@link HttpFailure}s naming the host and errno only, never the URL or a header.
 */
import type * as Http from 'node:http';
import type { IncomingHttpHeaders, IncomingMessage } from 'node:http';
import type * as Https from 'node:https';
import { isIP } from 'node:net';
import { Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { rootCertificates } from 'node:tls';
import { readLimited } from './body.ts';
import { HttpFailure, errnoCode, isTlsProtocolError, isTlsTrustError } from './failure.ts';

// The CommonJS modules, not ESM imports: the ESM facade of node:http reads every export,
// which loads its bundled fetch/WebSocket implementation (~20 ms of every CLI call).
const http = process.getBuiltinModule('node:http') as typeof Http;
const https = process.getBuiltinModule('node:https') as typeof Https;

export const DEFAULT_CONNECT_TIMEOUT_MS = 10_000;
export const DEFAULT_TIMEOUT_MS = 30_000;
export const DEFAULT_MAX_RESPONSE_BYTES = 1024 * 1024;
export const MAX_REDIRECTS = 5;
/** Dropped when a redirect leaves the origin; callers add their own (`x-vault-token`). */
export const CREDENTIAL_HEADERS: readonly string[] = ['authorization', 'cookie', 'proxy-authorization'];

export interface TlsSettings {
  /** PEM bundle trusted in addition to the system roots. */
  caPem?: string;
  /** No certificate verification: only for a target configured `insecure: true`. */
  insecure?: boolean;
}

export interface OutboundClientOptions extends TlsSettings {
  connectTimeoutMs?: number;
  /** Whole exchange, redirects and body included. */
  timeoutMs?: number;
  maxResponseBytes?: number;
  userAgent?: string;
}

export interface OutboundRequest {
  method: 'GET' | 'HEAD' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';
  url: URL | string;
  headers?: Record<string, string>;
  body?: string | Buffer;
  timeoutMs?: number;
  signal?: AbortSignal;
  maxResponseBytes?: number;
  /** Keep the first maxResponseBytes of a longer body instead of failing. */
  truncate?: boolean;
  /** Redirects to follow (at most {@link MAX_REDIRECTS}); default 0: a 3xx is the answer. */
  followRedirects?: number;
  /** Further headers that carry credentials and must not follow a redirect to another origin. */
  credentialHeaders?: readonly string[];
  /**
   * Where a 2xx body goes instead of memory (a download), still bounded by maxResponseBytes;
   * the response's `body` is then empty. Other answers are read as usual.
   */
  sink?: NodeJS.WritableStream;
}

export interface OutboundResponse {
  status: number;
  headers: IncomingHttpHeaders;
  /** After redirects. */
  url: URL;
  body: Buffer;
  /** The body was longer than the cap and was cut (only with `truncate`). */
  truncated: boolean;
  header(name: string): string | undefined;
  text(): string;
}

export class OutboundClient {
  readonly #httpAgent: Http.Agent;
  readonly #httpsAgent: Https.Agent;
  readonly #connectTimeoutMs: number;
  readonly #timeoutMs: number;
  readonly #maxResponseBytes: number;
  readonly #userAgent: string;

  constructor(options: OutboundClientOptions = {}) {
    // Adapters talk to a server once in a while: sockets are not kept between requests.
    this.#httpAgent = new http.Agent({ keepAlive: false });
    this.#httpsAgent = new https.Agent({
      keepAlive: false,
      ca: options.caPem ? [...rootCertificates, options.caPem] : undefined,
      rejectUnauthorized: !options.insecure,
    });
    this.#connectTimeoutMs = options.connectTimeoutMs ?? DEFAULT_CONNECT_TIMEOUT_MS;
    this.#timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
    this.#maxResponseBytes = options.maxResponseBytes ?? DEFAULT_MAX_RESPONSE_BYTES;
    this.#userAgent = options.userAgent ?? 'sluice';
  }

  close(): void {
    this.#httpAgent.destroy();
    this.#httpsAgent.destroy();
  }

  /** One exchange; the body is read (within the cap) before this resolves. */
  async request(req: OutboundRequest): Promise<OutboundResponse> {
    const first = typeof req.url === 'string' ? parseUrl(req.url) : req.url;
    const timeoutMs = req.timeoutMs ?? this.#timeoutMs;
    const deadline = new AbortController();
    const timer = setTimeout(() => deadline.abort(), timeoutMs);
    const signal = req.signal ? AbortSignal.any([req.signal, deadline.signal]) : deadline.signal;
    const failure = (err: unknown, url: URL): HttpFailure => {
      if (err instanceof HttpFailure) return err;
      if (req.signal?.aborted) return new HttpFailure('aborted', url.host, 'the request was cut off');
      if (deadline.signal.aborted)
        return new HttpFailure('timeout', url.host, `no answer within ${formatMs(timeoutMs)}`);
      const code = errnoCode(err);
      if (isTlsTrustError(err))
        return new HttpFailure('tls-untrusted', url.host, `TLS certificate not trusted (${code})`, code);
      if (isTlsProtocolError(err))
        return new HttpFailure('tls-protocol', url.host, `TLS handshake failed (${code ?? 'EPROTO'})`, code);
      return new HttpFailure('network', url.host, `the request failed (${code ?? 'network error'})`, code);
    };
    const maxHops = Math.min(req.followRedirects ?? 0, MAX_REDIRECTS);
    const sensitive = new Set([...CREDENTIAL_HEADERS, ...(req.credentialHeaders ?? [])].map((h) => h.toLowerCase()));
    let url = first;
    let method = req.method;
    let body = req.body;
    let headers: Record<string, string> = { 'user-agent': this.#userAgent, ...req.headers };
    try {
      for (let hop = 0; ; hop++) {
        let res: IncomingMessage;
        try {
          res = await this.#send(url, method, headers, body, signal);
        } catch (err) {
          throw failure(err, url);
        }
        const status = res.statusCode ?? 0;
        const location = header(res.headers, 'location');
        if (maxHops === 0 || !isRedirect(status) || location === undefined) {
          return await this.#read(res, url, req, failure);
        }
        res.resume();
        if (hop >= maxHops) {
          throw new HttpFailure('too-many-redirects', first.host, `more than ${maxHops} redirects`);
        }
        let next: URL;
        try {
          next = new URL(location, url);
        } catch {
          throw new HttpFailure('redirect-refused', first.host, 'redirected to an invalid URL');
        }
        if (next.protocol !== 'http:' && next.protocol !== 'https:') {
          throw new HttpFailure('redirect-refused', first.host, `redirected to a ${next.protocol.slice(0, -1)} URL`);
        }
        if (url.protocol === 'https:' && next.protocol === 'http:') {
          throw new HttpFailure('redirect-refused', first.host, `redirected from https to plain http (${next.host})`);
        }
        if (next.origin !== url.origin) {
          headers = Object.fromEntries(Object.entries(headers).filter(([k]) => !sensitive.has(k.toLowerCase())));
        }
        // As browsers do: 303, and 301/302 after a POST, continue as a GET without the body.
        if (status === 303 || ((status === 301 || status === 302) && method === 'POST')) {
          if (method !== 'HEAD') method = 'GET';
          body = undefined;
          headers = Object.fromEntries(
            Object.entries(headers).filter(([k]) => !['content-type', 'content-length'].includes(k.toLowerCase())),
          );
        }
        url = next;
      }
    } finally {
      clearTimeout(timer);
    }
  }

  async #read(
    res: IncomingMessage,
    url: URL,
    req: OutboundRequest,
    failure: (err: unknown, url: URL) => HttpFailure,
  ): Promise<OutboundResponse> {
    const limit = req.maxResponseBytes ?? this.#maxResponseBytes;
    const declared = Number(res.headers['content-length']);
    const status = res.statusCode ?? 0;
    if (req.sink && status >= 200 && status < 300) {
      let total = 0;
      const bound = new Transform({
        transform(chunk: Buffer, _encoding, done) {
          total += chunk.length;
          if (total > limit) done(new HttpFailure('too-large', url.host, `the answer exceeds the ${limit}-byte limit`));
          else done(null, chunk);
        },
      });
      try {
        await pipeline(res, bound, req.sink);
      } catch (err) {
        throw failure(err, url);
      }
      const empty = Buffer.alloc(0);
      return {
        status,
        headers: res.headers,
        url,
        body: empty,
        truncated: false,
        header: (name) => header(res.headers, name),
        text: () => '',
      };
    }
    let read: { data: Buffer; truncated: boolean };
    try {
      read = await readLimited(res, limit, {
        declaredLength: Number.isFinite(declared) ? declared : undefined,
        truncate: req.truncate,
        tooLarge: ({ declared }) =>
          new HttpFailure(
            'too-large',
            url.host,
            declared !== undefined
              ? `the answer is ${declared} bytes, over the ${limit}-byte limit`
              : `the answer exceeds the ${limit}-byte limit`,
          ),
      });
    } catch (err) {
      throw failure(err, url);
    }
    return {
      status,
      headers: res.headers,
      url,
      body: read.data,
      truncated: read.truncated,
      header: (name) => header(res.headers, name),
      text: () => read.data.toString('utf8'),
    };
  }

  #send(
    url: URL,
    method: string,
    headers: Record<string, string>,
    body: string | Buffer | undefined,
    signal: AbortSignal,
  ): Promise<IncomingMessage> {
    const isHttps = url.protocol === 'https:';
    if (!isHttps && url.protocol !== 'http:') {
      return Promise.reject(
        new HttpFailure('network', url.host, `unsupported URL scheme ${url.protocol.slice(0, -1)}`),
      );
    }
    const payload = body === undefined ? undefined : Buffer.isBuffer(body) ? body : Buffer.from(body, 'utf8');
    const sent: Record<string, string> = { ...headers };
    if (payload) sent['content-length'] = String(payload.length);
    else if (method === 'POST' || method === 'PUT' || method === 'PATCH') sent['content-length'] = '0';
    return new Promise<IncomingMessage>((resolve, reject) => {
      const mod = isHttps ? https : http;
      const clientReq = mod.request(
        url,
        { method, headers: sent, agent: isHttps ? this.#httpsAgent : this.#httpAgent, signal },
        resolve,
      );
      clientReq.on('error', reject);
      clientReq.once('socket', (socket) => {
        // A socket that is already connected (reused) has nothing left to wait for.
        if (!socket.connecting) return;
        const connectTimer = setTimeout(() => {
          clientReq.destroy(
            new HttpFailure('connect-timeout', url.host, `no connection within ${formatMs(this.#connectTimeoutMs)}`),
          );
        }, this.#connectTimeoutMs);
        const done = () => clearTimeout(connectTimer);
        socket.once(isHttps ? 'secureConnect' : 'connect', done);
        socket.once('close', done);
      });
      clientReq.end(payload);
    });
  }
}

function isRedirect(status: number): boolean {
  return status === 301 || status === 302 || status === 303 || status === 307 || status === 308;
}

function header(headers: IncomingHttpHeaders, name: string): string | undefined {
  const v = headers[name.toLowerCase()];
  return Array.isArray(v) ? v.join(', ') : v;
}

function parseUrl(text: string): URL {
  try {
    return new URL(text);
  } catch {
    // Never quote it: the URL may carry a token.
    throw new HttpFailure('network', '(invalid URL)', 'the URL is not valid');
  }
}

/**
 * A URL hostname that can only mean this machine: the one place plain http may carry a
 * credential (a local Vault, a test instance). Names under `.localhost` are not trusted
 * here, since not every resolver keeps them on loopback.
 */
export function isLoopbackHostname(hostname: string): boolean {
  const h = hostname.replace(/^\[|\]$/g, '');
  if (h === 'localhost' || h === '::1') return true;
  return isIP(h) === 4 && h.startsWith('127.');
}

export function formatMs(ms: number): string {
  return ms % 1000 === 0 ? `${ms / 1000} s` : `${ms} ms`;
}
