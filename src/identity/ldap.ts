/**
 * Checking a user name and password against an LDAP directory and reading the groups the
 * person belongs to. One connection per login: bind as the service account, find the user's
 * entry, bind as that entry with the given password, bind back as the service account and
 * search the groups. Every operation has a timeout; every value from the user is escaped
 * before it reaches a filter.
 *
 * What a caller learns is deliberately coarse: a wrong password and an unknown user both give
 * LOGIN_FAILED, after the same number of round trips (an unknown user still costs a bind
 * against a DN that does not exist), so that neither the message nor the time tells whether
 * the user exists. Anything that keeps the directory from answering is LDAP_UNAVAILABLE.
 * Passwords never reach an error, a log line or the `cause` of an error.
 */
import { randomBytes } from 'node:crypto';
import { Client, type Entry, InvalidCredentialsError, SizeLimitExceededError } from 'ldapts';
import { SluiceError } from '../errors.ts';

export interface LdapSettings {
  /** `ldap://host:port` or `ldaps://host:port`. */
  url: string;
  /** Upgrade an `ldap://` connection with StartTLS before anything is sent. */
  startTLS: boolean;
  /** PEM of the CA that signed the directory's certificate; absent: the system's CAs. */
  ca?: string | Buffer;
  bindDN: string;
  /** The service account's password, already resolved from its secret reference. */
  bindPassword: string;
  userSearch: {
    base: string;
    /** An RFC 4515 filter with `{username}` where the escaped user name goes. */
    filter: string;
    /** Attribute names holding the display name and mail address. */
    attributes?: { displayName?: string; mail?: string };
  };
  /** Absent: groups come from the user entry's `memberOf` only. */
  groupSearch?: {
    base: string;
    /** An RFC 4515 filter with `{dn}` (the user's DN) and/or `{username}`, escaped. */
    filter: string;
  };
  /** Time each LDAP operation (connect, bind, search) may take. */
  timeoutMs?: number;
}

export interface DirectoryUser {
  username: string;
  dn: string;
  displayName?: string;
  mail?: string;
  /** DNs of the groups the user belongs to, as the directory spelled them. */
  groups: string[];
}

export const DEFAULT_LDAP_TIMEOUT_MS = 5_000;
/** Groups read at most for one user; a directory answering more is cut off, not trusted further. */
export const MAX_GROUPS = 1_000;
const MAX_USERNAME_LENGTH = 256;
const MAX_PASSWORD_LENGTH = 1_024;

/** RFC 4515 §3: the characters a filter's assertion value must not carry unescaped. */
export function escapeFilterValue(value: string): string {
  return value.replace(/[\\*()\0]/g, (c) => `\\${c.charCodeAt(0).toString(16).padStart(2, '0')}`);
}

/** RFC 4514 §2.4: an attribute value made safe to place inside a DN. */
export function escapeDnValue(value: string): string {
  let out = value.replace(/[\\"+,;<>=\0]/g, (c) => (c === '\0' ? '\\00' : `\\${c}`));
  if (out.startsWith(' ') || out.startsWith('#')) out = `\\${out}`;
  if (out.endsWith(' ') && !out.endsWith('\\ ')) out = `${out.slice(0, -1)}\\ `;
  return out;
}

/** Puts escaped values into a filter template's `{name}` placeholders. */
export function fillFilter(template: string, values: Readonly<Record<string, string>>): string {
  return template.replace(/\{(\w+)\}/g, (whole, name: string) =>
    Object.hasOwn(values, name) ? escapeFilterValue(values[name] as string) : whole,
  );
}

function loginFailed(): SluiceError {
  return new SluiceError('LOGIN_FAILED', 'unauthorized', 'the user name or password is wrong');
}

/** Describes a failure without anything a bind carried; `where` says which step it was. */
function unavailable(settings: LdapSettings, where: string, err: unknown): SluiceError {
  const reason =
    err instanceof Error
      ? ((err as NodeJS.ErrnoException).code ?? err.name) + (err.message ? `: ${err.message}` : '')
      : String(err);
  return new SluiceError(
    'LDAP_UNAVAILABLE',
    'unavailable',
    `the LDAP directory ${settings.url} failed during ${where}: ${redact(reason, settings)}`,
    { url: settings.url },
  );
}

// ldapts messages name DNs at most, but a password must not slip through whatever a future
// version writes.
function redact(text: string, settings: LdapSettings, password?: string): string {
  let out = text.slice(0, 300);
  for (const secret of [settings.bindPassword, password]) {
    if (secret && secret.length >= 1) out = out.split(secret).join('***');
  }
  return out;
}

function first(entry: Entry, attribute: string | undefined): string | undefined {
  if (!attribute) return undefined;
  const key = Object.keys(entry).find((k) => k.toLowerCase() === attribute.toLowerCase());
  if (key === undefined) return undefined;
  const v = entry[key];
  const s = Array.isArray(v) ? v[0] : v;
  if (s === undefined) return undefined;
  return (Buffer.isBuffer(s) ? s.toString('utf8') : s).slice(0, 1_024);
}

function all(entry: Entry, attribute: string): string[] {
  const key = Object.keys(entry).find((k) => k.toLowerCase() === attribute.toLowerCase());
  if (key === undefined) return [];
  const v = entry[key];
  if (v === undefined) return [];
  const list: (string | Buffer)[] = Array.isArray(v) ? v : [v];
  return list.map((x) => (Buffer.isBuffer(x) ? x.toString('utf8') : x));
}

/** Refuses before any round trip what can never be a login. */
function checkUsername(username: string): void {
  // Control characters have no place in a user name and only serve to confuse filters and logs.
  // eslint-disable-next-line no-control-regex
  if (username.length === 0 || username.length > MAX_USERNAME_LENGTH || /[\u0000-\u001f\u007f]/.test(username)) {
    throw loginFailed();
  }
}

export class LdapDirectory {
  readonly #settings: LdapSettings;
  readonly #timeoutMs: number;

  constructor(settings: LdapSettings) {
    if (!/^ldaps?:\/\//i.test(settings.url)) {
      throw new SluiceError(
        'POLICY_INVALID',
        'invalid-input',
        `identity.ldap.url must be ldap:// or ldaps://, got ${settings.url}`,
      );
    }
    if (settings.startTLS && /^ldaps:/i.test(settings.url)) {
      throw new SluiceError(
        'POLICY_INVALID',
        'invalid-input',
        'identity.ldap.startTLS applies to ldap:// URLs, not ldaps://',
      );
    }
    this.#settings = settings;
    this.#timeoutMs = settings.timeoutMs ?? DEFAULT_LDAP_TIMEOUT_MS;
  }

  /**
   * Checks `password` for `username` and returns the directory's view of the user. An empty
   * password is refused here: an LDAP simple bind with a DN and no password is an
   * unauthenticated bind that most servers answer with success.
   */
  async authenticate(username: string, password: string): Promise<DirectoryUser> {
    checkUsername(username);
    if (password.length === 0 || password.length > MAX_PASSWORD_LENGTH) throw loginFailed();
    return this.#withClient(async (client) => {
      const entry = await this.#findUser(client, username);
      // An unknown user still costs a bind, so that its answer takes as long as a wrong password.
      const dn = entry?.dn ?? `uid=${randomBytes(12).toString('hex')},${this.#settings.userSearch.base}`;
      try {
        await client.bind(dn, password);
      } catch (err) {
        if (err instanceof InvalidCredentialsError) throw loginFailed();
        throw unavailable(this.#settings, 'the user bind', redactedError(err, this.#settings, password));
      }
      if (!entry) throw loginFailed();
      await this.#serviceBind(client);
      return this.#describe(client, username, entry);
    });
  }

  /**
   * The user's entry and groups as the directory says now, without a password: what a session
   * refresh re-reads. A user no longer in the directory gives LOGIN_FAILED.
   */
  async lookup(username: string): Promise<DirectoryUser> {
    checkUsername(username);
    return this.#withClient(async (client) => {
      const entry = await this.#findUser(client, username);
      if (!entry) throw loginFailed();
      return this.#describe(client, username, entry);
    });
  }

  async #withClient<T>(work: (client: Client) => Promise<T>): Promise<T> {
    const s = this.#settings;
    const tlsOptions = s.ca === undefined ? {} : { ca: s.ca };
    const client = new Client({
      url: s.url,
      timeout: this.#timeoutMs,
      connectTimeout: this.#timeoutMs,
      // Given on an ldap:// client, ldapts applies these to the StartTLS upgrade too and the
      // handshake breaks off; StartTLS gets its own copy below.
      ...(/^ldaps:/i.test(s.url) ? { tlsOptions: { ...tlsOptions } } : {}),
      strictDN: true,
    });
    try {
      if (s.startTLS) {
        try {
          await client.startTLS({ ...tlsOptions });
        } catch (err) {
          throw unavailable(s, 'StartTLS', err);
        }
      }
      await this.#serviceBind(client);
      return await work(client);
    } finally {
      // unbind also closes the socket; a directory that went away makes it fail, which changes nothing.
      await client.unbind().catch(() => undefined);
    }
  }

  async #serviceBind(client: Client): Promise<void> {
    try {
      await client.bind(this.#settings.bindDN, this.#settings.bindPassword);
    } catch (err) {
      if (err instanceof InvalidCredentialsError) {
        throw unavailable(
          this.#settings,
          'the service bind',
          new Error('the directory refused bindDN and bindPassword'),
        );
      }
      throw unavailable(this.#settings, 'the service bind', err);
    }
  }

  /** The one entry the user filter matches, or undefined; two matches are a configuration fault. */
  async #findUser(client: Client, username: string): Promise<Entry | undefined> {
    const s = this.#settings;
    const attrs = s.userSearch.attributes ?? {};
    const attributes = ['memberOf', ...[attrs.displayName, attrs.mail].filter((a): a is string => !!a)];
    let entries: Entry[];
    try {
      ({ searchEntries: entries } = await client.search(s.userSearch.base, {
        scope: 'sub',
        filter: fillFilter(s.userSearch.filter, { username }),
        attributes,
        sizeLimit: 2,
        timeLimit: Math.ceil(this.#timeoutMs / 1000),
      }));
    } catch (err) {
      if (isSizeLimit(err)) throw ambiguous(s);
      throw unavailable(s, 'the user search', err);
    }
    if (entries.length > 1) throw ambiguous(s);
    return entries[0];
  }

  async #describe(client: Client, username: string, entry: Entry): Promise<DirectoryUser> {
    const s = this.#settings;
    const groups = new Set(all(entry, 'memberOf'));
    if (s.groupSearch) {
      try {
        const { searchEntries } = await client.search(s.groupSearch.base, {
          scope: 'sub',
          filter: fillFilter(s.groupSearch.filter, { dn: entry.dn, username }),
          attributes: ['1.1'],
          sizeLimit: MAX_GROUPS,
          timeLimit: Math.ceil(this.#timeoutMs / 1000),
        });
        for (const g of searchEntries) groups.add(g.dn);
      } catch (err) {
        throw unavailable(s, 'the group search', err);
      }
    }
    const user: DirectoryUser = { username, dn: entry.dn, groups: [...groups].slice(0, MAX_GROUPS) };
    const displayName = first(entry, s.userSearch.attributes?.displayName);
    const mail = first(entry, s.userSearch.attributes?.mail);
    if (displayName !== undefined) user.displayName = displayName;
    if (mail !== undefined) user.mail = mail;
    return user;
  }
}

function isSizeLimit(err: unknown): boolean {
  return err instanceof SizeLimitExceededError;
}

function ambiguous(s: LdapSettings): SluiceError {
  return new SluiceError(
    'LDAP_UNAVAILABLE',
    'unavailable',
    `identity.ldap.userSearch.filter matches more than one entry under ${s.userSearch.base}; make it match one user`,
    { url: s.url },
  );
}

function redactedError(err: unknown, s: LdapSettings, password: string): Error {
  const e = err instanceof Error ? err : new Error(String(err));
  const out = new Error(redact(e.message, s, password));
  out.name = e.name;
  return out;
}
