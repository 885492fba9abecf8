/**
 * Change approval from ServiceNow: is change request CHG... approved, and does a given moment
 * fall in its planned window? One read of the Table API, as ServiceNow documents it
 * (ServiceNow/ServiceNowDocs `api-reference/rest-apis/c_TableAPI.md`, "Table - GET
 * /now/table/{tableName}"):
 *
 *   GET <instance>/api/now/table/change_request
 *       ?sysparm_query=number=CHG0030001
 *       &sysparm_fields=number,sys_id,state,approval,start_date,end_date,short_description
 *       &sysparm_limit=1&sysparm_display_value=false
 *   Accept: application/json
 *   → 200 {"result": [{"number": "CHG0030001", "sys_id": "<32 hex>", "approval": "approved", ...}]}
 *   → 200 {"result": []} when nothing matches
 *
 * With `sysparm_display_value=false` values are the database's: `approval` is one of
 * `not requested`, `requested`, `approved`, `rejected` (change-management-api.md, the
 * change_request fields), `state` the change model's integer as a string, and date-times
 * `YYYY-MM-DD HH:mm:ss` in UTC ("Date fields: The database value is in UTC format"). The Table
 * API ignores query parts it cannot parse and returns the other rows, so the change number is
 * checked before it is put into `sysparm_query` (no `^`, `=`, `LIKE`... can reach it) and the
 * returned record's number is checked against the one asked for.
 *
 * Failures use ServiceNow's documented error body (`c_CustomWebServices.md`, "Error response
 * format"; `inbound-REST-API-rate-limiting.md` for 429 with Retry-After):
 *   {"error": {"message": "...", "detail": "..."}, "status": "failure"}
 * with 401 (not authenticated), 403 (ACL), 404 (not found, also an ACL hiding the table),
 * 429 and 5xx (`r_RESTAPIHTTPResponseCodes.md`).
 *
 * Credentials (`user:password` → Basic, a bare token → Bearer) stay in this module: errors name
 * the instance and the HTTP status, never the Authorization header. Redirects are never
 * followed, so credentials cannot be replayed to another host (an SSO portal, say).
 */
import { SluiceError } from '../errors.ts';
import { OutboundClient, isLoopbackHostname, errnoCode, isHttpFailure, parseRetryAfter } from '../http/index.ts';
import { MAX_CERTIFICATE_FILE_BYTES, readInputText } from '../files.ts';
import type { ChangeManagement } from '../policy/schema.ts';
import { parseCredentialSecret, resolveSecretRef, type ResolveOptions } from '../policy/secrets.ts';

export interface ChangeDecision {
  number: string;
  /** `approved` and `inWindow`: the change allows the operation at that moment. */
  accepted: boolean;
  approved: boolean;
  /** The moment lies in [plannedStart, plannedEnd). */
  inWindow: boolean;
  /** The change model's state as stored (e.g. `-2` Scheduled); empty when no change was found. */
  state: string;
  /** `not requested` | `requested` | `approved` | `rejected`; empty when no change was found. */
  approval: string;
  plannedStart?: Date;
  plannedEnd?: Date;
  shortDescription?: string;
  /** Where a person opens the record (or, when none was found, searches for it). */
  url: string;
  /** One sentence, e.g. "CHG0030001 is not approved (approval: requested)". */
  reason: string;
}

export interface ChangeApprovalSource {
  check(changeNumber: string, at: Date): Promise<ChangeDecision>;
}

/** A change_request row as the Table API returns it with display values off. */
export interface ChangeRecord {
  number: string;
  sysId: string;
  state: string;
  approval: string;
  /** Raw `YYYY-MM-DD HH:mm:ss` (UTC) or empty. */
  startDate: string;
  endDate: string;
  shortDescription: string;
}

/** Resolved credentials: `user:password`, JSON `{"username","password"}` or a bare token, or parsed. */
export type ServiceNowCredentials = string | { username: string; password: string } | { token: string };

export interface ServiceNowClientOptions {
  /** Instance origin, e.g. `https://acme.service-now.com` (a trailing `/` is ignored). */
  url: string;
  credentials: ServiceNowCredentials;
  /** PEM bundle to trust in addition to the system roots (an on-premises instance). */
  caFile?: string;
  /** Per request; default 15 s. */
  timeoutMs?: number;
}

export const CHANGE_FIELDS = ['number', 'sys_id', 'state', 'approval', 'start_date', 'end_date', 'short_description'];
const CHANGE_NUMBER = /^CHG\d{1,32}$/;
const SYS_ID = /^[0-9a-f]{32}$/;
const MAX_RESPONSE_BYTES = 1024 * 1024;
const DEFAULT_TIMEOUT_MS = 15_000;

/**
 * Accepts `CHG` followed by digits (surrounding blanks dropped) and nothing else, so that no
 * encoded-query operator (`^`, `^OR`, `=`, `!=`, `LIKE`, `ORDERBY`...) reaches `sysparm_query`.
 */
export function parseChangeNumber(text: string): string {
  const n = text.trim();
  if (CHANGE_NUMBER.test(n)) return n;
  const shown = JSON.stringify(n.length > 40 ? `${n.slice(0, 37)}...` : n);
  const why = /[\^=!<>@,&?%*]|LIKE|ORDERBY|\s/.test(n)
    ? 'it contains query operators or separators'
    : 'expected CHG followed by digits, like CHG0030001';
  throw new SluiceError('CHANGE_NUMBER_INVALID', 'invalid-input', `change number ${shown} is invalid: ${why}`, {
    reason: why,
  });
}

/** `YYYY-MM-DD HH:mm:ss` as stored by ServiceNow, read as UTC; undefined for an empty field. */
export function parseServiceNowDateTime(text: string): Date | undefined {
  if (text === '') return undefined;
  const m = /^(\d{4})-(\d{2})-(\d{2}) (\d{2}):(\d{2}):(\d{2})$/.exec(text);
  if (!m) return new Date(NaN);
  const [y, mo, d, h, mi, s] = m.slice(1).map(Number) as [number, number, number, number, number, number];
  const date = new Date(Date.UTC(y, mo - 1, d, h, mi, s));
  // Reject what Date.UTC would roll over (2026-02-30, 24:00:00).
  const ok =
    date.getUTCFullYear() === y &&
    date.getUTCMonth() === mo - 1 &&
    date.getUTCDate() === d &&
    date.getUTCHours() === h &&
    date.getUTCMinutes() === mi &&
    date.getUTCSeconds() === s;
  return ok ? date : new Date(NaN);
}

function formatWindow(start: Date, end: Date): string {
  const withSeconds = start.getUTCSeconds() !== 0 || end.getUTCSeconds() !== 0;
  const day = (d: Date) => d.toISOString().slice(0, 10);
  const time = (d: Date) => d.toISOString().slice(11, withSeconds ? 19 : 16);
  return day(start) === day(end)
    ? `${day(start)} ${time(start)}–${time(end)} UTC`
    : `${day(start)} ${time(start)} – ${day(end)} ${time(end)} UTC`;
}

export function recordUrl(base: string, sysId: string): string {
  return `${base}/nav_to.do?uri=change_request.do?sys_id=${sysId}`;
}

function searchUrl(base: string, number: string): string {
  return `${base}/change_request_list.do?sysparm_query=${encodeURIComponent(`number=${number}`)}`;
}

/**
 * The decision, without I/O: accepted only when `approval` is `approved` and `at` lies in the
 * planned window [start_date, end_date).
 */
export function decideChange(base: string, number: string, record: ChangeRecord | undefined, at: Date): ChangeDecision {
  if (!record) {
    return {
      number,
      accepted: false,
      approved: false,
      inWindow: false,
      state: '',
      approval: '',
      url: searchUrl(base, number),
      reason: `no change request ${number} found`,
    };
  }
  const start = parseServiceNowDateTime(record.startDate);
  const end = parseServiceNowDateTime(record.endDate);
  const approved = record.approval === 'approved';
  const t = at.getTime();
  const inWindow = start !== undefined && end !== undefined && start.getTime() <= t && t < end.getTime();
  let reason: string;
  if (!approved) {
    reason = `${number} is not approved (approval: ${record.approval === '' ? 'empty' : record.approval})`;
  } else if (start === undefined || end === undefined) {
    const missing = [start === undefined ? 'start_date' : '', end === undefined ? 'end_date' : ''].filter(Boolean);
    reason = `${number} is approved but has no planned window (${missing.join(' and ')} not set)`;
  } else if (end.getTime() <= start.getTime()) {
    reason = `${number} is approved but its planned window ${formatWindow(start, end)} ends before it starts`;
  } else if (t < start.getTime()) {
    reason = `${number} is approved but its planned window ${formatWindow(start, end)} has not started`;
  } else if (!inWindow) {
    reason = `${number} is approved but its planned window ${formatWindow(start, end)} has ended`;
  } else {
    reason = `${number} is approved and within its planned window ${formatWindow(start, end)}`;
  }
  return {
    number,
    accepted: approved && inWindow,
    approved,
    inWindow,
    state: record.state,
    approval: record.approval,
    ...(start ? { plannedStart: start } : {}),
    ...(end ? { plannedEnd: end } : {}),
    ...(record.shortDescription ? { shortDescription: record.shortDescription } : {}),
    url: recordUrl(base, record.sysId),
    reason,
  };
}

function authorization(credentials: ServiceNowCredentials): string {
  let c: { username: string; password: string } | { token: string };
  if (typeof credentials === 'string') {
    const parsed = parseCredentialSecret(credentials, 'changeManagement.credentials');
    c =
      parsed.username !== undefined
        ? { username: parsed.username, password: parsed.password ?? '' }
        : { token: parsed.registryToken ?? '' };
  } else c = credentials;
  if ('token' in c) {
    if (c.token === '')
      throw new SluiceError('SERVICENOW_CREDENTIALS_INVALID', 'invalid-input', 'ServiceNow token is empty');
    return `Bearer ${c.token}`;
  }
  return `Basic ${Buffer.from(`${c.username}:${c.password}`, 'utf8').toString('base64')}`;
}

/** Text from a server, made safe to show: one line, printable, bounded. */
function clean(value: unknown, max = 200): string | undefined {
  if (typeof value !== 'string') return undefined;
  const s = value.replace(/\p{Cc}+/gu, ' ').trim();
  if (s === '') return undefined;
  return s.length > max ? `${s.slice(0, max - 3)}...` : s;
}

/** `{"error": {"message", "detail"}, "status": "failure"}` → "message: detail". */
function serviceNowError(body: string): string | undefined {
  try {
    const doc = JSON.parse(body) as { error?: { message?: unknown; detail?: unknown } };
    const message = clean(doc.error?.message);
    const detail = clean(doc.error?.detail);
    if (message && detail && detail !== message) return `${message}: ${detail}`;
    return message ?? detail;
  } catch {
    return undefined;
  }
}

export class ServiceNowClient implements ChangeApprovalSource {
  /** Instance origin (and path prefix, if any), without a trailing slash. */
  readonly baseUrl: string;
  readonly #authorization: string;
  readonly #caFile: string | undefined;
  readonly #timeoutMs: number;
  #client: Promise<OutboundClient> | undefined;

  constructor(options: ServiceNowClientOptions) {
    const bad = (why: string) =>
      new SluiceError('SERVICENOW_URL_INVALID', 'invalid-input', `ServiceNow URL ${why}`, { operation: 'servicenow' });
    let u: URL;
    try {
      u = new URL(options.url);
    } catch {
      throw bad('is not a URL');
    }
    if (u.protocol !== 'https:' && u.protocol !== 'http:') throw bad(`must be https, not ${u.protocol.slice(0, -1)}`);
    if (u.username !== '' || u.password !== '')
      throw bad('must not carry credentials; use changeManagement.credentials');
    if (u.protocol === 'http:' && !isLoopbackHostname(u.hostname)) {
      throw bad(`${u.origin} is plain http: the credentials would cross the network unencrypted; use https`);
    }
    if (u.search !== '' || u.hash !== '') throw bad('must not have a query or fragment');
    this.baseUrl = `${u.origin}${u.pathname}`.replace(/\/+$/, '');
    this.#authorization = authorization(options.credentials);
    this.#caFile = options.caFile;
    this.#timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  }

  /** A client for the policy's `changeManagement`, its credentials resolved now. */
  static async fromPolicy(
    config: ChangeManagement,
    options: ResolveOptions & Omit<ServiceNowClientOptions, 'url' | 'credentials'> = {},
  ): Promise<ServiceNowClient> {
    const { baseDir, env, ...clientOptions } = options;
    const credentials = await resolveSecretRef(config.credentials, { baseDir, env });
    return new ServiceNowClient({ ...clientOptions, url: config.url, credentials });
  }

  async check(changeNumber: string, at: Date): Promise<ChangeDecision> {
    const number = parseChangeNumber(changeNumber);
    return decideChange(this.baseUrl, number, await this.getChange(number), at);
  }

  /** The change request with this number, or undefined when the instance has none. */
  async getChange(changeNumber: string): Promise<ChangeRecord | undefined> {
    const number = parseChangeNumber(changeNumber);
    const query = new URLSearchParams({
      sysparm_query: `number=${number}`,
      sysparm_fields: CHANGE_FIELDS.join(','),
      sysparm_limit: '1',
      sysparm_display_value: 'false',
    });
    const { status, retryAfter, body } = await this.#get(`${this.baseUrl}/api/now/table/change_request?${query}`);
    if (status !== 200) throw this.#httpError(status, retryAfter, body, number);
    let doc: unknown;
    try {
      doc = JSON.parse(body);
    } catch {
      throw this.#badResponse('HTTP 200 with a body that is not JSON (a login page in front of the instance?)');
    }
    const result = (doc as { result?: unknown } | null)?.result;
    if (!Array.isArray(result)) throw this.#badResponse('a body without a `result` list');
    if (result.length === 0) return undefined;
    return this.#record(result[0], number);
  }

  #record(row: unknown, number: string): ChangeRecord {
    if (typeof row !== 'object' || row === null) throw this.#badResponse('a `result` entry that is not an object');
    const r = row as Record<string, unknown>;
    const field = (name: string, required: boolean): string => {
      const v = r[name];
      if (v === undefined && !required) return '';
      if (typeof v !== 'string') throw this.#badResponse(`\`${name}\` that is not a string`);
      return v;
    };
    const rec: ChangeRecord = {
      number: field('number', true),
      sysId: field('sys_id', true),
      state: field('state', false),
      approval: field('approval', true),
      startDate: field('start_date', false),
      endDate: field('end_date', false),
      shortDescription: field('short_description', false),
    };
    if (rec.number !== number) {
      // The Table API drops query parts it cannot use; a different record must not count.
      throw this.#badResponse(`record ${clean(rec.number, 40) ?? '(none)'} for a query for ${number}`);
    }
    if (!SYS_ID.test(rec.sysId)) throw this.#badResponse('a `sys_id` that is not 32 hex digits');
    for (const [name, value] of [
      ['start_date', rec.startDate],
      ['end_date', rec.endDate],
    ] as const) {
      const d = parseServiceNowDateTime(value);
      if (d !== undefined && Number.isNaN(d.getTime())) {
        throw this.#badResponse(`\`${name}\` ${JSON.stringify(clean(value, 40))}, not YYYY-MM-DD HH:mm:ss`);
      }
    }
    return rec;
  }

  /** The instance's client, trusting caFile when one is configured (read once). */
  #outbound(): Promise<OutboundClient> {
    if (this.#caFile === undefined) return (this.#client ??= Promise.resolve(new OutboundClient()));
    const file = this.#caFile;
    this.#client ??= readInputText(file, {
      what: 'ServiceNow CA file',
      limit: MAX_CERTIFICATE_FILE_BYTES,
      unreadable: (errno) =>
        new SluiceError(
          'SERVICENOW_CA_UNREADABLE',
          'invalid-input',
          `cannot read the CA file ${file} for ServiceNow (${errno})`,
        ),
    }).then(
      (caPem) => new OutboundClient({ caPem }),
      (err: unknown) => {
        this.#client = undefined;
        throw err;
      },
    );
    return this.#client;
  }

  async #get(url: string): Promise<{ status: number; retryAfter: string | undefined; body: string }> {
    const client = await this.#outbound();
    try {
      const res = await client.request({
        method: 'GET',
        url,
        headers: { accept: 'application/json', authorization: this.#authorization },
        timeoutMs: this.#timeoutMs,
        maxResponseBytes: MAX_RESPONSE_BYTES,
      });
      return { status: res.status, retryAfter: res.header('retry-after'), body: res.text() };
    } catch (err) {
      if (isHttpFailure(err) && err.kind === 'too-large') {
        throw new SluiceError(
          'SERVICENOW_BAD_RESPONSE',
          'integrity',
          `ServiceNow answered with more than ${MAX_RESPONSE_BYTES} bytes`,
          { operation: 'servicenow' },
        );
      }
      const timedOut = isHttpFailure(err) && (err.kind === 'timeout' || err.kind === 'connect-timeout');
      const why = timedOut
        ? `no answer within ${this.#timeoutMs / 1000} s`
        : `the request failed (${errnoCode(err) ?? 'network error'})`;
      throw new SluiceError('SERVICENOW_UNAVAILABLE', 'unavailable', `ServiceNow ${this.#host()}: ${why}`, {
        operation: 'servicenow',
      });
    }
  }

  #host(): string {
    return new URL(this.baseUrl).host;
  }

  #badResponse(what: string): SluiceError {
    return new SluiceError(
      'SERVICENOW_BAD_RESPONSE',
      'integrity',
      `ServiceNow ${this.#host()}: the Table API answered with ${what}`,
      { operation: 'servicenow' },
    );
  }

  #httpError(status: number, retryAfter: string | undefined, body: string, number: string): SluiceError {
    const said = serviceNowError(body);
    const detail = `HTTP ${status}${said ? `: ${said}` : ''}`;
    const context = { operation: 'servicenow', httpStatus: status, change: number };
    const host = this.#host();
    if (status >= 300 && status < 400) {
      return new SluiceError(
        'SERVICENOW_REDIRECT',
        'unavailable',
        `ServiceNow ${host} answered with a redirect (HTTP ${status}), which is not followed with credentials; changeManagement.url must be the instance itself`,
        context,
      );
    }
    switch (status) {
      case 401:
        return new SluiceError(
          'SERVICENOW_UNAUTHORIZED',
          'unauthorized',
          `ServiceNow ${host} rejected the credentials (${detail})`,
          context,
        );
      case 403:
        return new SluiceError(
          'SERVICENOW_FORBIDDEN',
          'forbidden',
          `ServiceNow ${host} refused to read change_request (${detail}); the integration user needs read access to it`,
          context,
        );
      case 404:
        return new SluiceError(
          'SERVICENOW_NOT_FOUND',
          'not-found',
          `ServiceNow ${host} has no Table API for change_request (${detail}); check changeManagement.url and the user's ACLs`,
          context,
        );
      case 429: {
        const retryAfterMs = parseRetryAfter(retryAfter);
        return new SluiceError(
          'SERVICENOW_UNAVAILABLE',
          'unavailable',
          `ServiceNow ${host} rate-limited the request (${detail})`,
          retryAfterMs !== undefined ? { ...context, retryAfterMs } : context,
        );
      }
      default:
        return status >= 500
          ? new SluiceError('SERVICENOW_UNAVAILABLE', 'unavailable', `ServiceNow ${host} failed (${detail})`, context)
          : new SluiceError(
              'SERVICENOW_REJECTED',
              'invalid-input',
              `ServiceNow ${host} rejected the query (${detail})`,
              context,
            );
    }
  }
}
