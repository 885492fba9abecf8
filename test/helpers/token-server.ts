/**
 * A token server for Distribution's token authentication (docs/spec/auth/token.md and
 * oauth.md), with a user table, a per-user ACL, configurable lifetimes and a log of every
 * request, so tests can assert who asked for what.
 *
 * Distribution 2.8 verifies a token by its header: `x5c` must chain to a certificate in the
 * registry's `rootcertbundle`; otherwise `kid` must equal the libtrust key ID of a public key
 * in that bundle. It accepts `exp` and `nbf` with 60 s of leeway, which is why lifetimes here
 * are compensated by default (see {@link TokenServerOptions.compensateLeeway}).
 */
import {
  createHash,
  createPrivateKey,
  randomBytes,
  randomUUID,
  sign,
  X509Certificate,
  type KeyObject,
} from 'node:crypto';
import http, { type IncomingMessage, type ServerResponse } from 'node:http';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import { getSigningMaterial, getTestPki, type SigningMaterial } from './tls.ts';

/** Distribution's clock-skew allowance on `exp` and `nbf` (registry/auth/token/token.go). */
export const DISTRIBUTION_TOKEN_LEEWAY_SECONDS = 60;

export const DEFAULT_USERS: Readonly<Record<string, string>> = Object.freeze({
  alice: 'alice-secret',
  reader: 'reader-secret',
});

/** One grant: `user` may perform `actions` on resources of `type` whose name matches `name`. */
export interface AccessRule {
  /** A user name, `'*'` for any authenticated user, or `''` for anonymous requests. */
  user: string;
  /** Resource type; `repository` when omitted. The catalog is `registry` / `catalog`. */
  type?: string;
  /** Exact name, `'*'` (the default) for every name, or a pattern. */
  name?: string | RegExp;
  /** Actions granted; `'*'` grants whatever was requested. */
  actions: readonly string[];
}

/** Alice may do anything, reader may pull. */
export const DEFAULT_ACL: readonly AccessRule[] = Object.freeze([
  { user: 'alice', actions: ['pull', 'push', 'delete'] },
  { user: 'alice', type: 'registry', name: 'catalog', actions: ['*'] },
  { user: 'reader', actions: ['pull'] },
]);

export interface TokenServerOptions {
  /** Value of `service` the registry is configured with; tokens carry it as `aud`. */
  service?: string;
  issuer?: string;
  /** User name to password. Defaults to {@link DEFAULT_USERS}. */
  users?: Record<string, string>;
  /** Defaults to {@link DEFAULT_ACL}. */
  acl?: readonly AccessRule[];
  /** Anonymous requests get pull on every repository. Otherwise they get tokens with no access. */
  anonymousPull?: boolean;
  /** Seconds a token is accepted by the registry; also reported as `expires_in`. Default 300. */
  lifetimeSeconds?: number;
  /**
   * Subtract Distribution's 60 s leeway from `exp` so that the registry really rejects the
   * token after `lifetimeSeconds` (default true). Without it a 2 s token works for 62 s and
   * refresh-on-401 cannot be tested in reasonable time.
   */
  compensateLeeway?: boolean;
  /** `ES256` (default) or `RS256`. */
  alg?: 'ES256' | 'RS256';
  /** Identify the signing key by libtrust `kid` (default) or by an `x5c` certificate chain. */
  keyReference?: 'kid' | 'x5c';
  /** Serve HTTPS with the shared test certificate. */
  tls?: boolean;
}

export interface GrantedAccess {
  type: string;
  class?: string;
  name: string;
  actions: string[];
}

/** What the token server saw and answered, one entry per request. */
export interface TokenRequestRecord {
  method: string;
  path: string;
  /** Query parameters, plus the form fields of a POST (never passwords or refresh tokens). */
  query: Record<string, string[]>;
  service: string | undefined;
  /** Requested scopes, as sent. */
  scopes: string[];
  /** Whether an Authorization header was present at all. */
  authorization: boolean;
  /** User named by Basic auth or by a password / refresh-token grant, valid or not. */
  user: string | undefined;
  /** True when credentials were presented and valid. */
  authenticated: boolean;
  grantType: string | undefined;
  status: number;
  /** Access placed in the issued token. */
  granted: GrantedAccess[];
  /** `jti` of the issued token. */
  tokenId: string | undefined;
  time: number;
}

export interface TokenServerHandle {
  /** Origin, e.g. `http://127.0.0.1:41234`. */
  url: string;
  /** Full realm URL to configure in the registry. */
  realm: string;
  service: string;
  issuer: string;
  alg: 'ES256' | 'RS256';
  /** Certificate of the signing key: the registry's `rootcertbundle`. */
  certFile: string;
  certPem: string;
  /** libtrust key ID of the signing key. */
  keyId: string;
  /** Every request so far, oldest first. */
  readonly requests: TokenRequestRecord[];
  /** Forgets recorded requests. */
  reset(): void;
  /** Changes the lifetime of tokens issued from now on. */
  setLifetime(seconds: number): void;
  /** Answers the next `count` requests with `status` (default 503) before any other processing. */
  failNext(count: number, status?: number): void;
  /** Signs a token directly, e.g. to hand a client an already-expired one. */
  issueToken(
    subject: string,
    access: GrantedAccess[],
    options?: { lifetimeSeconds?: number; audience?: string },
  ): string;
  close(): Promise<void>;
}

/**
 * The libtrust key ID Distribution 2.8 derives for a public key: SHA-256 of the DER
 * SubjectPublicKeyInfo, first 240 bits, base32, in twelve colon-separated groups of four.
 */
export function libtrustKeyId(spkiDer: Buffer): string {
  const hash = createHash('sha256').update(spkiDer).digest().subarray(0, 30);
  const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';
  let bits = 0;
  let value = 0;
  let out = '';
  for (const byte of hash) {
    value = (value << 8) | byte;
    bits += 8;
    while (bits >= 5) {
      out += alphabet[(value >>> (bits - 5)) & 31];
      bits -= 5;
    }
  }
  return out.match(/.{4}/g)!.join(':');
}

function base64url(data: Buffer | string): string {
  return Buffer.from(data).toString('base64url');
}

/** Splits `repository(plugin):host:5000/name:pull,push` into its parts; names may contain `:`. */
export function parseScope(
  scope: string,
): { type: string; class?: string; name: string; actions: string[] } | undefined {
  const first = scope.indexOf(':');
  const last = scope.lastIndexOf(':');
  if (first < 0 || last === first) return undefined;
  const rawType = scope.slice(0, first);
  const classMatch = /^([a-z0-9]+)\(([^)]*)\)$/.exec(rawType);
  const actions = scope
    .slice(last + 1)
    .split(',')
    .filter((a) => a !== '');
  return {
    type: classMatch ? classMatch[1]! : rawType,
    ...(classMatch ? { class: classMatch[2]! } : {}),
    name: scope.slice(first + 1, last),
    actions,
  };
}

function nameMatches(pattern: AccessRule['name'], name: string): boolean {
  if (pattern === undefined || pattern === '*') return true;
  if (typeof pattern === 'string') return pattern === name;
  return pattern.test(name);
}

function grantedActions(acl: readonly AccessRule[], user: string, type: string, name: string, requested: string[]) {
  const allowed = new Set<string>();
  for (const rule of acl) {
    const userMatches = rule.user === user || (rule.user === '*' && user !== '');
    if (!userMatches || (rule.type ?? 'repository') !== type || !nameMatches(rule.name, name)) continue;
    for (const action of rule.actions) allowed.add(action);
  }
  return allowed.has('*') ? [...requested] : requested.filter((a) => allowed.has(a));
}

function parseBasic(header: string | undefined): { user: string; password: string } | undefined {
  const match = /^Basic\s+(.+)$/i.exec(header ?? '');
  if (!match) return undefined;
  const decoded = Buffer.from(match[1]!, 'base64').toString('utf8');
  const colon = decoded.indexOf(':');
  if (colon < 0) return { user: decoded, password: '' };
  return { user: decoded.slice(0, colon), password: decoded.slice(colon + 1) };
}

async function readBody(req: IncomingMessage, limit = 64 * 1024): Promise<string> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > limit) throw new Error('request body too large');
    chunks.push(chunk as Buffer);
  }
  return Buffer.concat(chunks).toString('utf8');
}

function sendJson(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  const text = JSON.stringify(body);
  res.writeHead(status, {
    'content-type': 'application/json',
    'content-length': Buffer.byteLength(text),
    ...headers,
  });
  res.end(text);
}

const SECRET_FIELDS = new Set(['password', 'refresh_token']);

/** Starts a token server on a random loopback port. */
export async function startTokenServer(options: TokenServerOptions = {}): Promise<TokenServerHandle> {
  const alg = options.alg ?? 'ES256';
  const material: SigningMaterial = await getSigningMaterial(alg);
  const privateKey: KeyObject = createPrivateKey(material.keyPem);
  const cert = new X509Certificate(material.certPem);
  const keyId = libtrustKeyId(cert.publicKey.export({ type: 'spki', format: 'der' }));
  const service = options.service ?? 'sluice-test-registry';
  const issuer = options.issuer ?? 'sluice-test-token-issuer';
  const users = options.users ?? { ...DEFAULT_USERS };
  const acl: AccessRule[] = [...(options.acl ?? DEFAULT_ACL)];
  if (options.anonymousPull) acl.push({ user: '', actions: ['pull'] });
  const compensate = options.compensateLeeway ?? true;
  let lifetime = options.lifetimeSeconds ?? 300;
  let failures: { count: number; status: number } = { count: 0, status: 503 };
  const requests: TokenRequestRecord[] = [];
  const refreshTokens = new Map<string, string>();

  function issueToken(
    subject: string,
    access: GrantedAccess[],
    opts: { lifetimeSeconds?: number; audience?: string } = {},
  ): { token: string; jti: string } {
    const now = Math.floor(Date.now() / 1000);
    const seconds = opts.lifetimeSeconds ?? lifetime;
    const jti = randomUUID();
    const header =
      (options.keyReference ?? 'kid') === 'x5c'
        ? { typ: 'JWT', alg, x5c: [cert.raw.toString('base64')] }
        : { typ: 'JWT', alg, kid: keyId };
    const claims = {
      iss: issuer,
      sub: subject,
      aud: opts.audience ?? service,
      exp: now + seconds - (compensate ? DISTRIBUTION_TOKEN_LEEWAY_SECONDS : 0),
      nbf: now,
      iat: now,
      jti,
      access,
    };
    const signingInput = `${base64url(JSON.stringify(header))}.${base64url(JSON.stringify(claims))}`;
    const signature = sign('sha256', Buffer.from(signingInput), {
      key: privateKey,
      ...(alg === 'ES256' ? { dsaEncoding: 'ieee-p1363' as const } : {}),
    });
    return { token: `${signingInput}.${base64url(signature)}`, jti };
  }

  function grant(user: string, scopes: string[]): GrantedAccess[] {
    const granted: GrantedAccess[] = [];
    for (const scope of scopes) {
      const parsed = parseScope(scope);
      if (!parsed) continue;
      const actions = grantedActions(acl, user, parsed.type, parsed.name, parsed.actions);
      if (actions.length === 0) continue;
      granted.push({ type: parsed.type, ...(parsed.class ? { class: parsed.class } : {}), name: parsed.name, actions });
    }
    return granted;
  }

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://token.invalid');
    const record: TokenRequestRecord = {
      method: req.method ?? 'GET',
      path: url.pathname,
      query: {},
      service: undefined,
      scopes: [],
      authorization: req.headers.authorization !== undefined,
      user: undefined,
      authenticated: false,
      grantType: undefined,
      status: 0,
      granted: [],
      tokenId: undefined,
      time: Date.now(),
    };
    requests.push(record);
    const reply = (status: number, body: unknown, headers?: Record<string, string>): void => {
      record.status = status;
      sendJson(res, status, body, headers);
    };

    const params = new URLSearchParams(url.search);
    if (req.method === 'POST') {
      const form = new URLSearchParams(await readBody(req));
      for (const [k, v] of form) params.append(k, v);
    }
    for (const [k, v] of params) {
      (record.query[k] ??= []).push(SECRET_FIELDS.has(k) ? '<redacted>' : v);
    }
    record.service = params.get('service') ?? undefined;
    record.scopes = params.getAll('scope').flatMap((s) => s.split(' ').filter((x) => x !== ''));
    record.grantType = params.get('grant_type') ?? undefined;

    if (failures.count > 0) {
      failures.count--;
      reply(failures.status, { errors: [{ code: 'UNAVAILABLE', message: 'injected token server failure' }] });
      return;
    }
    if (url.pathname !== '/token' || (req.method !== 'GET' && req.method !== 'POST')) {
      reply(404, { error: 'not found' });
      return;
    }
    if (record.service !== undefined && record.service !== service) {
      reply(400, { error: 'invalid_request', details: `unknown service ${record.service}` });
      return;
    }

    let user = '';
    let wantsRefresh: boolean;
    if (req.method === 'POST') {
      const grantType = params.get('grant_type');
      if (grantType === 'password') {
        const name = params.get('username') ?? '';
        record.user = name;
        if (name === '' || users[name] === undefined || users[name] !== params.get('password')) {
          reply(401, { error: 'invalid_grant', details: 'incorrect username or password' });
          return;
        }
        user = name;
      } else if (grantType === 'refresh_token') {
        const owner = refreshTokens.get(params.get('refresh_token') ?? '');
        if (owner === undefined) {
          reply(400, { error: 'invalid_grant', details: 'unknown refresh token' });
          return;
        }
        record.user = owner;
        user = owner;
      } else {
        reply(400, { error: 'unsupported_grant_type' });
        return;
      }
      wantsRefresh = params.get('access_type') === 'offline' || grantType === 'refresh_token';
    } else {
      const basic = parseBasic(req.headers.authorization);
      if (req.headers.authorization !== undefined) {
        if (!basic) {
          reply(401, { details: 'unsupported authorization scheme' }, { 'www-authenticate': 'Basic realm="token"' });
          return;
        }
        record.user = basic.user;
        if (users[basic.user] === undefined || users[basic.user] !== basic.password) {
          reply(401, { details: 'incorrect username or password' }, { 'www-authenticate': 'Basic realm="token"' });
          return;
        }
        user = basic.user;
      }
      wantsRefresh = params.get('offline_token') === 'true' && user !== '';
    }
    record.authenticated = user !== '';

    const granted = grant(user, record.scopes);
    const { token, jti } = issueToken(user, granted);
    record.granted = granted;
    record.tokenId = jti;
    const body: Record<string, unknown> = {
      token,
      access_token: token,
      expires_in: lifetime,
      issued_at: new Date().toISOString(),
      scope: record.scopes.join(' '),
    };
    if (wantsRefresh) {
      const refresh = randomBytes(24).toString('base64url');
      refreshTokens.set(refresh, user);
      body.refresh_token = refresh;
    }
    reply(200, body);
  }

  const listener = (req: IncomingMessage, res: ServerResponse): void => {
    handle(req, res).catch((error: unknown) => {
      if (!res.headersSent) sendJson(res, 500, { error: String(error) });
      else res.destroy();
    });
  };
  const pki = options.tls ? await getTestPki() : undefined;
  const server = pki
    ? https.createServer({ cert: pki.certPem, key: pki.keyPem }, listener)
    : http.createServer(listener);
  server.keepAliveTimeout = 1000;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  server.unref();
  const { port } = server.address() as AddressInfo;
  const origin = `${pki ? 'https' : 'http'}://127.0.0.1:${port}`;

  return {
    url: origin,
    realm: `${origin}/token`,
    service,
    issuer,
    alg,
    certFile: material.certFile,
    certPem: material.certPem,
    keyId,
    requests,
    reset: () => {
      requests.length = 0;
    },
    setLifetime: (seconds: number) => {
      lifetime = seconds;
    },
    failNext: (count: number, status = 503) => {
      failures = { count, status };
    },
    issueToken: (subject, access, opts) => issueToken(subject, access, opts).token,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
