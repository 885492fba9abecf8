/**
 * Matching installed packages against OSV records. Records come from a {@link RecordLookup}
 * (the store's index, or memory in tests and benchmarks), asked once per distinct OSV package,
 * so that matching never parses the whole database.
 */
import type { InstalledPackage } from '../analysis/model.ts';
import { ecosystemCovers, normalizePackageName, osvKeyOf, osvVersionOf } from './ecosystems.ts';
import type { OsvPackageKey } from './ecosystems.ts';
import { isAffected } from './ranges.ts';
import type { AffectedMatch } from './ranges.ts';
import type { OsvRecord, OsvSeverity } from './record.ts';
import { schemeForEcosystem } from './versions/index.ts';

export interface RecordLookup {
  /** Records with an `affected` entry for this package in this base ecosystem (any release). */
  recordsFor(key: OsvPackageKey): Promise<readonly OsvRecord[]> | readonly OsvRecord[];
  /** The same for many packages in few round trips, keyed by `${base ecosystem}\0${name}`. */
  recordsForMany?(keys: readonly OsvPackageKey[]): Promise<Map<string, readonly OsvRecord[]>>;
}

export interface MatchDeps {
  records: RecordLookup;
}

export interface VulnerabilityFinding {
  id: string;
  aliases: string[];
  package: { name: string; version: string; purl: string; ecosystem: string; osvName: string };
  /** The version compared: the source version for distribution packages. */
  version: string;
  fixed?: string;
  /** The record's (or the affected entry's) CVSS vectors and other scores. */
  severity: OsvSeverity[];
  /** `database_specific.severity` (GHSA: LOW/MODERATE/HIGH/CRITICAL), when the record has one. */
  databaseSeverity?: string;
  summary?: string;
  /** Which affected entry and how it matched (range with its events, or the versions list). */
  affected: { index: number; ecosystem: string; match: AffectedMatch };
  notes: string[];
}

export interface MatchResult {
  findings: VulnerabilityFinding[];
  /** Packages not matched, and why (no OSV ecosystem, a version the scheme refuses). */
  skipped: Array<{ purl: string; reason: string }>;
}

export async function matchPackages(deps: MatchDeps, packages: readonly InstalledPackage[]): Promise<MatchResult> {
  const findings: VulnerabilityFinding[] = [];
  const skipped: MatchResult['skipped'] = [];
  const cache = new Map<string, readonly OsvRecord[]>();
  if (deps.records.recordsForMany) {
    const keys = packages.map(osvKeyOf).filter((k): k is OsvPackageKey => k !== undefined);
    const found = await deps.records.recordsForMany(keys);
    for (const key of keys)
      cache.set(`${key.ecosystem}\0${key.name}`, found.get(lookupKey(key.ecosystem, key.name)) ?? []);
  }
  for (const pkg of packages) {
    const key = osvKeyOf(pkg);
    if (!key) {
      skipped.push({ purl: pkg.purl, reason: `no OSV ecosystem for ${pkg.ecosystem} packages here` });
      continue;
    }
    const scheme = schemeForEcosystem(key.ecosystem);
    if (!scheme) {
      skipped.push({ purl: pkg.purl, reason: `no version scheme for ${key.ecosystem}` });
      continue;
    }
    const version = osvVersionOf(pkg);
    if (!scheme.isValid(version)) {
      skipped.push({ purl: pkg.purl, reason: `${JSON.stringify(version)} is not a valid ${scheme.id} version` });
      continue;
    }
    const cacheKey = `${key.ecosystem}\0${key.name}`;
    let records = cache.get(cacheKey);
    if (!records) {
      records = await deps.records.recordsFor(key);
      cache.set(cacheKey, records);
    }
    const wanted = normalizePackageName(key.ecosystem, key.name);
    for (const record of records) {
      if (record.withdrawn !== undefined) continue;
      const affected = record.affected ?? [];
      for (let i = 0; i < affected.length; i++) {
        const entry = affected[i]!;
        if (!ecosystemCovers(entry.package.ecosystem, key.ecosystem)) continue;
        if (normalizePackageName(entry.package.ecosystem, entry.package.name) !== wanted) continue;
        const result = isAffected(version, entry, scheme);
        if (!result.affected || !result.match) continue;
        const finding: VulnerabilityFinding = {
          id: record.id,
          aliases: record.aliases ?? [],
          package: {
            name: pkg.name,
            version: pkg.version,
            purl: pkg.purl,
            ecosystem: key.ecosystem,
            osvName: key.name,
          },
          version,
          severity: entry.severity ?? record.severity ?? [],
          affected: { index: i, ecosystem: entry.package.ecosystem, match: result.match },
          notes: result.notes,
        };
        if (result.fixed !== undefined) finding.fixed = result.fixed;
        const dbSeverity = record.database_specific?.severity;
        if (typeof dbSeverity === 'string') finding.databaseSeverity = dbSeverity;
        if (record.summary !== undefined) finding.summary = record.summary;
        findings.push(finding);
        // One finding per record and package: a record listing the package twice (two
        // branches) is one vulnerability, reported with the branch that holds the version.
        break;
      }
    }
  }
  return { findings, skipped };
}

/** An in-memory lookup (tests, benchmarks, a directory read without a store). */
export class MemoryRecords implements RecordLookup {
  readonly #byPackage = new Map<string, OsvRecord[]>();

  add(record: OsvRecord): void {
    const seen = new Set<string>();
    for (const entry of record.affected ?? []) {
      const key = memoryKey(entry.package.ecosystem, entry.package.name);
      if (seen.has(key)) continue;
      seen.add(key);
      const list = this.#byPackage.get(key);
      if (list) list.push(record);
      else this.#byPackage.set(key, [record]);
    }
  }

  recordsFor(key: OsvPackageKey): readonly OsvRecord[] {
    return this.#byPackage.get(memoryKey(key.ecosystem, key.name)) ?? [];
  }
}

/** The key {@link RecordLookup.recordsForMany} answers under. */
export function lookupKey(ecosystem: string, name: string): string {
  return memoryKey(ecosystem, name);
}

function memoryKey(ecosystem: string, name: string): string {
  const colon = ecosystem.indexOf(':');
  const base = colon < 0 ? ecosystem : ecosystem.slice(0, colon);
  return `${base}\0${normalizePackageName(base, name)}`;
}
