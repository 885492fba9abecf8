/**
 * `META-INF/maven/<groupId>/<artifactId>/pom.properties` inside Java archives (jar, war, ear)
 * and the archives nested in them (`WEB-INF/lib/*.jar`, `lib/*.jar`, Spring Boot's
 * `BOOT-INF/lib/*.jar`).
 *
 * An archive in a layer is hostile: a zip has its directory at the end, so the archive is held
 * whole (in memory up to IN_MEMORY_BYTES, else in a file of the analysis's private temporary
 * directory), and every entry inflated is bounded by its declared size, its compression ratio
 * and a total per outer archive, so a zip bomb is refused with a note instead of expanded.
 */
import { createWriteStream } from 'node:fs';
import { rm } from 'node:fs/promises';
import { randomUUID } from 'node:crypto';
import { join } from 'node:path';
import { finished } from 'node:stream/promises';
import yauzl from 'yauzl';
import type { Entry, ZipFile } from 'yauzl';
import type { AnalysisNote, EntryInfo, ReadContext } from '../../model.ts';
import { nextEntry } from '../../../util/zip.ts';

export interface ArchiveLimits {
  /** Outer archives held in memory up to this size; larger ones go to the temporary directory. */
  inMemoryBytes: number;
  /** Largest outer archive read at all. */
  maxArchiveBytes: number;
  /** Archive inside archive inside archive: depth 1 is the file of the layer. */
  maxDepth: number;
  maxEntries: number;
  /** Largest pom.properties. */
  maxPropertiesBytes: number;
  /** Largest nested archive, inflated into memory. */
  maxNestedBytes: number;
  /** Inflated bytes per outer archive, all nested ones included. */
  maxTotalInflatedBytes: number;
  /** Inflated / compressed, for entries past ratioGraceBytes. */
  maxCompressionRatio: number;
  ratioGraceBytes: number;
}

export const DEFAULT_ARCHIVE_LIMITS: ArchiveLimits = {
  inMemoryBytes: 16 * 1024 * 1024,
  maxArchiveBytes: 1024 * 1024 * 1024,
  maxDepth: 3,
  maxEntries: 100_000,
  maxPropertiesBytes: 64 * 1024,
  maxNestedBytes: 128 * 1024 * 1024,
  maxTotalInflatedBytes: 512 * 1024 * 1024,
  // Class files and properties inflate 2-10×; a ratio of 100 is a bomb, not a library.
  maxCompressionRatio: 100,
  ratioGraceBytes: 64 * 1024,
};

const POM_PROPERTIES = /^META-INF\/maven\/[^/]+\/[^/]+\/pom\.properties$/;
const NESTED_ARCHIVE = /\.(jar|war|ear)$/i;

/** One pom.properties found, with the chain of archives that holds it (`app.war!/WEB-INF/lib/x.jar!/META-INF/...`). */
export interface PomPropertiesFile {
  path: string;
  content: Buffer;
}

interface Budget {
  inflated: number;
}

class ArchiveRefused extends Error {}

async function inflate(
  zip: ZipFile,
  entry: Entry,
  max: number,
  budget: Budget,
  limits: ArchiveLimits,
): Promise<Buffer> {
  const stream = await zip.openReadStreamPromise(entry);
  const chunks: Buffer[] = [];
  let total = 0;
  try {
    for await (const chunk of stream as AsyncIterable<Buffer>) {
      total += chunk.length;
      budget.inflated += chunk.length;
      // yauzl checks the declared size at the end (validateEntrySizes); this holds while it streams.
      if (total > max) throw new ArchiveRefused(`inflates past ${max} bytes`);
      if (budget.inflated > limits.maxTotalInflatedBytes) {
        throw new ArchiveRefused(`the archive inflates past ${limits.maxTotalInflatedBytes} bytes in all`);
      }
      chunks.push(chunk);
    }
  } finally {
    stream.destroy();
  }
  return Buffer.concat(chunks);
}

/** Why an entry is not inflated, judged on its header alone, or undefined when it may be. */
function refusal(entry: Entry, max: number, budget: Budget, limits: ArchiveLimits): string | undefined {
  if (entry.uncompressedSize > max) return `${entry.uncompressedSize} bytes, over the ${max}-byte limit`;
  if (
    entry.uncompressedSize > limits.ratioGraceBytes &&
    entry.uncompressedSize > limits.maxCompressionRatio * Math.max(1, entry.compressedSize)
  ) {
    return `compression ratio above ${limits.maxCompressionRatio}:1 (${entry.compressedSize} → ${entry.uncompressedSize} bytes, a zip bomb?)`;
  }
  if (budget.inflated + entry.uncompressedSize > limits.maxTotalInflatedBytes) {
    return `the archive would inflate past ${limits.maxTotalInflatedBytes} bytes in all`;
  }
  return undefined;
}

async function walkZip(
  zip: ZipFile,
  chain: string,
  depth: number,
  budget: Budget,
  limits: ArchiveLimits,
  note: (message: string) => void,
  out: PomPropertiesFile[],
): Promise<void> {
  if (zip.entryCount > limits.maxEntries) {
    note(`${chain}: ${zip.entryCount} entries, more than ${limits.maxEntries}: not read`);
    return;
  }
  for (;;) {
    const entry = await nextEntry(zip);
    if (!entry) return;
    const name = entry.fileName;
    if (name.endsWith('/')) continue;
    const isPom = POM_PROPERTIES.test(name);
    const isNested = !isPom && NESTED_ARCHIVE.test(name);
    if (!isPom && !isNested) continue;
    const where = `${chain}!/${name}`;
    if (isNested && depth >= limits.maxDepth) {
      note(`${where}: nested deeper than ${limits.maxDepth} archives: not read`);
      continue;
    }
    const max = isPom ? limits.maxPropertiesBytes : limits.maxNestedBytes;
    const refused = refusal(entry, max, budget, limits);
    if (refused) {
      note(`${where}: ${refused}: not read`);
      continue;
    }
    let content: Buffer;
    try {
      content = await inflate(zip, entry, max, budget, limits);
    } catch (err) {
      note(`${where}: ${(err as Error).message.slice(0, 200)}: not read`);
      if (err instanceof ArchiveRefused && budget.inflated > limits.maxTotalInflatedBytes) return;
      continue;
    }
    if (isPom) {
      out.push({ path: where, content });
      continue;
    }
    let inner: ZipFile;
    try {
      inner = await yauzl.fromBufferPromise(content, { lazyEntries: true, validateEntrySizes: true });
    } catch (err) {
      note(`${where}: not a readable zip (${(err as Error).message.slice(0, 120)})`);
      continue;
    }
    try {
      await walkZip(inner, where, depth + 1, budget, limits, note, out);
    } catch (err) {
      note(`${where}: damaged (${(err as Error).message.slice(0, 120)})`);
    } finally {
      inner.close();
    }
  }
}

/**
 * Holds the streamed archive whole: in memory when small, else in the analysis's temporary
 * directory. The body is always read to its end (the walker feeds it as the layer streams past);
 * past the bound, the rest is only discarded.
 */
async function hold(
  body: AsyncIterable<Buffer>,
  ctx: ReadContext,
  limits: ArchiveLimits,
): Promise<{ buffer: Buffer } | { file: string } | { refused: string }> {
  const chunks: Buffer[] = [];
  let total = 0;
  let file: string | undefined;
  let out: ReturnType<typeof createWriteStream> | undefined;
  let refused: string | undefined;
  try {
    for await (const chunk of body) {
      total += chunk.length;
      if (refused) continue;
      if (total > limits.maxArchiveBytes) {
        refused = `over ${limits.maxArchiveBytes} bytes`;
        chunks.length = 0;
        continue;
      }
      if (!out && total > limits.inMemoryBytes) {
        file = join(await ctx.tempDir(), `${randomUUID()}.zip`);
        out = createWriteStream(file, { mode: 0o600 });
        out.on('error', (err) => {
          refused ??= `could not be held in the temporary directory (${err.message.slice(0, 120)})`;
        });
        for (const c of chunks) out.write(c);
        chunks.length = 0;
      }
      if (out) {
        const stream = out;
        if (!stream.write(chunk)) {
          await new Promise<void>((r) => {
            stream.once('drain', () => r());
            stream.once('close', () => r());
          });
        }
      } else chunks.push(chunk);
    }
  } finally {
    if (out) {
      out.end();
      await finished(out).catch(() => undefined);
    }
  }
  if (refused) {
    if (file) await rm(file, { force: true });
    return { refused };
  }
  return file ? { file } : { buffer: Buffer.concat(chunks) };
}

/** Every pom.properties in the archive `entry` and in the archives it nests; problems become notes. */
export async function pomPropertiesInArchive(
  entry: EntryInfo,
  body: AsyncIterable<Buffer>,
  ctx: ReadContext,
  limits: ArchiveLimits = DEFAULT_ARCHIVE_LIMITS,
): Promise<PomPropertiesFile[]> {
  const note = (message: string): void => {
    const n: AnalysisNote = { code: 'JAVA_ARCHIVE_UNREAD', message, path: entry.path, layer: entry.layer };
    ctx.note(n);
  };
  const out: PomPropertiesFile[] = [];
  const held = await hold(body, ctx, limits);
  if ('refused' in held) {
    note(`${entry.path}: ${held.refused}: not read`);
    return out;
  }
  const options = { lazyEntries: true, validateEntrySizes: true } as const;
  let zip: ZipFile;
  try {
    zip =
      'buffer' in held
        ? await yauzl.fromBufferPromise(held.buffer, options)
        : await yauzl.openPromise(held.file, options);
  } catch (err) {
    note(`${entry.path}: not a readable zip (${(err as Error).message.slice(0, 120)})`);
    if ('file' in held) await rm(held.file, { force: true });
    return out;
  }
  try {
    await walkZip(zip, entry.path, 1, { inflated: 0 }, limits, note, out);
  } catch (err) {
    note(`${entry.path}: damaged (${(err as Error).message.slice(0, 120)})`);
  } finally {
    zip.close();
    // Removed now rather than with the directory, so many large archives do not pile up.
    if ('file' in held) await rm(held.file, { force: true });
  }
  return out;
}
