/**
 * OSV zips (osv.dev's per-ecosystem `all.zip`: one record per `.json` entry) and their download.
 * The zip is hostile: entry count, each entry's declared and actual size, and its compression
 * ratio are bounded before and while it is inflated, so a zip bomb is refused, not expanded.
 */
import { createWriteStream } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import yauzl from 'yauzl';
import type { Entry, ZipFile } from 'yauzl';
import { SluiceError } from '../errors.ts';
import { isHttpFailure, OutboundClient } from '../http/index.ts';
import type { Store } from '../store/index.ts';
import { MAX_RECORDS, importRecords } from './import.ts';
import type { ImportOptions, ImportResult } from './import.ts';
import { MAX_RECORD_BYTES, parseRecord } from './record.ts';
import type { OsvRecord } from './record.ts';
import { nextEntry } from '../util/zip.ts';

/** JSON records inflate 5-20×; far beyond that is a bomb, not a record. */
export const MAX_ENTRY_RATIO = 200;
/** osv.dev's all-ecosystem export is about 1 GB. */
export const MAX_DOWNLOAD_BYTES = 4 * 1024 * 1024 * 1024;
export const DOWNLOAD_TIMEOUT_MS = 15 * 60 * 1000;

function zipError(source: string, message: string, entry?: string): SluiceError {
  return new SluiceError('OSV_ZIP_INVALID', 'invalid-input', `${source}${entry ? `: ${entry}` : ''}: ${message}`, {
    source,
    ...(entry ? { entry } : {}),
  });
}

async function readEntry(zip: ZipFile, entry: Entry, source: string): Promise<Buffer> {
  const stream = await zip.openReadStreamPromise(entry);
  const chunks: Buffer[] = [];
  let total = 0;
  for await (const chunk of stream as AsyncIterable<Buffer>) {
    total += chunk.length;
    // yauzl checks the declared size too; this holds even if the header lied about it.
    if (total > MAX_RECORD_BYTES) {
      stream.destroy();
      throw zipError(source, `inflates past ${MAX_RECORD_BYTES} bytes`, entry.fileName);
    }
    chunks.push(chunk);
  }
  return Buffer.concat(chunks);
}

export async function* zipRecords(path: string, source: string = path): AsyncGenerator<OsvRecord> {
  let zip: ZipFile;
  try {
    zip = await yauzl.openPromise(path, { lazyEntries: true, validateEntrySizes: true, strictFileNames: true });
  } catch (err) {
    throw zipError(source, `not a readable zip (${(err as Error).message.slice(0, 120)})`);
  }
  try {
    if (zip.entryCount > MAX_RECORDS) throw zipError(source, `${zip.entryCount} entries, more than ${MAX_RECORDS}`);
    for (;;) {
      let entry: Entry | null;
      try {
        entry = await nextEntry(zip);
      } catch (err) {
        throw zipError(source, `damaged (${(err as Error).message.slice(0, 120)})`);
      }
      if (!entry) return;
      if (entry.fileName.endsWith('/') || !entry.fileName.endsWith('.json')) continue;
      if (entry.uncompressedSize > MAX_RECORD_BYTES) {
        throw zipError(
          source,
          `${entry.uncompressedSize} bytes, more than the ${MAX_RECORD_BYTES} a record may have`,
          entry.fileName,
        );
      }
      if (
        entry.uncompressedSize > 64 * 1024 &&
        entry.uncompressedSize > MAX_ENTRY_RATIO * Math.max(1, entry.compressedSize)
      ) {
        throw zipError(source, `compression ratio above ${MAX_ENTRY_RATIO}:1 (a zip bomb?)`, entry.fileName);
      }
      yield parseRecord(await readEntry(zip, entry, source), entry.fileName);
    }
  } finally {
    zip.close();
  }
}

export async function importZip(store: Store, path: string, options: ImportOptions = {}): Promise<ImportResult> {
  return importRecords(store, zipRecords(path), path, options);
}

/**
 * Downloads `url` to `file`, bounded in bytes and time. The one place the vulnerability
 * database talks to the network, so that it can move onto the shared HTTP client in one edit.
 * The URL is never put in errors: mirrors may carry tokens in it.
 */
export async function downloadSource(
  url: URL,
  file: string,
  client: OutboundClient = new OutboundClient(),
): Promise<void> {
  const where = `${url.protocol}//${url.host}`;
  let res;
  try {
    res = await client.request({
      method: 'GET',
      url,
      followRedirects: 5,
      timeoutMs: DOWNLOAD_TIMEOUT_MS,
      maxResponseBytes: MAX_DOWNLOAD_BYTES,
      sink: createWriteStream(file),
    });
  } catch (err) {
    if (isHttpFailure(err) && err.kind === 'too-large')
      throw zipError(where, `download larger than ${MAX_DOWNLOAD_BYTES} bytes`);
    const code = isHttpFailure(err) ? (err.code ?? err.kind) : (err as Error).name;
    throw new SluiceError('OSV_SOURCE_UNAVAILABLE', 'unavailable', `OSV download from ${where} failed (${code})`, {
      host: url.host,
    });
  }
  if (res.status < 200 || res.status >= 300) {
    throw new SluiceError(
      'OSV_SOURCE_UNAVAILABLE',
      'unavailable',
      `OSV download from ${where} answered HTTP ${res.status}`,
      {
        host: url.host,
        status: res.status,
      },
    );
  }
}

/** `sluice db update --source`: an http(s) URL of a zip, a zip file, or a directory. */
export async function importUrl(
  store: Store,
  url: URL,
  client?: OutboundClient,
  options: ImportOptions = {},
): Promise<ImportResult> {
  if (url.protocol !== 'https:' && url.protocol !== 'http:') {
    throw new SluiceError(
      'OSV_SOURCE_INVALID',
      'invalid-input',
      `OSV source must be http(s), not ${url.protocol.slice(0, -1)}`,
    );
  }
  const dir = await mkdtemp(join(tmpdir(), 'sluice-osv-'));
  try {
    const file = join(dir, 'osv.zip');
    await downloadSource(url, file, client);
    const shown = `${url.protocol}//${url.host}${url.pathname}`;
    return await importRecords(store, zipRecords(file, shown), shown, options);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}
