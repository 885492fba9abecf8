/**
 * Raw HTTP against test servers, independent of Sluice's own transport, so a test can look at
 * exactly what a registry or proxy answers.
 */
import http, { type IncomingHttpHeaders } from 'node:http';
import https from 'node:https';

export interface RawResponse {
  status: number;
  headers: IncomingHttpHeaders;
  body: Buffer;
}

export interface RawRequestOptions {
  method?: string;
  headers?: Record<string, string>;
  body?: Buffer | string;
  /** CA to trust for https. */
  caPem?: string;
  /** Abort when no response (or no body progress) arrives for this long. Default 10 s. */
  timeoutMs?: number;
}

/**
 * One request, no redirects followed, no retries, body fully buffered. Rejects on connection
 * errors (ECONNRESET, ECONNREFUSED, timeouts) with the Node error.
 */
export function httpRequest(url: string | URL, options: RawRequestOptions = {}): Promise<RawResponse> {
  const target = typeof url === 'string' ? new URL(url) : url;
  return new Promise((resolve, rejectOnce) => {
    let settled = false;
    const reject = (error: unknown): void => {
      if (settled) return;
      settled = true;
      rejectOnce(error);
    };
    const body = options.body === undefined ? undefined : Buffer.from(options.body);
    const headers: Record<string, string | number> = { ...options.headers };
    if (body) headers['content-length'] = body.length;
    const requestOptions = { method: options.method ?? 'GET', headers, agent: false as const };
    const onResponse = (res: http.IncomingMessage): void => {
      const chunks: Buffer[] = [];
      res.on('data', (chunk: Buffer) => chunks.push(chunk));
      res.on('end', () => {
        settled = true;
        resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) });
      });
      res.on('error', reject);
      res.on('aborted', () => reject(Object.assign(new Error('response aborted'), { code: 'ECONNRESET' })));
    };
    const req =
      target.protocol === 'https:'
        ? https.request(target, { ...requestOptions, ca: options.caPem }, onResponse)
        : http.request(target, requestOptions, onResponse);
    req.setTimeout(options.timeoutMs ?? 10_000, () => {
      // Reject first: destroying emits its own abort errors, which must not win.
      reject(Object.assign(new Error('request timed out'), { code: 'ETIMEDOUT' }));
      req.destroy();
    });
    req.on('error', reject);
    req.end(body);
  });
}

/** What {@link registryRequest} needs; a RegistryHandle or ProxyHandle fits. */
export interface RegistryLike {
  url: string;
  caPem?: string;
  auth?: 'none' | 'htpasswd' | 'token';
  users?: Record<string, string>;
}

export interface RegistryRequestOptions extends Omit<RawRequestOptions, 'caPem'> {
  /** User to authenticate as; default `alice` when the registry has users. `null`: anonymous. */
  user?: string | null;
  /** Token scopes to request for token auth, e.g. `repository:foo:pull,push`. */
  scopes?: string[];
}

/**
 * A request to a registry API path (e.g. `/v2/foo/manifests/v1`) that authenticates the way
 * the registry wants: Basic for htpasswd, a token for the given scopes for token auth
 * (scopes default to the one named by the registry's challenge).
 */
export async function registryRequest(
  registry: RegistryLike,
  path: string,
  options: RegistryRequestOptions = {},
): Promise<RawResponse> {
  const url = new URL(path, registry.url);
  const users = registry.users ?? {};
  const user = options.user === null ? undefined : (options.user ?? ('alice' in users ? 'alice' : undefined));
  const basic =
    user !== undefined ? `Basic ${Buffer.from(`${user}:${users[user] ?? ''}`).toString('base64')}` : undefined;
  const send = (authorization?: string): Promise<RawResponse> =>
    httpRequest(url, {
      ...options,
      caPem: registry.caPem,
      headers: { ...options.headers, ...(authorization ? { authorization } : {}) },
    });

  if (registry.auth === 'htpasswd') return send(basic);
  if (registry.auth !== 'token') return send();

  let scopes = options.scopes;
  let challenge: string | undefined;
  if (!scopes) {
    // Ask the registry which scope it wants. Token auth answers every request without a
    // token with 401 before reading the body, so this probe cannot have side effects.
    const probe = await httpRequest(url, { method: options.method ?? 'GET', caPem: registry.caPem });
    if (probe.status !== 401) return send();
    challenge = String(probe.headers['www-authenticate'] ?? '');
    const scope = /scope="([^"]+)"/.exec(challenge)?.[1];
    scopes = scope ? [scope] : [];
  }
  challenge ??= String(
    (await httpRequest(new URL('/v2/', registry.url), { caPem: registry.caPem })).headers['www-authenticate'] ?? '',
  );
  const realm = /realm="([^"]+)"/.exec(challenge)?.[1];
  const service = /service="([^"]+)"/.exec(challenge)?.[1];
  if (!realm) throw new Error(`no token realm in challenge: ${challenge}`);
  const tokenUrl = new URL(realm);
  if (service) tokenUrl.searchParams.set('service', service);
  for (const scope of scopes) tokenUrl.searchParams.append('scope', scope);
  const tokenResponse = await httpRequest(tokenUrl, {
    caPem: registry.caPem,
    headers: basic ? { authorization: basic } : {},
  });
  if (tokenResponse.status !== 200) return tokenResponse;
  const { token } = JSON.parse(tokenResponse.body.toString('utf8')) as { token: string };
  return send(`Bearer ${token}`);
}
