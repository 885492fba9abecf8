/**
 * OSV records as Sluice keeps them, and the checks a record passes before it is kept. Feeds are
 * hostile input: a record is bounded in size, in the number of entries it lists and in the
 * length of its strings before anything looks inside, and every refusal names the source file
 * and the field (`GHSA-x.json: affected[0].ranges[1].events: ...`).
 */
import { SluiceError } from '../errors.ts';
import { schemaProblem } from './osv-schema.ts';
import type { OsvAffected, OsvRange } from './ranges.ts';

/** The largest real records (kernel CVEs with thousands of listed versions) stay well below this. */
export const MAX_RECORD_BYTES = 4 * 1024 * 1024;
export const MAX_AFFECTED = 5_000;
export const MAX_RANGES = 1_000;
export const MAX_EVENTS = 1_000;
export const MAX_VERSIONS = 50_000;
export const MAX_ALIASES = 1_000;
const MAX_ID_LENGTH = 256;
const MAX_NAME_LENGTH = 1_024;

export interface OsvSeverity {
  type: string;
  score: string;
}

export interface OsvAffectedEntry extends OsvAffected {
  package: { ecosystem: string; name: string; purl?: string };
  ranges?: OsvRange[];
  versions?: string[];
  severity?: OsvSeverity[];
}

export interface OsvRecord {
  id: string;
  modified: string;
  published?: string;
  withdrawn?: string;
  aliases?: string[];
  summary?: string;
  severity?: OsvSeverity[];
  affected?: OsvAffectedEntry[];
  database_specific?: Record<string, unknown>;
}

function refuse(source: string, field: string, problem: string): SluiceError {
  return new SluiceError('OSV_RECORD_INVALID', 'invalid-input', `${source}: ${field}: ${problem}`, { source, field });
}

const isObject = (v: unknown): v is Record<string, unknown> => v !== null && typeof v === 'object' && !Array.isArray(v);

function str(
  source: string,
  obj: Record<string, unknown>,
  field: string,
  path: string,
  max: number,
  required: boolean,
): void {
  const v = obj[field];
  if (v === undefined && !required) return;
  if (typeof v !== 'string' || v === '') throw refuse(source, path, 'must be a non-empty string');
  if (v.length > max) throw refuse(source, path, `longer than ${max} characters`);
}

function list(source: string, v: unknown, path: string, max: number): unknown[] {
  if (!Array.isArray(v)) throw refuse(source, path, 'must be an array');
  if (v.length > max) throw refuse(source, path, `more than ${max} entries`);
  return v;
}

/** RFC 3339 in UTC as OSV requires; `Date.parse` alone would accept "Tuesday". */
const TIMESTAMP = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?Z$/;

function timestamp(source: string, obj: Record<string, unknown>, field: string, required: boolean): void {
  const v = obj[field];
  if (v === undefined && !required) return;
  if (typeof v !== 'string' || !TIMESTAMP.test(v) || Number.isNaN(Date.parse(v))) {
    throw refuse(source, field, 'must be an RFC 3339 UTC timestamp such as 2024-01-31T12:00:00Z');
  }
}

function severities(source: string, v: unknown, path: string): void {
  if (v === undefined) return;
  list(source, v, path, 16).forEach((s, i) => {
    if (!isObject(s)) throw refuse(source, `${path}[${i}]`, 'must be an object');
    str(source, s, 'type', `${path}[${i}].type`, 32, true);
    str(source, s, 'score', `${path}[${i}].score`, 512, true);
  });
}

/**
 * Checks a parsed record's bounds and the rules the JSON schema cannot say (one event kind per
 * event, an `introduced` in every SEMVER/ECOSYSTEM range, a `repo` on GIT ranges), then the
 * published OSV JSON schema.
 * @throws SluiceError `OSV_RECORD_INVALID` naming `source` and the field.
 */
export function validateRecord(raw: unknown, source: string): OsvRecord {
  if (!isObject(raw)) throw refuse(source, '(record)', 'must be a JSON object');
  str(source, raw, 'id', 'id', MAX_ID_LENGTH, true);
  if (!/^[A-Za-z0-9][A-Za-z0-9._:-]*$/.test(raw.id as string))
    throw refuse(source, 'id', 'has characters OSV ids never use');
  timestamp(source, raw, 'modified', true);
  timestamp(source, raw, 'published', false);
  timestamp(source, raw, 'withdrawn', false);
  if (raw.aliases !== undefined) {
    list(source, raw.aliases, 'aliases', MAX_ALIASES).forEach((a, i) => {
      if (typeof a !== 'string' || a === '' || a.length > MAX_ID_LENGTH)
        throw refuse(source, `aliases[${i}]`, 'must be an id');
    });
  }
  if (raw.summary !== undefined && typeof raw.summary !== 'string') throw refuse(source, 'summary', 'must be a string');
  severities(source, raw.severity, 'severity');
  if (raw.database_specific !== undefined && !isObject(raw.database_specific)) {
    throw refuse(source, 'database_specific', 'must be an object');
  }
  if (raw.affected !== undefined) {
    list(source, raw.affected, 'affected', MAX_AFFECTED).forEach((a, i) =>
      validateAffected(source, a, `affected[${i}]`),
    );
  }
  // After the bounds above, so that the schema never walks an oversized record.
  const problem = schemaProblem(raw);
  if (problem) throw refuse(source, problem.field, problem.message);
  return raw as unknown as OsvRecord;
}

function validateAffected(source: string, a: unknown, path: string): void {
  if (!isObject(a)) throw refuse(source, path, 'must be an object');
  if (!isObject(a.package)) throw refuse(source, `${path}.package`, 'must be an object');
  str(source, a.package, 'ecosystem', `${path}.package.ecosystem`, 128, true);
  str(source, a.package, 'name', `${path}.package.name`, MAX_NAME_LENGTH, true);
  severities(source, a.severity, `${path}.severity`);
  if (a.versions !== undefined) {
    list(source, a.versions, `${path}.versions`, MAX_VERSIONS).forEach((v, j) => {
      if (typeof v !== 'string') throw refuse(source, `${path}.versions[${j}]`, 'must be a string');
    });
  }
  if (a.ranges === undefined) return;
  list(source, a.ranges, `${path}.ranges`, MAX_RANGES).forEach((r, j) => {
    const rp = `${path}.ranges[${j}]`;
    if (!isObject(r)) throw refuse(source, rp, 'must be an object');
    str(source, r, 'type', `${rp}.type`, 32, true);
    if (r.type === 'GIT') str(source, r, 'repo', `${rp}.repo`, 2048, true);
    const events = list(source, r.events, `${rp}.events`, MAX_EVENTS);
    if (events.length === 0) throw refuse(source, `${rp}.events`, 'must not be empty');
    let introduced = false;
    events.forEach((e, k) => {
      const ep = `${rp}.events[${k}]`;
      if (!isObject(e)) throw refuse(source, ep, 'must be an object');
      const kinds = ['introduced', 'fixed', 'last_affected', 'limit'].filter((kind) => e[kind] !== undefined);
      if (kinds.length !== 1)
        throw refuse(source, ep, 'must have exactly one of introduced, fixed, last_affected, limit');
      const value = e[kinds[0]!];
      if (typeof value !== 'string' || value === '')
        throw refuse(source, `${ep}.${kinds[0]}`, 'must be a non-empty string');
      if (kinds[0] === 'introduced') introduced = true;
    });
    if (!introduced) throw refuse(source, `${rp}.events`, 'has no "introduced" event');
  });
}

/** Parses one record file's bytes, bounded before parsing. */
export function parseRecord(bytes: Buffer | string, source: string): OsvRecord {
  const size = typeof bytes === 'string' ? Buffer.byteLength(bytes) : bytes.length;
  if (size > MAX_RECORD_BYTES)
    throw refuse(source, '(record)', `${size} bytes, more than the ${MAX_RECORD_BYTES} allowed`);
  let raw: unknown;
  try {
    raw = JSON.parse(typeof bytes === 'string' ? bytes : bytes.toString('utf8'));
  } catch (err) {
    throw refuse(source, '(record)', `not valid JSON (${(err as Error).message.slice(0, 120)})`);
  }
  return validateRecord(raw, source);
}
