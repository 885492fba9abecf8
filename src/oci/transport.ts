/**
 * HTTP for registries, on node:http/https: keep-alive pools, a concurrency limit, retries with
 * backoff and jitter that honour Retry-After, inactivity timeouts, and redirects that never
 * carry credentials to another origin (blob downloads are routinely redirected to object
 * storage; forwarding the registry token there hands it to whoever runs that storage).
 */
import type * as Http from 'node:http';
import type { IncomingHttpHeaders, IncomingMessage } from 'node:http';
import type * as Https from 'node:https';
import { rootCertificates } from 'node:tls';
import { pipeline, type Readable } from 'node:stream';
import { SluiceError } from '../errors.ts';
import { formatWait, isTlsTrustError, parseRetryAfter, readLimited, sleep } from '../http/index.ts';

export { formatWait, isTlsProtocolError, parseRetryAfter } from '../http/index.ts';
import { VERSION } from '../version.ts';

// The CommonJS modules, not ESM imports: the ESM facade of node:http reads every export,
// which loads its bundled fetch/WebSocket implementation (~20 ms of every CLI call).
const http = process.getBuiltinModule('node:http') as typeof Http;
const https = process.getBuiltinModule('node:https') as typeof Https;

export type HttpMethod = 'GET' | 'HEAD' | 'PUT' | 'POST' | 'PATCH' | 'DELETE';

export interface HttpRequest {
  method: HttpMethod;
  url: URL;
  headers?: Record<string, string>;
  /** A Buffer, or a factory so the body can be replayed on retry. */
  body?: Buffer | (() => Readable);
  /** Required with a stream body: registries want a Content-Length for monolithic uploads. */
  bodyLength?: number;
  /** Follow 301/302/303/307/308 (GET and HEAD only). */
  followRedirects?: boolean;
  /** Defaults to true; requests with a one-shot body are never retried. */
  retry?: boolean;
  signal?: AbortSignal;
}

export interface HttpResponse {
  status: number;
  headers: IncomingHttpHeaders;
  /** Final URL, after redirects. */
  url: URL;
  body: IncomingMessage;
  header(name: string): string | undefined;
  /**
   * Set when the registry asked to be retried later than the caller's retry budget allows:
   * the response is handed back at once instead of waiting.
   */
  retryRefused?: { retryAfterMs: number; budgetMs: number };
  buffer(limit?: number): Promise<Buffer>;
  text(limit?: number): Promise<string>;
  discard(): Promise<void>;
}

export interface RetryPolicy {
  /** Retries after the first attempt. */
  retries: number;
  baseDelayMs: number;
  maxDelayMs: number;
  /**
   * Time one request may spend waiting between its attempts, all waits together. A registry
   * that asks (Retry-After) for longer than what is left gets its answer returned at once.
   */
  budgetMs: number;
}

/** A wait before the next attempt of a request, reported before it starts. */
export interface RetryWait {
  method: HttpMethod;
  url: URL;
  /** The attempt about to be made (2 for the first retry). */
  attempt: number;
  attempts: number;
  delayMs: number;
  /** Status that caused the retry, or the network error code. */
  status?: number;
  error?: string;
  /** The wait the registry asked for, when it sent Retry-After. */
  retryAfterMs?: number;
}

export interface TransportOptions {
  /** Extra CA certificates (PEM) trusted in addition to the system roots. */
  caPem?: string;
  /** Skip TLS certificate verification (only with `insecure: true` in configuration). */
  skipTlsVerify?: boolean;
  /** Max requests waiting for response headers at once. */
  concurrency?: number;
  /** No byte in either direction for this long aborts the request. */
  idleTimeoutMs?: number;
  retry?: Partial<RetryPolicy>;
  userAgent?: string;
  /** Observes every response (request counting, metrics). */
  onResponse?: (info: { method: HttpMethod; url: URL; status: number; durationMs: number }) => void;
  /** Told of every wait before a retry; the transport itself never prints. */
  onRetry?: (wait: RetryWait) => void;
}

export const DEFAULT_RETRY: Readonly<RetryPolicy> = Object.freeze({
  retries: 4,
  baseDelayMs: 200,
  maxDelayMs: 10_000,
  budgetMs: 60_000,
});
const RETRYABLE_STATUS = new Set([408, 429, 500, 502, 503, 504]);
const RETRYABLE_ERRORS = new Set(['ECONNRESET', 'ECONNREFUSED', 'EPIPE', 'ETIMEDOUT', 'EAI_AGAIN', 'ECONNABORTED']);
const SENSITIVE_HEADERS = ['authorization', 'cookie', 'proxy-authorization'];
const MAX_REDIRECTS = 5;
const UPLOAD_BUFFER_BYTES = 1024 * 1024;

/** A counting semaphore; permits are held until response headers arrive. */
class Semaphore {
  private available: number;
  private readonly waiters: Array<() => void> = [];
  constructor(permits: number) {
    this.available = permits;
  }
  async acquire(): Promise<() => void> {
    if (this.available > 0) {
      this.available--;
    } else {
      await new Promise<void>((resolve) => this.waiters.push(resolve));
    }
    let released = false;
    return () => {
      if (released) return;
      released = true;
      const next = this.waiters.shift();
      if (next) next();
      else this.available++;
    };
  }
}

/** What to add to an error built from a response the transport did not retry because of its Retry-After. */
export function retryRefusal(res: Pick<HttpResponse, 'retryRefused'>): string {
  const r = res.retryRefused;
  if (!r) return '';
  return `; it asks to be retried after ${formatWait(r.retryAfterMs)} (Retry-After), beyond the retry budget of ${formatWait(r.budgetMs)}`;
}

async function readBody(body: IncomingMessage, limit: number, what: string): Promise<Buffer> {
  const declared = Number(body.headers['content-length']);
  const { data } = await readLimited(body, limit, {
    declaredLength: Number.isFinite(declared) ? declared : undefined,
    tooLarge: ({ declared }) =>
      new SluiceError(
        'RESPONSE_TOO_LARGE',
        'integrity',
        declared !== undefined
          ? `${what} is ${declared} bytes, over the ${limit}-byte limit`
          : `${what} exceeds the ${limit}-byte limit`,
      ),
  });
  return data;
}

function wrapResponse(res: IncomingMessage, url: URL): HttpResponse {
  return {
    status: res.statusCode ?? 0,
    headers: res.headers,
    url,
    body: res,
    header(name: string) {
      const v = res.headers[name.toLowerCase()];
      return Array.isArray(v) ? v.join(', ') : v;
    },
    buffer(limit = 16 * 1024 * 1024) {
      return readBody(res, limit, `response from ${url.host}${url.pathname}`);
    },
    async text(limit = 1024 * 1024) {
      return (await readBody(res, limit, `response from ${url.host}${url.pathname}`)).toString('utf8');
    },
    async discard() {
      // `complete` can be true before the stream has ended; only consuming it to 'end'
      // hands the keep-alive socket back to the agent.
      if (res.readableEnded || res.destroyed) return;
      // Draining keeps the keep-alive socket reusable; big bodies are cheaper to drop.
      const len = Number(res.headers['content-length']);
      if (Number.isFinite(len) && len > 64 * 1024) {
        res.destroy();
        return;
      }
      res.resume();
      await new Promise<void>((resolve) => {
        res.once('end', resolve);
        res.once('close', resolve);
        res.once('error', () => resolve());
      });
    },
  };
}

export class HttpTransport {
  private readonly httpAgent: Http.Agent;
  private readonly httpsAgent: Https.Agent;
  private readonly limiter: Semaphore;
  private readonly retry: RetryPolicy;
  private readonly idleTimeoutMs: number;
  private readonly userAgent: string;
  private readonly onResponse: TransportOptions['onResponse'];
  private readonly onRetry: TransportOptions['onRetry'];

  constructor(options: TransportOptions = {}) {
    const concurrency = options.concurrency ?? 8;
    const agentOptions = {
      keepAlive: true,
      maxSockets: concurrency * 2,
      maxFreeSockets: concurrency * 2,
      scheduling: 'lifo' as const,
    };
    this.httpAgent = new http.Agent(agentOptions);
    this.httpsAgent = new https.Agent({
      ...agentOptions,
      ca: options.caPem ? [...rootCertificates, options.caPem] : undefined,
      rejectUnauthorized: !options.skipTlsVerify,
    });
    // Blob uploads write 64 KiB chunks; with the default 16 KiB socket buffer every chunk
    // reports backpressure and the pipe pauses and resumes the download once per chunk.
    for (const agent of [this.httpAgent, this.httpsAgent]) {
      const connect = agent.createConnection.bind(agent);
      (agent as unknown as { createConnection: typeof connect }).createConnection = (opts, cb) =>
        connect({ ...opts, writableHighWaterMark: UPLOAD_BUFFER_BYTES } as typeof opts, cb);
    }
    this.limiter = new Semaphore(concurrency);
    this.retry = { ...DEFAULT_RETRY, ...options.retry };
    this.idleTimeoutMs = options.idleTimeoutMs ?? 60_000;
    this.userAgent = options.userAgent ?? `sluice/${VERSION}`;
    this.onResponse = options.onResponse;
    this.onRetry = options.onRetry;
  }

  close(): void {
    this.httpAgent.destroy();
    this.httpsAgent.destroy();
  }

  /** Sends a request, retrying transient failures within the retry budget. The caller owns the response body. */
  async request(req: HttpRequest): Promise<HttpResponse> {
    const replayable = req.body === undefined || Buffer.isBuffer(req.body) || typeof req.body === 'function';
    const mayRetry = req.retry !== false && replayable;
    let attempt = 0;
    let waited = 0;
    const wait = async (delayMs: number, cause: Pick<RetryWait, 'status' | 'error' | 'retryAfterMs'>) => {
      this.onRetry?.({
        method: req.method,
        url: req.url,
        attempt: attempt + 2,
        attempts: this.retry.retries + 1,
        delayMs,
        ...cause,
      });
      await sleep(delayMs, req.signal);
      waited += delayMs;
      attempt++;
    };
    for (;;) {
      let res: HttpResponse;
      const left = this.retry.budgetMs - waited;
      try {
        res = await this.followRedirects(req);
      } catch (err) {
        const code = (err as { code?: string }).code ?? '';
        if (
          mayRetry &&
          attempt < this.retry.retries &&
          left > 0 &&
          RETRYABLE_ERRORS.has(code) &&
          !req.signal?.aborted
        ) {
          await wait(Math.min(this.backoff(attempt), left), { error: code });
          continue;
        }
        throw this.networkError(err, req);
      }
      if (mayRetry && attempt < this.retry.retries && RETRYABLE_STATUS.has(res.status)) {
        const asked = parseRetryAfter(res.header('retry-after'));
        // Waiting longer than the caller can afford only delays the same failure.
        if (asked !== undefined && asked > left) {
          res.retryRefused = { retryAfterMs: asked, budgetMs: this.retry.budgetMs };
          return res;
        }
        if (left <= 0) return res;
        await res.discard();
        await wait(asked ?? Math.min(this.backoff(attempt), left), {
          status: res.status,
          ...(asked !== undefined ? { retryAfterMs: asked } : {}),
        });
        continue;
      }
      return res;
    }
  }

  private backoff(attempt: number): number {
    // Full jitter: spreads retries of many clients hitting the same failing registry.
    const cap = Math.min(this.retry.maxDelayMs, this.retry.baseDelayMs * 2 ** attempt);
    return Math.round(Math.random() * cap);
  }

  private networkError(err: unknown, req: HttpRequest): SluiceError {
    if (err instanceof SluiceError) return err;
    const e = err as { code?: string; message?: string; name?: string };
    const where = `${req.method} ${req.url.origin}${req.url.pathname}`;
    // A caller that aborts with a reason of its own (a deadline naming its limit) gets that reason.
    if (req.signal?.aborted && req.signal.reason instanceof SluiceError) return req.signal.reason;
    if (e?.name === 'AbortError' || req.signal?.aborted) {
      return new SluiceError('ABORTED', 'unavailable', `${where}: aborted`, { operation: where }, err);
    }
    if (isTlsTrustError(err)) {
      return new SluiceError(
        'TLS_UNTRUSTED',
        'integrity',
        `${req.url.host}: TLS certificate not trusted (${e.code}); configure the registry's CA (caFile) or, for a test registry only, insecure: true`,
        { registry: req.url.host, operation: where },
        err,
      );
    }
    return new SluiceError(
      'REGISTRY_UNREACHABLE',
      'unavailable',
      `cannot reach ${req.url.host}: ${e?.message?.includes(e.code ?? '\0') ? e.message : `${e?.code ?? ''} ${e?.message ?? String(err)}`.trim()}`,
      { registry: req.url.host, operation: where },
      err,
    );
  }

  private async followRedirects(req: HttpRequest): Promise<HttpResponse> {
    let url = req.url;
    let headers = { ...req.headers };
    const origin = req.url.origin;
    for (let hop = 0; ; hop++) {
      const res = await this.once({ ...req, url, headers });
      const location = res.header('location');
      const isRedirect = [301, 302, 303, 307, 308].includes(res.status) && location;
      if (!isRedirect || !req.followRedirects || (req.method !== 'GET' && req.method !== 'HEAD')) return res;
      if (hop >= MAX_REDIRECTS) {
        await res.discard();
        throw new SluiceError(
          'TOO_MANY_REDIRECTS',
          'integrity',
          `${req.url.host}: more than ${MAX_REDIRECTS} redirects`,
          {
            registry: req.url.host,
          },
        );
      }
      await res.discard();
      const next = new URL(location, url);
      if (next.protocol !== 'http:' && next.protocol !== 'https:') {
        throw new SluiceError(
          'REDIRECT_REFUSED',
          'integrity',
          `${req.url.host} redirected to unsupported URL scheme ${next.protocol}`,
          {
            registry: req.url.host,
          },
        );
      }
      if (url.protocol === 'https:' && next.protocol === 'http:') {
        throw new SluiceError(
          'REDIRECT_REFUSED',
          'integrity',
          `${req.url.host} redirected from https to plain http (${next.host})`,
          {
            registry: req.url.host,
          },
        );
      }
      if (next.origin !== origin) {
        headers = Object.fromEntries(
          Object.entries(headers).filter(([k]) => !SENSITIVE_HEADERS.includes(k.toLowerCase())),
        );
      }
      url = next;
    }
  }

  private async once(req: HttpRequest): Promise<HttpResponse> {
    const release = await this.limiter.acquire();
    const started = performance.now();
    try {
      const res = await this.send(req);
      this.onResponse?.({
        method: req.method,
        url: req.url,
        status: res.statusCode ?? 0,
        durationMs: performance.now() - started,
      });
      return wrapResponse(res, req.url);
    } finally {
      release();
    }
  }

  private send(req: HttpRequest): Promise<IncomingMessage> {
    const isHttps = req.url.protocol === 'https:';
    const mod = isHttps ? https : http;
    const headers: Record<string, string> = { 'user-agent': this.userAgent, ...req.headers };
    const bodyStream: Readable | undefined = typeof req.body === 'function' ? req.body() : undefined;
    if (Buffer.isBuffer(req.body)) {
      headers['content-length'] = String(req.body.length);
    } else if (bodyStream) {
      if (req.bodyLength !== undefined) headers['content-length'] = String(req.bodyLength);
    } else if (req.method === 'PUT' || req.method === 'POST' || req.method === 'PATCH') {
      headers['content-length'] = '0';
    }
    return new Promise<IncomingMessage>((resolve, reject) => {
      // A body that failed (its source registry broke off) makes the request fail too, with
      // the body's error: the request's own ("socket hang up") would blame this registry.
      const fail = (err: Error) => reject((bodyStream?.errored as Error | null) ?? err);
      const onResponse = (res: IncomingMessage) => {
        // A registry may answer before it has read the whole body (an early refusal): once
        // the answer is read or dropped, nothing wants the rest of the body any more.
        if (bodyStream) res.once('close', () => bodyStream.destroy());
        res.setTimeout(this.idleTimeoutMs, () => {
          res.destroy(Object.assign(new Error(`no data for ${this.idleTimeoutMs} ms`), { code: 'ETIMEDOUT' }));
        });
        resolve(res);
      };
      let clientReq: Http.ClientRequest;
      try {
        clientReq = mod.request(
          req.url,
          { method: req.method, headers, agent: isHttps ? this.httpsAgent : this.httpAgent, signal: req.signal },
          onResponse,
        );
      } catch (err) {
        bodyStream?.destroy();
        throw err;
      }
      clientReq.setTimeout(this.idleTimeoutMs, () => {
        clientReq.destroy(Object.assign(new Error(`no response for ${this.idleTimeoutMs} ms`), { code: 'ETIMEDOUT' }));
      });
      clientReq.on('error', (err) => {
        fail(err);
        bodyStream?.destroy();
      });
      if (Buffer.isBuffer(req.body)) {
        clientReq.end(req.body);
      } else if (bodyStream) {
        // pipeline() also hears a body that failed before this request was sent.
        pipeline(bodyStream, clientReq, (err) => {
          if (err) fail(err);
        });
      } else {
        clientReq.end();
      }
    });
  }
}
