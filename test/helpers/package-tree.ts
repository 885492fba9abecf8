/**
 * Feeds a directory tree through the PackageReader interface the way the layer walker does
 * (wanted files buffered up to `maxBytes`, streamed files handed over once), so the readers are
 * judged on real file systems before the walker exists. One "layer" holds the whole tree.
 */
import { existsSync } from 'node:fs';
import { createReadStream } from 'node:fs';
import { lstat, mkdir, open, readdir, rename, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { randomUUID } from 'node:crypto';
import type {
  AnalysisNote,
  EntryInfo,
  InstalledPackage,
  LayerFile,
  LayerRef,
  OsRelease,
  PackageReader,
  ReadContext,
} from '../../src/analysis/model.ts';
import { TEST_CACHE_DIR } from './images.ts';
import { makeTempDir, removeTempDir, run } from './proc.ts';

export const TREE_LAYER: LayerRef = {
  index: 0,
  digest: `sha256:${'0'.repeat(64)}`,
  mediaType: 'application/vnd.oci.image.layer.v1.tar',
  size: 0,
};

export interface TreeResult {
  packages: InstalledPackage[];
  notes: AnalysisNote[];
}

export interface TreeOptions {
  /** Only walk these directories (relative to the root); paths stay relative to the root. */
  under?: string[];
  os?: OsRelease;
}

async function* walk(root: string, rel: string): AsyncGenerator<{ rel: string; size: number; mode: number }> {
  const self = await lstat(path.join(root, rel)).catch(() => undefined);
  if (self?.isFile()) {
    yield { rel, size: self.size, mode: self.mode & 0o7777 };
    return;
  }
  if (!self?.isDirectory()) return;
  const names = await readdir(path.join(root, rel));
  names.sort();
  for (const name of names) {
    const child = rel === '' ? name : `${rel}/${name}`;
    const info = await lstat(path.join(root, child));
    if (info.isDirectory()) yield* walk(root, child);
    else if (info.isFile()) yield { rel: child, size: info.size, mode: info.mode & 0o7777 };
  }
}

async function readBounded(file: string, maxBytes: number): Promise<Buffer> {
  const handle = await open(file, 'r');
  try {
    const buf = Buffer.alloc(maxBytes);
    let total = 0;
    for (;;) {
      const { bytesRead } = await handle.read(buf, total, maxBytes - total, total);
      if (bytesRead === 0 || total + bytesRead >= maxBytes) return buf.subarray(0, total + bytesRead);
      total += bytesRead;
    }
  } finally {
    await handle.close();
  }
}

/** Runs one reader over a tree; `ctx.tempDir` is a real private directory, removed afterwards. */
export async function readTree(reader: PackageReader, root: string, options: TreeOptions = {}): Promise<TreeResult> {
  const notes: AnalysisNote[] = [];
  const temps: string[] = [];
  const ctx: ReadContext = {
    note: (note) => notes.push(note),
    tempDir: async () => {
      const dir = await makeTempDir('package-reader');
      temps.push(dir);
      return dir;
    },
  };
  if (options.os) ctx.os = options.os;
  const packages: InstalledPackage[] = [];
  const wanted = new Map<string, LayerFile>();
  try {
    for (const start of options.under ?? ['']) {
      for await (const file of walk(root, start)) {
        const entry: EntryInfo = { path: file.rel, size: file.size, mode: file.mode, layer: TREE_LAYER };
        if (reader.wants?.(entry)) {
          const content = await readBounded(path.join(root, file.rel), reader.maxBytes ?? 1024 * 1024);
          wanted.set(entry.path, { ...entry, content });
        }
        if (reader.streams?.(entry) && reader.scan) {
          packages.push(...(await reader.scan(entry, createReadStream(path.join(root, file.rel)), ctx)));
        }
      }
    }
    if (reader.read) packages.push(...(await reader.read(wanted, ctx)));
  } finally {
    for (const dir of temps) await removeTempDir(dir);
  }
  return { packages, notes };
}

/** One layer's worth of in-memory files, for parsers fed hand-written (hostile) input. */
export async function readFiles(
  reader: PackageReader,
  files: Record<string, string | Buffer>,
  options: { os?: OsRelease } = {},
): Promise<TreeResult> {
  const dir = await makeTempDir('package-files');
  try {
    for (const [rel, content] of Object.entries(files)) {
      await mkdir(path.dirname(path.join(dir, rel)), { recursive: true });
      await writeFile(path.join(dir, rel), content, { mode: 0o755 });
    }
    return await readTree(reader, dir, options);
  } finally {
    await removeTempDir(dir);
  }
}

/**
 * A Debian bookworm root file system made by `debootstrap --variant=minbase`, cached under
 * {@link TEST_CACHE_DIR} (the first build downloads ~40 MB from deb.debian.org and takes minutes).
 * Undefined when debootstrap cannot run here (not root, no mirror).
 */
export async function debootstrapRootfs(): Promise<string | undefined> {
  const key = 'debootstrap-bookworm-minbase';
  const final = path.join(TEST_CACHE_DIR, key);
  if (existsSync(path.join(final, 'complete'))) return path.join(final, 'rootfs');
  if (!existsSync('/usr/sbin/debootstrap') || process.getuid?.() !== 0) return undefined;
  await mkdir(TEST_CACHE_DIR, { recursive: true });
  const staging = path.join(TEST_CACHE_DIR, `${key}.tmp-${process.pid}-${randomUUID()}`);
  try {
    await run(
      '/usr/sbin/debootstrap',
      ['--variant=minbase', 'bookworm', path.join(staging, 'rootfs'), 'http://deb.debian.org/debian'],
      { timeoutMs: 900_000 },
    );
    await writeFile(path.join(staging, 'complete'), new Date().toISOString());
    await rename(staging, final);
  } catch {
    await rm(staging, { recursive: true, force: true });
    if (!existsSync(path.join(final, 'complete'))) return undefined;
  }
  return path.join(final, 'rootfs');
}
