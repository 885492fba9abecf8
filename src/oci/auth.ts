/**
 * Registry authentication: anonymous, Basic, and the bearer-token challenge flow of Docker's
 * token spec (used by Distribution, Quay, Harbor, Docker Hub, ECR via basic). The first
 * request goes out bare; a 401 teaches us the scheme; after that the right header is sent
 * up front. Tokens are cached per scope set and refreshed on 401 or expiry.
 *
 * Credentials only ever go to the registry's own origin or to the token realm it named, and
 * the realm is checked: https (unless the registry itself is plain http), no redirects, no
 * link-local or metadata addresses (a malicious registry could otherwise collect them).
 */
import { isIP } from 'node:net';
import { SluiceError } from '../errors.ts';
import type { Credential, CredentialSource } from './credentials.ts';
import type { HttpTransport } from './transport.ts';

export interface Challenge {
  scheme: string;
  params: Record<string, string>;
}

/** Parses a WWW-Authenticate header (RFC 7235): one or more challenges with quoted params. */
export function parseWwwAuthenticate(header: string): Challenge[] {
  const challenges: Challenge[] = [];
  let i = 0;
  const s = header;
  const skipWs = () => {
    while (i < s.length && /[\s,]/.test(s[i]!)) i++;
  };
  while (i < s.length) {
    skipWs();
    const schemeMatch = /^[A-Za-z][A-Za-z0-9_-]*/.exec(s.slice(i));
    if (!schemeMatch) break;
    const challenge: Challenge = { scheme: schemeMatch[0].toLowerCase(), params: {} };
    i += schemeMatch[0].length;
    for (;;) {
      while (i < s.length && /\s/.test(s[i]!)) i++;
      const keyMatch = /^([A-Za-z0-9_-]+)\s*=\s*/.exec(s.slice(i));
      if (!keyMatch) break;
      i += keyMatch[0].length;
      let value = '';
      if (s[i] === '"') {
        i++;
        while (i < s.length && s[i] !== '"') {
          if (s[i] === '\\' && i + 1 < s.length) i++;
          value += s[i];
          i++;
        }
        i++;
      } else {
        const m = /^[^,\s]*/.exec(s.slice(i))!;
        value = m[0];
        i += value.length;
      }
      challenge.params[keyMatch[1]!.toLowerCase()] = value;
      while (i < s.length && /\s/.test(s[i]!)) i++;
      if (s[i] === ',') {
        i++;
        // A comma may separate params or start the next challenge; peek for "scheme " without "=".
        const rest = s.slice(i);
        if (/^\s*[A-Za-z][A-Za-z0-9_-]*\s+[A-Za-z0-9_-]+\s*=/.test(rest) || /^\s*[A-Za-z][A-Za-z0-9_-]*\s*$/.test(rest))
          break;
      }
    }
    challenges.push(challenge);
  }
  return challenges;
}

export type Scope = string;

export function repositoryScope(repository: string, actions: Array<'pull' | 'push' | 'delete' | '*'>): Scope {
  return `repository:${repository}:${actions.join(',')}`;
}

export const CATALOG_SCOPE: Scope = 'registry:catalog:*';

interface CachedToken {
  token: string;
  expiresAt: number;
}

export interface AuthenticatorOptions {
  registry: string;
  /** Origin of the registry's API (scheme://host:port); credentials are only sent here and to the realm. */
  origin: () => string;
  credentials?: CredentialSource;
  transport: HttpTransport;
  /** Allow an http:// token realm (only when the registry itself is plain http). */
  allowHttpRealm: () => boolean;
  now?: () => number;
}

const METADATA_HOSTS = new Set(['metadata.google.internal', 'metadata', 'instance-data']);

function isLinkLocal(host: string): boolean {
  const h = host.replace(/^\[|\]$/g, '');
  if (isIP(h) === 4) return h.startsWith('169.254.') || h === '0.0.0.0';
  if (isIP(h) === 6) return /^fe[89ab]/i.test(h) || h === '::';
  return METADATA_HOSTS.has(h.toLowerCase());
}

export class Authenticator {
  private scheme: 'unknown' | 'none' | 'basic' | 'bearer' = 'unknown';
  private realm: URL | undefined;
  private service: string | undefined;
  private readonly tokens = new Map<string, CachedToken>();
  private readonly pending = new Map<string, Promise<string>>();
  private credential: Promise<Credential | undefined> | undefined;
  private readonly opts: AuthenticatorOptions;
  private readonly now: () => number;

  constructor(opts: AuthenticatorOptions) {
    this.opts = opts;
    this.now = opts.now ?? Date.now;
  }

  private getCredential(repository?: string): Promise<Credential | undefined> {
    // Per-repository credentials are rare; one lookup per registry keeps the auth files read once.
    this.credential ??= this.opts.credentials?.lookup(this.opts.registry, repository) ?? Promise.resolve(undefined);
    return this.credential;
  }

  /** The Authorization header to send up front for these scopes, if the scheme is known. */
  async header(scopes: Scope[]): Promise<string | undefined> {
    if (this.scheme === 'basic') return this.basicHeader();
    if (this.scheme === 'bearer') {
      const key = scopeKey(scopes);
      const cached = this.tokens.get(key);
      if (cached && cached.expiresAt > this.now()) return `Bearer ${cached.token}`;
      // Parallel requests for the same scopes (blob mounts, layer downloads) share one fetch.
      let pending = this.pending.get(key);
      if (!pending) {
        pending = this.fetchToken(scopes).finally(() => this.pending.delete(key));
        this.pending.set(key, pending);
      }
      return `Bearer ${await pending}`;
    }
    return undefined;
  }

  private async basicHeader(): Promise<string | undefined> {
    const cred = await this.getCredential();
    if (!cred?.username && !cred?.password) return undefined;
    return `Basic ${Buffer.from(`${cred.username ?? ''}:${cred.password ?? ''}`).toString('base64')}`;
  }

  /**
   * Handles a 401: learns the scheme from the challenge and drops the stale token.
   * Returns whether a retry can help; the caller retries at most once.
   */
  async onUnauthorized(wwwAuthenticate: string | undefined, scopes: Scope[]): Promise<boolean> {
    const challenges = wwwAuthenticate ? parseWwwAuthenticate(wwwAuthenticate) : [];
    const bearer = challenges.find((c) => c.scheme === 'bearer');
    if (bearer) {
      this.setRealm(bearer.params.realm);
      this.service = bearer.params.service;
      this.scheme = 'bearer';
      this.tokens.delete(scopeKey(scopes));
      return true;
    }
    if (challenges.some((c) => c.scheme === 'basic')) {
      this.scheme = 'basic';
      return !!(await this.basicHeader());
    }
    return false;
  }

  /** Who we authenticate as, for error messages (never the secret). */
  async identity(): Promise<string> {
    const cred = await this.getCredential();
    if (cred?.username) return `as ${cred.username}`;
    if (cred?.identityToken || cred?.registryToken) return 'with a token';
    return 'anonymously';
  }

  private setRealm(realm: string | undefined): void {
    if (!realm) {
      throw new SluiceError(
        'AUTH_CHALLENGE_INVALID',
        'integrity',
        `${this.opts.registry} sent a Bearer challenge without a realm`,
        {
          registry: this.opts.registry,
        },
      );
    }
    let url: URL;
    try {
      url = new URL(realm);
    } catch {
      throw new SluiceError(
        'AUTH_CHALLENGE_INVALID',
        'integrity',
        `${this.opts.registry} sent an invalid token realm "${realm}"`,
        {
          registry: this.opts.registry,
        },
      );
    }
    if (url.protocol !== 'https:' && !(url.protocol === 'http:' && this.opts.allowHttpRealm())) {
      throw new SluiceError(
        'AUTH_REALM_REFUSED',
        'integrity',
        `${this.opts.registry} asks for credentials at ${url.protocol}//${url.host}, which is not https`,
        { registry: this.opts.registry },
      );
    }
    if (isLinkLocal(url.hostname)) {
      throw new SluiceError(
        'AUTH_REALM_REFUSED',
        'integrity',
        `${this.opts.registry} names token realm ${url.host}, a link-local/metadata address; refusing to send credentials there`,
        { registry: this.opts.registry },
      );
    }
    this.realm = url;
  }

  private async fetchToken(scopes: Scope[]): Promise<string> {
    const realm = this.realm!;
    const cred = await this.getCredential();
    const url = new URL(realm);
    if (this.service) url.searchParams.set('service', this.service);
    for (const scope of scopes) url.searchParams.append('scope', scope);
    const headers: Record<string, string> = {};
    let res;
    if (cred?.registryToken) {
      this.tokens.set(scopeKey(scopes), { token: cred.registryToken, expiresAt: this.now() + 3600_000 });
      return cred.registryToken;
    }
    if (cred?.identityToken) {
      // OAuth2 refresh-token grant, as docker does with an identity token.
      const form = new URLSearchParams({
        grant_type: 'refresh_token',
        refresh_token: cred.identityToken,
        client_id: 'sluice',
      });
      if (this.service) form.set('service', this.service);
      form.set('scope', scopes.join(' '));
      res = await this.opts.transport.request({
        method: 'POST',
        url: realm,
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: Buffer.from(form.toString()),
        followRedirects: false,
      });
    } else {
      if (cred?.username !== undefined || cred?.password !== undefined) {
        url.searchParams.set('account', cred.username ?? '');
        headers.authorization = `Basic ${Buffer.from(`${cred.username ?? ''}:${cred.password ?? ''}`).toString('base64')}`;
      }
      res = await this.opts.transport.request({ method: 'GET', url, headers, followRedirects: false });
    }
    const who = cred?.username
      ? ` as ${cred.username}`
      : cred?.identityToken
        ? ' with an identity token'
        : ' anonymously';
    if (res.status === 401 || res.status === 403) {
      await res.discard();
      throw new SluiceError(
        'UNAUTHORIZED',
        'unauthorized',
        `authentication to ${this.opts.registry} failed${who} (token server ${realm.host} answered ${res.status})`,
        { registry: this.opts.registry, httpStatus: res.status },
      );
    }
    if (res.status !== 200) {
      await res.discard();
      throw new SluiceError(
        'AUTH_TOKEN_FAILED',
        res.status >= 500 ? 'unavailable' : 'integrity',
        `token server ${realm.host} for ${this.opts.registry} answered ${res.status}`,
        { registry: this.opts.registry, httpStatus: res.status },
      );
    }
    let body: { token?: string; access_token?: string; expires_in?: number; issued_at?: string };
    try {
      body = JSON.parse(await res.text(1024 * 1024));
    } catch {
      throw new SluiceError('AUTH_TOKEN_FAILED', 'integrity', `token server ${realm.host} returned malformed JSON`, {
        registry: this.opts.registry,
      });
    }
    const token = body.token ?? body.access_token;
    if (!token || typeof token !== 'string') {
      throw new SluiceError('AUTH_TOKEN_FAILED', 'integrity', `token server ${realm.host} returned no token`, {
        registry: this.opts.registry,
      });
    }
    // The spec's default lifetime is 60 s; refresh a little early so a token never expires mid-request.
    const lifetimeMs = Math.max(10, typeof body.expires_in === 'number' ? body.expires_in : 60) * 1000;
    this.tokens.set(scopeKey(scopes), { token, expiresAt: this.now() + lifetimeMs * 0.9 });
    return token;
  }
}

function scopeKey(scopes: Scope[]): string {
  return [...scopes].sort().join(' ');
}
