/**
 * Does an OSV `affected[]` entry cover a version? The OSV schema's evaluation algorithm
 * (docs/schema.md, "Evaluation": `IncludedInVersions`, `IncludedInRanges`, `BeforeLimits`),
 * applied to one entry of one record, as a pure function over data.
 *
 * The caller decides which entries apply (same package, same ecosystem) and skips records that
 * carry `withdrawn`: a withdrawn record no longer describes a vulnerability, but its `affected`
 * entries are left as they were, so evaluating one here still answers as if it stood.
 *
 * - `SEMVER` ranges are ordered by SemVer 2.0 (the Go scheme for Go, whose versions are SemVer
 *   with a `v`), `ECOSYSTEM` ranges by the ecosystem's scheme.
 * - `GIT` ranges (and any type this code does not know) are skipped with a note: commit ranges
 *   need the repository's history, and OSV requires a `versions` list beside them.
 * - A range with a malformed event (not exactly one of `introduced`, `fixed`, `last_affected`,
 *   `limit`) or an event version the scheme refuses is skipped with a note, never guessed at.
 * - A `versions` entry matches when it is the same string or, both being valid, the scheme
 *   calls them equal (`1.0` and `1.0.0` in PEP 440); the algorithm's `v == version` is read in
 *   the ecosystem's order, like its `<`.
 * - Ranges are tried before the `versions` list, so that a match names its range and fix.
 * - Events are sorted by version before the walk, as the algorithm says; events with equal
 *   versions keep their order in the record. `introduced: "0"` sorts before everything and a
 *   `limit` containing `*` after everything.
 */
import type { VersionScheme } from './versions/scheme.ts';
import { invalidVersion } from './versions/scheme.ts';
import { semver } from './versions/semver.ts';

export interface OsvEvent {
  introduced?: string;
  fixed?: string;
  last_affected?: string;
  limit?: string;
}

export interface OsvRange {
  type: string;
  repo?: string;
  events: readonly OsvEvent[];
}

/** The part of an OSV `affected[]` entry that decides which versions it covers. */
export interface OsvAffected {
  ranges?: readonly OsvRange[];
  versions?: readonly string[];
}

export type AffectedMatch =
  | {
      by: 'range';
      /** Index into `ranges`. */
      range: number;
      type: 'SEMVER' | 'ECOSYSTEM';
      /** The `introduced` event the version is at or after. */
      introduced: string;
      /** The first `fixed` event above the version in that range, if the range has one. */
      fixed?: string;
      /** The `last_affected` event at or above the version, if the range says so instead. */
      lastAffected?: string;
    }
  | { by: 'versions'; version: string };

export interface AffectedResult {
  affected: boolean;
  /** How the version matched: the first matching range, else the listed version. */
  match?: AffectedMatch;
  /** The fixed version, when the matching range names one. */
  fixed?: string;
  /** What could not be evaluated (GIT ranges, malformed ranges, unusable versions). */
  notes: string[];
}

type EventKind = 'introduced' | 'fixed' | 'last_affected' | 'limit';
const EVENT_KINDS: readonly EventKind[] = ['introduced', 'fixed', 'last_affected', 'limit'];

interface Event {
  kind: EventKind;
  value: string;
  /** `introduced: "0"` (-1), a `limit` with `*` (+1), else 0. */
  special: -1 | 0 | 1;
}

function readEvent(raw: unknown): Event | string {
  if (raw === null || typeof raw !== 'object') return 'an event is not an object';
  const kinds = EVENT_KINDS.filter((k) => (raw as Record<string, unknown>)[k] !== undefined);
  if (kinds.length !== 1) return `an event must have exactly one of ${EVENT_KINDS.join(', ')}`;
  const kind = kinds[0]!;
  const value = (raw as Record<string, unknown>)[kind];
  if (typeof value !== 'string') return `"${kind}" is not a string`;
  const special = kind === 'introduced' && value === '0' ? -1 : kind === 'limit' && value.includes('*') ? 1 : 0;
  return { kind, value, special };
}

function compareEvents(scheme: VersionScheme, a: Event, b: Event): number {
  if (a.special !== 0 || b.special !== 0) return a.special - b.special;
  return scheme.compare(a.value, b.value);
}

/** `v` against an event's version: "0" is below everything and `*` above everything. */
function compareTo(scheme: VersionScheme, v: string, e: Event): number {
  return e.special !== 0 ? -e.special : scheme.compare(v, e.value);
}

function rangeScheme(type: string, ecosystemScheme: VersionScheme): VersionScheme {
  if (type === 'SEMVER' && ecosystemScheme.id !== 'go') return semver;
  return ecosystemScheme;
}

function evaluateRange(
  version: string,
  range: OsvRange,
  index: number,
  ecosystemScheme: VersionScheme,
  notes: string[],
): AffectedMatch | null {
  const label = `range ${index} (${String(range?.type)})`;
  if (range?.type === 'GIT') {
    notes.push(`${label} ignored: commit ranges need the repository; the versions list stands in for them`);
    return null;
  }
  if (range?.type !== 'SEMVER' && range?.type !== 'ECOSYSTEM') {
    notes.push(`${label} ignored: unknown range type`);
    return null;
  }
  const scheme = rangeScheme(range.type, ecosystemScheme);
  if (!scheme.isValid(version)) {
    notes.push(`${label} skipped: ${JSON.stringify(version)} is not a valid ${scheme.id} version`);
    return null;
  }
  if (!Array.isArray(range.events) || range.events.length === 0) {
    notes.push(`${label} skipped: no events`);
    return null;
  }
  const events: Event[] = [];
  for (const raw of range.events) {
    const event = readEvent(raw);
    if (typeof event === 'string') {
      notes.push(`${label} skipped: ${event}`);
      return null;
    }
    if (event.special === 0 && !scheme.isValid(event.value)) {
      notes.push(`${label} skipped: ${event.kind} ${JSON.stringify(event.value)} is not a valid ${scheme.id} version`);
      return null;
    }
    events.push(event);
  }

  // BeforeLimits: without limit events an implicit "*" applies.
  const limits = events.filter((e) => e.kind === 'limit');
  if (limits.length > 0 && !limits.some((e) => compareTo(scheme, version, e) < 0)) return null;

  // Array.prototype.sort is stable, so equal versions keep the record's order.
  const sorted = [...events].sort((a, b) => compareEvents(scheme, a, b));
  let vulnerable = false;
  let introducedAt = -1;
  sorted.forEach((e, i) => {
    if (e.kind === 'introduced' && compareTo(scheme, version, e) >= 0) {
      vulnerable = true;
      introducedAt = i;
    } else if (e.kind === 'fixed' && compareTo(scheme, version, e) >= 0) {
      vulnerable = false;
    } else if (e.kind === 'last_affected' && compareTo(scheme, version, e) > 0) {
      vulnerable = false;
    }
  });
  if (!vulnerable) return null;

  const match: AffectedMatch = { by: 'range', range: index, type: range.type, introduced: sorted[introducedAt]!.value };
  const end = sorted.slice(introducedAt + 1).find((e) => e.kind === 'fixed' || e.kind === 'last_affected');
  if (end?.kind === 'fixed') match.fixed = end.value;
  if (end?.kind === 'last_affected') match.lastAffected = end.value;
  return match;
}

/**
 * Evaluates one `affected[]` entry for `version`, ordered by `scheme` (the entry's ecosystem's).
 * @throws SluiceError `VERSION_INVALID` when `version` itself is not valid for `scheme`.
 */
export function isAffected(version: string, entry: OsvAffected, scheme: VersionScheme): AffectedResult {
  if (!scheme.isValid(version)) {
    // compare() throws VERSION_INVALID with the scheme's own reason.
    scheme.compare(version, version);
    throw invalidVersion(scheme.id, version, 'refused by the scheme');
  }
  const notes: string[] = [];
  let match: AffectedMatch | undefined;
  const ranges = Array.isArray(entry.ranges) ? entry.ranges : [];
  ranges.forEach((range, i) => {
    const m = evaluateRange(version, range, i, scheme, notes);
    if (m && !match) match = m;
  });

  if (!match && Array.isArray(entry.versions)) {
    let unusable = 0;
    for (const listed of entry.versions) {
      if (typeof listed !== 'string') continue;
      if (listed === version) {
        match = { by: 'versions', version: listed };
        break;
      }
      if (!scheme.isValid(listed)) {
        unusable++;
        continue;
      }
      if (scheme.compare(version, listed) === 0) {
        match = { by: 'versions', version: listed };
        break;
      }
    }
    if (unusable > 0) {
      notes.push(`${unusable} listed version(s) are not valid ${scheme.id} versions and matched only as exact strings`);
    }
  }

  const result: AffectedResult = { affected: match !== undefined, notes };
  if (match) result.match = match;
  if (match?.by === 'range' && match.fixed !== undefined) result.fixed = match.fixed;
  return result;
}
