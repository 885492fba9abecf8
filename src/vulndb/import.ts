/**
 * Importing OSV data: a directory of record files (searched recursively), one file per record
 * as osv.dev lays out its exports. Records are read, checked and written in batches, so memory
 * holds one batch, never the data set.
 */
import { readFile, readdir, stat } from 'node:fs/promises';
import { join, relative } from 'node:path';
import { SluiceError } from '../errors.ts';
import type { Store } from '../store/index.ts';
import { MAX_RECORD_BYTES, parseRecord } from './record.ts';
import type { OsvRecord } from './record.ts';
import { recordImport, upsertRecords } from './records.ts';
import type { ImportCounts } from './records.ts';

/** osv.dev holds under a million records in all; a source with more is not an OSV export. */
export const MAX_RECORDS = 2_000_000;
const BATCH = 1_000;

export interface ImportResult extends ImportCounts {
  source: string;
}

export interface ImportOptions {
  /** Called after each record is read and checked, for a progress display. */
  onRecord?: () => void;
}

async function* jsonFiles(dir: string): AsyncGenerator<string> {
  const entries = await readdir(dir, { withFileTypes: true });
  entries.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  for (const entry of entries) {
    const path = join(dir, entry.name);
    // Symbolic links are not followed: a mirror is plain files, and a link could point anywhere.
    if (entry.isDirectory()) yield* jsonFiles(path);
    else if (entry.isFile() && entry.name.endsWith('.json')) yield path;
  }
}

/** Writes records from `source` in batches and records the import. */
export async function importRecords(
  store: Store,
  records: AsyncIterable<OsvRecord>,
  source: string,
  options: ImportOptions = {},
): Promise<ImportResult> {
  const startedAt = store.clock().getTime();
  const total: ImportCounts = { added: 0, updated: 0, unchanged: 0 };
  let batch: OsvRecord[] = [];
  let count = 0;
  const flush = async (): Promise<void> => {
    const c = await upsertRecords(store, batch, source);
    total.added += c.added;
    total.updated += c.updated;
    total.unchanged += c.unchanged;
    batch = [];
  };
  for await (const record of records) {
    if (++count > MAX_RECORDS) {
      throw new SluiceError('OSV_SOURCE_TOO_LARGE', 'invalid-input', `${source}: more than ${MAX_RECORDS} records`, {
        source,
      });
    }
    batch.push(record);
    options.onRecord?.();
    if (batch.length >= BATCH) await flush();
  }
  await flush();
  await recordImport(store, source, startedAt, total);
  return { source, ...total };
}

async function* directoryRecords(dir: string): AsyncGenerator<OsvRecord> {
  for await (const path of jsonFiles(dir)) {
    const name = relative(dir, path);
    const size = (await stat(path)).size;
    if (size > MAX_RECORD_BYTES) {
      throw new SluiceError(
        'OSV_RECORD_INVALID',
        'invalid-input',
        `${name}: (record): ${size} bytes, more than the ${MAX_RECORD_BYTES} allowed`,
        { source: name, field: '(record)' },
      );
    }
    yield parseRecord(await readFile(path), name);
  }
}

export async function importDirectory(store: Store, dir: string, options: ImportOptions = {}): Promise<ImportResult> {
  const info = await stat(dir).catch(() => undefined);
  if (!info?.isDirectory()) {
    throw new SluiceError('OSV_SOURCE_INVALID', 'invalid-input', `${dir} is not a directory of OSV records`, {
      source: dir,
    });
  }
  return importRecords(store, directoryRecords(dir), dir, options);
}
