/**
 * The layer walker: streams one layer blob once, decompresses it by its magic bytes, parses the
 * tar, enforces every safety limit, and hands the readers the files they asked for. Nothing of
 * the layer is written to disk; only wanted files (bounded by the readers' `maxBytes` and the
 * per-file limit) and small text files for the secret scan are held in memory, one at a time.
 */
import { PassThrough, Readable, Transform, type TransformCallback } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import zlib from 'node:zlib';
import tar from 'tar-stream';
import type { CodeOf } from '../error-codes.ts';
import { SluiceError } from '../errors.ts';
import type {
  AnalysisNote,
  EntryInfo,
  InstalledPackage,
  LayerFile,
  LayerRef,
  PackageReader,
  ReadContext,
} from './model.ts';
import { looksLikeText, scanText, type SecretFinding } from './secrets.ts';

export interface LayerLimits {
  /** Bytes of tar a layer may decompress to. */
  maxUncompressedBytes: number;
  /** Tar entries in one layer. */
  maxEntries: number;
  /** Largest file read into memory for a reader, whatever its own `maxBytes`. */
  maxFileBytes: number;
  /** Decompressed / compressed, checked once past `ratioGraceBytes` of output (bombs). */
  maxCompressionRatio: number;
  ratioGraceBytes: number;
  /** Largest text file scanned for secrets. */
  maxSecretFileBytes: number;
}

export const DEFAULT_LAYER_LIMITS: LayerLimits = {
  maxUncompressedBytes: 8 * 1024 ** 3,
  maxEntries: 500_000,
  maxFileBytes: 64 * 1024 * 1024,
  maxCompressionRatio: 100,
  ratioGraceBytes: 16 * 1024 * 1024,
  maxSecretFileBytes: 1024 * 1024,
};

/** Facts about a layer's files that the hardening view needs. */
export interface LayerFacts {
  setuid: string[];
  setgid: string[];
  worldWritableDirs: string[];
  worldWritableFiles: string[];
  /** Every regular file and symlink path, only for the names the hardening view looks for. */
  executables: string[];
  entries: number;
  uncompressedBytes: number;
}

/** What one layer contributes, independent of the layers above it (so it can be cached). */
export interface LayerAnalysis {
  layer: LayerRef;
  /** Reader name to the wanted files this layer holds, by path. */
  files: Map<string, Map<string, LayerFile>>;
  /** Reader name to packages its `scan` found, by path. */
  scanned: Map<string, Map<string, InstalledPackage[]>>;
  /** Paths deleted by `.wh.<name>` whiteouts. */
  whiteouts: string[];
  /** Directories made opaque by `.wh..wh..opq`: everything below them in lower layers is gone. */
  opaqueDirs: string[];
  secrets: SecretFinding[];
  notes: AnalysisNote[];
  facts: LayerFacts;
}

const GZIP_MAGIC = Buffer.from([0x1f, 0x8b]);
const ZSTD_MAGIC = Buffer.from([0x28, 0xb5, 0x2f, 0xfd]);

export type Compression = 'gzip' | 'zstd' | 'none';

export function detectCompression(head: Buffer): Compression {
  if (head.subarray(0, 2).equals(GZIP_MAGIC)) return 'gzip';
  if (head.subarray(0, 4).equals(ZSTD_MAGIC)) return 'zstd';
  return 'none';
}

function declaredCompression(mediaType: string): Compression | undefined {
  if (mediaType.endsWith('+gzip') || mediaType.endsWith('.tar.gzip')) return 'gzip';
  if (mediaType.endsWith('+zstd')) return 'zstd';
  if (mediaType.endsWith('.tar')) return 'none';
  return undefined;
}

function layerError(code: CodeOf<'integrity'>, layer: LayerRef, message: string, cause?: unknown): SluiceError {
  return new SluiceError(
    code,
    'integrity',
    `layer ${layer.index} (${layer.digest}): ${message}`,
    { digest: layer.digest, operation: 'analyse layer' },
    cause,
  );
}

/**
 * Checks a tar member name and makes it relative to the root. Returns undefined for the root
 * itself; throws for names that leave the root or are absolute (a layer is extracted at `/`,
 * and a name that needs normalising to stay there is a sign of a crafted archive).
 */
export function normaliseEntryPath(name: string): { path?: string; problem?: string } {
  if (name.includes('\0')) return { problem: 'contains a NUL byte' };
  if (name.startsWith('/')) return { problem: 'is an absolute path' };
  const parts: string[] = [];
  for (const part of name.split('/')) {
    if (part === '' || part === '.') continue;
    if (part === '..') return { problem: 'climbs out of the root with ..' };
    parts.push(part);
  }
  return parts.length === 0 ? {} : { path: parts.join('/') };
}

/** Whether a link target, resolved from `dir`, stays inside the root (absolute ones are rooted at `/`). */
export function linkStaysInside(dir: string, target: string): boolean {
  const parts = target.startsWith('/') ? [] : dir.split('/').filter(Boolean);
  for (const part of target.split('/')) {
    if (part === '' || part === '.') continue;
    if (part === '..') {
      if (parts.length === 0) return false;
      parts.pop();
    } else parts.push(part);
  }
  return true;
}

const INTERESTING_EXECUTABLES = new Set([
  'sh',
  'bash',
  'ash',
  'dash',
  'zsh',
  'busybox',
  'apt',
  'apt-get',
  'dpkg',
  'apk',
  'rpm',
  'dnf',
  'yum',
  'microdnf',
  'zypper',
  'pip',
  'pip3',
  'npm',
  'curl',
  'wget',
]);

function basename(p: string): string {
  const i = p.lastIndexOf('/');
  return i < 0 ? p : p.slice(i + 1);
}

function dirname(p: string): string {
  const i = p.lastIndexOf('/');
  return i < 0 ? '' : p.slice(0, i);
}

/** Counts bytes on both sides of decompression and stops bombs and oversize layers early. */
class ExpansionGuard extends Transform {
  out = 0;
  private readonly layer: LayerRef;
  private readonly limits: LayerLimits;
  private readonly compressedSoFar: () => number;
  private readonly compressed: boolean;
  constructor(layer: LayerRef, limits: LayerLimits, compressedSoFar: () => number, compressed: boolean) {
    super();
    this.layer = layer;
    this.limits = limits;
    this.compressedSoFar = compressedSoFar;
    this.compressed = compressed;
  }
  override _transform(chunk: Buffer, _enc: BufferEncoding, cb: TransformCallback): void {
    this.out += chunk.length;
    if (this.out > this.limits.maxUncompressedBytes) {
      cb(
        layerError(
          'LAYER_TOO_LARGE',
          this.layer,
          `decompresses to more than the ${this.limits.maxUncompressedBytes}-byte limit`,
        ),
      );
      return;
    }
    if (this.compressed && this.out > this.limits.ratioGraceBytes) {
      const ratio = this.out / Math.max(1, this.compressedSoFar());
      if (ratio > this.limits.maxCompressionRatio) {
        cb(
          layerError(
            'LAYER_COMPRESSION_RATIO',
            this.layer,
            `expands ${Math.round(ratio)}x (${this.out} bytes from ${this.compressedSoFar()}), over the ${this.limits.maxCompressionRatio}x limit: a compression bomb`,
          ),
        );
        return;
      }
    }
    cb(null, chunk);
  }
}

export interface WalkOptions {
  readers: readonly PackageReader[];
  ctx: ReadContext;
  limits?: Partial<LayerLimits>;
  /** Scan text files for secrets (default true). */
  secrets?: boolean;
}

/** Streams one layer blob and returns what it contributes. Throws a SluiceError naming the layer. */
export async function walkLayer(
  layer: LayerRef,
  blob: AsyncIterable<Buffer> | Readable,
  options: WalkOptions,
): Promise<LayerAnalysis> {
  const limits = { ...DEFAULT_LAYER_LIMITS, ...options.limits };
  const result: LayerAnalysis = {
    layer,
    files: new Map(),
    scanned: new Map(),
    whiteouts: [],
    opaqueDirs: [],
    secrets: [],
    notes: [],
    facts: {
      setuid: [],
      setgid: [],
      worldWritableDirs: [],
      worldWritableFiles: [],
      executables: [],
      entries: 0,
      uncompressedBytes: 0,
    },
  };
  const note = (code: string, message: string, path?: string): void => {
    const n: AnalysisNote = { code, message, layer };
    if (path !== undefined) n.path = path;
    result.notes.push(n);
    options.ctx.note(n);
  };

  const iterator = (blob as AsyncIterable<Buffer>)[Symbol.asyncIterator]();
  let head = Buffer.alloc(0);
  let compressedBytes = 0;
  while (head.length < 512) {
    const next = await iterator.next();
    if (next.done) break;
    head = Buffer.concat([head, next.value]);
  }
  compressedBytes = head.length;
  if (head.length === 0) throw layerError('LAYER_EMPTY', layer, 'the blob is empty');
  const compression = detectCompression(head);
  const declared = declaredCompression(layer.mediaType);
  if (declared !== undefined && declared !== compression) {
    note(
      'LAYER_MEDIA_TYPE_MISMATCH',
      `media type ${layer.mediaType} says ${declared}, the content is ${compression === 'none' ? 'uncompressed' : compression}; read as ${compression}`,
    );
  }
  if (compression === 'none' && head.length >= 262 && head.subarray(257, 262).toString('latin1') !== 'ustar') {
    throw layerError('LAYER_NOT_TAR', layer, 'is neither gzip, zstd nor a tar archive');
  }
  async function* compressedChunks(): AsyncGenerator<Buffer> {
    yield head;
    for (;;) {
      const next = await iterator.next();
      if (next.done) return;
      compressedBytes += next.value.length;
      yield next.value;
    }
  }
  const source = Readable.from(compressedChunks(), { objectMode: false });
  const guard = new ExpansionGuard(layer, limits, () => compressedBytes, compression !== 'none');
  const extract = tar.extract();
  const decompress: NodeJS.ReadWriteStream =
    compression === 'gzip'
      ? zlib.createGunzip()
      : compression === 'zstd'
        ? zlib.createZstdDecompress()
        : new PassThrough();

  let pipelineError: unknown;
  const piped = pipeline(source, decompress, guard, extract).catch((err: unknown) => {
    pipelineError = err;
  });

  const seen = new Set<string>();
  const wantedBy = (entry: EntryInfo) => options.readers.filter((r) => r.wants?.(entry) && r.read);
  const streamedBy = (entry: EntryInfo) => options.readers.filter((r) => r.streams?.(entry) && r.scan);

  try {
    for await (const entry of extract) {
      const h = entry.header;
      result.facts.entries++;
      if (result.facts.entries > limits.maxEntries) {
        entry.resume();
        throw layerError('LAYER_TOO_MANY_ENTRIES', layer, `has more than ${limits.maxEntries} entries`);
      }
      const size = h.size ?? 0;
      if (size > limits.maxUncompressedBytes) {
        entry.resume();
        throw layerError(
          'LAYER_TOO_LARGE',
          layer,
          `entry ${JSON.stringify(h.name)} declares ${size} bytes, over the ${limits.maxUncompressedBytes}-byte limit`,
        );
      }
      const { path, problem } = normaliseEntryPath(h.name);
      if (problem) {
        note('PATH_UNSAFE', `entry ${JSON.stringify(h.name)} ${problem}: skipped`, h.name);
        entry.resume();
        continue;
      }
      if (path === undefined) {
        entry.resume();
        continue;
      }
      if (seen.has(path)) note('DUPLICATE_ENTRY', `${path} appears more than once; the last one counts`, path);
      seen.add(path);
      const name = basename(path);
      const mode = (h.mode ?? 0) & 0o7777;

      if (name === '.wh..wh..opq') {
        result.opaqueDirs.push(dirname(path));
        entry.resume();
        continue;
      }
      if (name.startsWith('.wh.')) {
        const dir = dirname(path);
        const target = name.slice(4);
        result.whiteouts.push(dir ? `${dir}/${target}` : target);
        entry.resume();
        continue;
      }

      switch (h.type) {
        case 'directory':
          if (mode & 0o002 && !(mode & 0o1000)) result.facts.worldWritableDirs.push(path);
          entry.resume();
          continue;
        case 'symlink':
          if (!linkStaysInside(dirname(path), h.linkname ?? '')) {
            note(
              'LINK_ESCAPES_ROOT',
              `symlink ${path} points out of the root (${h.linkname ?? ''}); never followed`,
              path,
            );
          }
          if (INTERESTING_EXECUTABLES.has(name)) result.facts.executables.push(path);
          entry.resume();
          continue;
        case 'link':
          {
            const target = normaliseEntryPath(h.linkname ?? '');
            if (target.problem || target.path === undefined) {
              note(
                'LINK_ESCAPES_ROOT',
                `hard link ${path} points out of the root (${h.linkname ?? ''}); ignored`,
                path,
              );
            }
          }
          if (INTERESTING_EXECUTABLES.has(name)) result.facts.executables.push(path);
          entry.resume();
          continue;
        case 'character-device':
        case 'block-device':
        case 'fifo':
          note('SPECIAL_FILE', `${h.type} ${path} skipped`, path);
          entry.resume();
          continue;
        case 'file':
        case 'contiguous-file':
          break;
        default:
          entry.resume();
          continue;
      }

      if (mode & 0o4000) result.facts.setuid.push(path);
      if (mode & 0o2000) result.facts.setgid.push(path);
      if (mode & 0o002) result.facts.worldWritableFiles.push(path);
      if (INTERESTING_EXECUTABLES.has(name) && mode & 0o111) result.facts.executables.push(path);

      const info: EntryInfo = { path, size, mode, layer };
      const buffered: PackageReader[] = [];
      for (const r of wantedBy(info)) {
        const max = Math.min(r.maxBytes ?? limits.maxFileBytes, limits.maxFileBytes);
        if (size > max) {
          note(
            'FILE_TOO_LARGE',
            `${path} is ${size} bytes, over the ${max}-byte limit of reader ${r.name}: not read`,
            path,
          );
        } else buffered.push(r);
      }
      const scanSecrets = options.secrets !== false && size > 0 && size <= limits.maxSecretFileBytes;
      const streamers = streamedBy(info);
      const keep = buffered.length > 0 || scanSecrets;
      if (!keep && streamers.length === 0) {
        entry.resume();
        continue;
      }

      const chunks: Buffer[] = [];
      const feeds = streamers.map((r) => {
        const body = new PassThrough();
        let done = false;
        const scanning = r.scan!(info, body, options.ctx)
          .then(
            (pkgs) => pkgs,
            (err: unknown) => {
              note('READER_FAILED', `reader ${r.name} failed on ${path}: ${(err as Error).message}`, path);
              return [] as InstalledPackage[];
            },
          )
          .finally(() => {
            done = true;
            body.resume();
          });
        return { r, body, scanning, isDone: () => done };
      });
      for await (const chunk of entry as AsyncIterable<Buffer>) {
        if (keep) chunks.push(chunk);
        for (const f of feeds) {
          if (f.isDone()) continue;
          if (!f.body.write(chunk)) {
            await Promise.race([new Promise((resolve) => f.body.once('drain', resolve)), f.scanning]);
          }
        }
      }
      for (const f of feeds) f.body.end();
      for (const f of feeds) {
        const pkgs = await f.scanning;
        let byPath = result.scanned.get(f.r.name);
        if (!byPath) result.scanned.set(f.r.name, (byPath = new Map()));
        byPath.set(path, pkgs);
      }
      if (!keep) continue;
      const content = Buffer.concat(chunks);
      for (const r of buffered) {
        let byPath = result.files.get(r.name);
        if (!byPath) result.files.set(r.name, (byPath = new Map()));
        byPath.set(path, { ...info, content });
      }
      if (scanSecrets && looksLikeText(content)) {
        for (const hit of scanText(content.toString('utf8'))) {
          result.secrets.push({
            rule: hit.rule,
            source: 'layer',
            layerDigest: layer.digest,
            layerIndex: layer.index,
            path,
            line: hit.line,
            fingerprint: hit.fingerprint,
          });
        }
      }
    }
  } catch (err) {
    extract.destroy();
    await piped;
    throw wrap(layer, err instanceof SluiceError ? err : (pipelineError ?? err));
  }
  await piped;
  if (pipelineError) throw wrap(layer, pipelineError);
  result.facts.uncompressedBytes = guard.out;
  return result;
}

function wrap(layer: LayerRef, err: unknown): SluiceError {
  if (err instanceof SluiceError) {
    // Keep its code and category (a network error stays `unavailable`); name the layer.
    if (!err.message.includes(layer.digest)) err.message = `layer ${layer.index} (${layer.digest}): ${err.message}`;
    return err;
  }
  const e = err as Error & { code?: string };
  const message = e.message ?? String(err);
  if (/unexpected end|premature|truncated/i.test(message) || e.code === 'Z_BUF_ERROR') {
    return layerError('LAYER_TRUNCATED', layer, `ends before the archive does (${message})`, err);
  }
  if (e.code?.startsWith('Z_') || e.code === 'ERR_ZSTD_INVALID' || /zstd|incorrect header|invalid/i.test(message)) {
    return layerError('LAYER_CORRUPT', layer, `cannot be decompressed: ${message}`, err);
  }
  return layerError('LAYER_UNREADABLE', layer, message, err);
}
