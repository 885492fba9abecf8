/**
 * The OSV index in the store. Imports are incremental: a record whose `modified` equals the
 * stored one is skipped without touching its rows, a changed one replaces its rows, and a
 * withdrawn one stays (so its id still resolves) but is flagged and never matched.
 */
import type { Store, StoreHandle } from '../store/index.ts';
import { baseEcosystem, normalizePackageName } from './ecosystems.ts';
import type { OsvPackageKey } from './ecosystems.ts';
import { lookupKey } from './match.ts';
import type { RecordLookup } from './match.ts';
import type { OsvRecord } from './record.ts';

export interface ImportCounts {
  added: number;
  updated: number;
  unchanged: number;
}

/** Rows per statement: well under SQLite's and PostgreSQL's bound-parameter limits. */
const CHUNK = 200;

function packagesOf(record: OsvRecord): Array<{ ecosystem: string; name: string }> {
  const seen = new Map<string, { ecosystem: string; name: string }>();
  for (const entry of record.affected ?? []) {
    const ecosystem = baseEcosystem(entry.package.ecosystem);
    const name = normalizePackageName(ecosystem, entry.package.name);
    seen.set(`${ecosystem}\0${name}`, { ecosystem, name });
  }
  return [...seen.values()];
}

/** Writes one batch of validated records in one transaction. */
export async function upsertRecords(
  store: Store,
  records: readonly OsvRecord[],
  source: string,
): Promise<ImportCounts> {
  const counts: ImportCounts = { added: 0, updated: 0, unchanged: 0 };
  if (records.length === 0) return counts;
  // The last of duplicated ids in one batch wins, as a later file would on a re-import.
  const byId = new Map(records.map((r) => [r.id, r]));
  return store.transaction(async (tx) => {
    const now = tx.clock().getTime();
    const ids = [...byId.keys()];
    const existing = new Map<string, string>();
    for (let i = 0; i < ids.length; i += CHUNK) {
      const rows = await tx.db
        .selectFrom('vulndb_records')
        .select(['id', 'modified'])
        .where('id', 'in', ids.slice(i, i + CHUNK))
        .execute();
      for (const row of rows) existing.set(row.id, row.modified);
    }
    const changed: OsvRecord[] = [];
    for (const record of byId.values()) {
      const stored = existing.get(record.id);
      if (stored === record.modified) counts.unchanged++;
      else {
        if (stored === undefined) counts.added++;
        else counts.updated++;
        changed.push(record);
      }
    }
    const replaced = changed.filter((r) => existing.has(r.id)).map((r) => r.id);
    for (let i = 0; i < replaced.length; i += CHUNK) {
      const chunk = replaced.slice(i, i + CHUNK);
      await tx.db.deleteFrom('vulndb_records').where('id', 'in', chunk).execute();
      await tx.db.deleteFrom('vulndb_affected').where('record_id', 'in', chunk).execute();
      await tx.db.deleteFrom('vulndb_aliases').where('record_id', 'in', chunk).execute();
    }
    for (let i = 0; i < changed.length; i += CHUNK) {
      const chunk = changed.slice(i, i + CHUNK);
      await tx.db
        .insertInto('vulndb_records')
        .values(
          chunk.map((r) => ({
            id: r.id,
            modified: r.modified,
            withdrawn: r.withdrawn === undefined ? 0 : 1,
            record: JSON.stringify(r),
            source,
            imported_at: now,
          })),
        )
        .execute();
      const affected = chunk.flatMap((r) => packagesOf(r).map((p) => ({ record_id: r.id, ...p })));
      for (let j = 0; j < affected.length; j += CHUNK) {
        await tx.db
          .insertInto('vulndb_affected')
          .values(affected.slice(j, j + CHUNK))
          .execute();
      }
      const aliases = chunk.flatMap((r) => [...new Set(r.aliases ?? [])].map((alias) => ({ alias, record_id: r.id })));
      for (let j = 0; j < aliases.length; j += CHUNK) {
        await tx.db
          .insertInto('vulndb_aliases')
          .values(aliases.slice(j, j + CHUNK))
          .execute();
      }
    }
    return counts;
  });
}

export async function recordImport(
  store: Store,
  source: string,
  startedAt: number,
  counts: ImportCounts,
): Promise<void> {
  await store.db
    .insertInto('vulndb_imports')
    .values({ source, started_at: startedAt, finished_at: store.clock().getTime(), ...counts })
    .execute();
}

/** The store as a {@link RecordLookup}: one indexed query per distinct package. */
export function storeRecords(h: StoreHandle): RecordLookup {
  return {
    async recordsFor(key: OsvPackageKey): Promise<OsvRecord[]> {
      const ecosystem = baseEcosystem(key.ecosystem);
      const rows = await h.db
        .selectFrom('vulndb_affected as a')
        .innerJoin('vulndb_records as r', 'r.id', 'a.record_id')
        .select('r.record')
        .where('a.ecosystem', '=', ecosystem)
        .where('a.name', '=', normalizePackageName(ecosystem, key.name))
        .where('r.withdrawn', '=', 0)
        .orderBy('r.id')
        .execute();
      return rows.map((row) => JSON.parse(row.record) as OsvRecord);
    },
    async recordsForMany(keys: readonly OsvPackageKey[]): Promise<Map<string, OsvRecord[]>> {
      const byEcosystem = new Map<string, Set<string>>();
      for (const key of keys) {
        const ecosystem = baseEcosystem(key.ecosystem);
        let names = byEcosystem.get(ecosystem);
        if (!names) byEcosystem.set(ecosystem, (names = new Set()));
        names.add(normalizePackageName(ecosystem, key.name));
      }
      const out = new Map<string, OsvRecord[]>();
      const parsed = new Map<string, OsvRecord>();
      for (const [ecosystem, nameSet] of byEcosystem) {
        const names = [...nameSet];
        for (let i = 0; i < names.length; i += CHUNK) {
          const rows = await h.db
            .selectFrom('vulndb_affected as a')
            .innerJoin('vulndb_records as r', 'r.id', 'a.record_id')
            .select(['a.name', 'r.id', 'r.record'])
            .where('a.ecosystem', '=', ecosystem)
            .where('a.name', 'in', names.slice(i, i + CHUNK))
            .where('r.withdrawn', '=', 0)
            .orderBy('r.id')
            .execute();
          for (const row of rows) {
            let record = parsed.get(row.id);
            if (!record) parsed.set(row.id, (record = JSON.parse(row.record) as OsvRecord));
            const k = lookupKey(ecosystem, row.name);
            const list = out.get(k);
            if (list) list.push(record);
            else out.set(k, [record]);
          }
        }
      }
      return out;
    },
  };
}

/** Record ids that list `alias` (a CVE or GHSA id) among their aliases, or are that id. */
export async function recordsByAlias(h: StoreHandle, alias: string): Promise<string[]> {
  const rows = await h.db.selectFrom('vulndb_aliases').select('record_id').where('alias', '=', alias).execute();
  const direct = await h.db.selectFrom('vulndb_records').select('id').where('id', '=', alias).execute();
  return [...new Set([...direct.map((r) => r.id), ...rows.map((r) => r.record_id)])].sort();
}

export interface DatabaseStatus {
  records: number;
  withdrawn: number;
  /** Records per base ecosystem (a record naming two ecosystems counts in both). */
  ecosystems: Record<string, number>;
  lastImport?: { source: string; finishedAt: number; added: number; updated: number; unchanged: number };
}

export async function databaseStatus(h: StoreHandle): Promise<DatabaseStatus> {
  const totals = await h.db
    .selectFrom('vulndb_records')
    .select(['withdrawn', (eb) => eb.fn.countAll<number | string>().as('n')])
    .groupBy('withdrawn')
    .execute();
  const perEcosystem = await h.db
    .selectFrom('vulndb_affected')
    .select(['ecosystem', (eb) => eb.fn.count<number | string>('record_id').distinct().as('n')])
    .groupBy('ecosystem')
    .orderBy('ecosystem')
    .execute();
  const last = await h.db
    .selectFrom('vulndb_imports')
    .selectAll()
    .orderBy('finished_at', 'desc')
    .limit(1)
    .executeTakeFirst();
  let records = 0;
  let withdrawn = 0;
  for (const row of totals) {
    records += Number(row.n);
    if (row.withdrawn === 1) withdrawn += Number(row.n);
  }
  const status: DatabaseStatus = {
    records,
    withdrawn,
    ecosystems: Object.fromEntries(perEcosystem.map((r) => [r.ecosystem, Number(r.n)])),
  };
  if (last) {
    status.lastImport = {
      source: last.source,
      finishedAt: Number(last.finished_at),
      added: last.added,
      updated: last.updated,
      unchanged: last.unchanged,
    };
  }
  return status;
}
