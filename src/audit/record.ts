/**
 * The audit record, its validation, secret redaction and the canonical form its hash covers.
 *
 * Canonical form, version 1 (docs/audit.md repeats it for auditors):
 *
 *   hash = lowercase hex SHA-256 of the UTF-8 bytes of
 *          JSON.stringify(["sluice-audit-v1", seq, time, actor, action, repository, digest,
 *                          tag, reason, result, details, prev_hash])
 *
 * - seq: integer; time: `Date.prototype.toISOString()` of the epoch milliseconds, e.g.
 *   "2025-03-01T12:00:00.000Z"; repository, digest, tag, reason: string or null;
 * - details: a *string*, the canonical JSON text of the details object (keys sorted by UTF-16
 *   code units at every level, no whitespace), exactly as stored in the `details` column;
 * - prev_hash: the previous record's hash, 64 zeros for the first record.
 *
 * JSON.stringify of an array of strings, integers and nulls has one possible output, which
 * Python's `json.dumps(..., ensure_ascii=False, separators=(",", ":"))` reproduces byte for
 * byte; strings that are not well-formed UTF-16 are refused at append so that holds.
 */
import { createHash } from 'node:crypto';
import { SluiceError } from '../errors.ts';
import { GENESIS_HASH } from '../store/migrations/0002_audit_log.ts';
import { setOwnKey } from '../util/own.ts';

export { GENESIS_HASH };
export const AUDIT_FORMAT = 'sluice-audit-v1';

export const AUDIT_RESULTS = ['success', 'failure', 'denied'] as const;
export type AuditResult = (typeof AUDIT_RESULTS)[number];

/** Action names Sluice itself writes; other modules may add names of the same shape. */
export const AUDIT_ACTIONS = [
  'sync',
  'tag.create',
  'tag.update',
  'tag.delete',
  'promotion',
  'rollback',
  'deletion',
  'quarantine',
  'signature',
  'approval',
  'evidence',
  'config.change',
  'login',
  'token.create',
  'token.revoke',
  'audit.export',
  'admission',
] as const;

export type JsonValue = string | number | boolean | null | JsonValue[] | { [key: string]: JsonValue };

export interface AuditInput {
  /** Who: a user name, a token name, `system:scheduler`, `registry:<name>` for observed changes. */
  actor: string;
  /** What: lower-case, dotted (`tag.delete`); see AUDIT_ACTIONS. */
  action: string;
  /** `registry/namespace/name`. */
  repository?: string | null;
  digest?: string | null;
  tag?: string | null;
  /** Why, in words: a policy rule, a change ticket, a retention decision. */
  reason?: string | null;
  result: AuditResult;
  details?: Record<string, unknown>;
}

export interface AuditRecord {
  seq: number;
  /** ISO-8601 UTC with milliseconds. */
  time: string;
  actor: string;
  action: string;
  repository: string | null;
  digest: string | null;
  tag: string | null;
  reason: string | null;
  result: AuditResult;
  details: Record<string, JsonValue>;
  prevHash: string;
  hash: string;
}

/** The columns the hash covers, as stored. */
export interface HashedFields {
  seq: number;
  time: number;
  actor: string;
  action: string;
  repository: string | null;
  digest: string | null;
  tag: string | null;
  reason: string | null;
  result: string;
  /** Canonical JSON text. */
  details: string;
  prevHash: string;
}

export function canonicalForm(f: HashedFields): string {
  return JSON.stringify([
    AUDIT_FORMAT,
    f.seq,
    new Date(f.time).toISOString(),
    f.actor,
    f.action,
    f.repository,
    f.digest,
    f.tag,
    f.reason,
    f.result,
    f.details,
    f.prevHash,
  ]);
}

export function hashRecord(f: HashedFields): string {
  return createHash('sha256').update(canonicalForm(f), 'utf8').digest('hex');
}

export const REDACTED = '[REDACTED]';
/** Keys whose values are secrets wherever they appear in `details`. */
const SECRET_KEY = /password|passwd|token|secret|authorization|credential|key/i;
/**
 * `scheme://user:password@host` → password replaced. The scheme is bounded: unbounded, a
 * long run of letters would be rescanned from every position (quadratic time).
 */
const URL_USERINFO = /([a-z][a-z0-9+.-]{0,31}:\/\/[^\s/:@]{0,256}:)[^\s/@]+@/gi;
/** HTTP auth header values pasted into text. */
const AUTH_SCHEME = /\b(Bearer|Basic)\s+[A-Za-z0-9._~+/=-]{8,}/g;

export function redactText(s: string): string {
  return s.replace(URL_USERINFO, `$1${REDACTED}@`).replace(AUTH_SCHEME, `$1 ${REDACTED}`);
}

const MAX_DEPTH = 32;
export const MAX_DETAILS_BYTES = 64 * 1024;

function invalid(message: string): SluiceError {
  return new SluiceError('AUDIT_RECORD_INVALID', 'invalid-input', `audit record: ${message}`);
}

/**
 * Redacts secrets and normalises `details` into JSON values: Dates become ISO strings,
 * bigints decimal strings, non-finite numbers null, undefined members disappear.
 */
export function redactDetails(details: Record<string, unknown>): Record<string, JsonValue> {
  const walk = (v: unknown, depth: number, path: string): JsonValue | undefined => {
    if (depth > MAX_DEPTH) throw invalid(`details nest deeper than ${MAX_DEPTH} levels at ${path}`);
    if (v === null) return null;
    switch (typeof v) {
      case 'string':
        if (!v.isWellFormed()) throw invalid(`details ${path} is not well-formed Unicode`);
        return redactText(v);
      case 'number':
        return Number.isFinite(v) ? v : null;
      case 'boolean':
        return v;
      case 'bigint':
        return v.toString();
      case 'undefined':
      case 'function':
      case 'symbol':
        return undefined;
    }
    if (v instanceof Date) return Number.isNaN(v.getTime()) ? null : v.toISOString();
    if (Array.isArray(v)) return v.map((item, i) => walk(item, depth + 1, `${path}[${i}]`) ?? null);
    const out: Record<string, JsonValue> = {};
    for (const [key, value] of Object.entries(v as Record<string, unknown>)) {
      if (!key.isWellFormed()) throw invalid(`details key at ${path} is not well-formed Unicode`);
      if (SECRET_KEY.test(key)) {
        if (value !== undefined) setOwnKey(out, key, REDACTED);
        continue;
      }
      const w = walk(value, depth + 1, `${path}.${key}`);
      // Details carry registry and user keys; a `__proto__` among them is recorded like any other.
      if (w !== undefined) setOwnKey(out, key, w);
    }
    return out;
  };
  if (typeof details !== 'object' || details === null || Array.isArray(details)) {
    throw invalid('details must be an object');
  }
  return walk(details, 0, 'details') as Record<string, JsonValue>;
}

/** Compact JSON with object keys sorted (default sort: UTF-16 code units) at every level. */
export function canonicalJson(v: JsonValue): string {
  if (v === null || typeof v !== 'object') return JSON.stringify(v);
  if (Array.isArray(v)) return `[${v.map(canonicalJson).join(',')}]`;
  const keys = Object.keys(v).sort();
  return `{${keys.map((k) => `${JSON.stringify(k)}:${canonicalJson(v[k]!)}`).join(',')}}`;
}

const ACTION = /^[a-z][a-z0-9_.:-]{0,63}$/;
// OCI digest grammar: algorithm ":" encoded.
const DIGEST = /^[a-z0-9]+(?:[.+_-][a-z0-9]+)*:[a-zA-Z0-9=_-]+$/;

function text(name: string, v: string | null | undefined, max: number, required: boolean): string | null {
  if (v === undefined || v === null || v === '') {
    if (required) throw invalid(`${name} is required`);
    return null;
  }
  if (typeof v !== 'string') throw invalid(`${name} must be a string`);
  if (!v.isWellFormed()) throw invalid(`${name} is not well-formed Unicode`);
  if (v.length > max) throw invalid(`${name} is longer than ${max} characters`);
  return v;
}

export interface PreparedInput {
  actor: string;
  action: string;
  repository: string | null;
  digest: string | null;
  tag: string | null;
  reason: string | null;
  result: AuditResult;
  details: Record<string, JsonValue>;
  detailsJson: string;
}

/** Validates an input and redacts it; what comes out is what gets hashed and stored. */
export function prepareInput(input: AuditInput): PreparedInput {
  const actor = text('actor', input.actor, 256, true)!;
  const action = text('action', input.action, 64, true)!;
  if (!ACTION.test(action)) throw invalid(`action "${action}" must be lower-case letters, digits and . _ : -`);
  const digest = text('digest', input.digest, 200, false);
  if (digest !== null && !DIGEST.test(digest)) throw invalid(`digest "${digest.slice(0, 80)}" is not a digest`);
  if (!(AUDIT_RESULTS as readonly string[]).includes(input.result)) {
    throw invalid(`result must be one of ${AUDIT_RESULTS.join(', ')}`);
  }
  const reasonRaw = text('reason', input.reason, 4096, false);
  const details = redactDetails(input.details ?? {});
  const detailsJson = canonicalJson(details);
  if (Buffer.byteLength(detailsJson) > MAX_DETAILS_BYTES) {
    throw invalid(`details are larger than ${MAX_DETAILS_BYTES} bytes`);
  }
  return {
    actor: redactText(actor),
    action,
    repository: text('repository', input.repository, 512, false),
    digest,
    tag: text('tag', input.tag, 128, false),
    reason: reasonRaw === null ? null : redactText(reasonRaw),
    result: input.result,
    details,
    detailsJson,
  };
}
