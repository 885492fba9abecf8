/**
 * Reading the files a user names (policy, key, auth, CA, plan, batch and report files):
 * every one is bounded before it is read. A path may name a FIFO, a device or a file that
 * grows while it is read, so the size from `stat` is only a first check: at most
 * `limit + 1` bytes are ever read, in chunks, and one byte past the limit is the refusal.
 * Standard input (`-`) is read the same way.
 */
import { open } from 'node:fs/promises';
import { SluiceError } from './errors.ts';

/** CA bundles and certificates: the Mozilla bundle is about 220 KiB. */
export const MAX_CERTIFICATE_FILE_BYTES = 1024 * 1024;
/** Registry credential files (containers auth.json, docker config.json). */
export const MAX_AUTH_FILE_BYTES = 1024 * 1024;

const CHUNK_BYTES = 64 * 1024;

export interface InputFile {
  /** What the file is to the user, for messages: `policy file`, `--batch file`. */
  what: string;
  /** The most bytes accepted. */
  limit: number;
  /**
   * The error for a file that cannot be opened or read (`errno` is ENOENT, EACCES, EISDIR,
   * ...); by default INPUT_NOT_FOUND for ENOENT and INPUT_UNREADABLE otherwise.
   */
  unreadable?: (errno: string) => SluiceError;
  /** What `-` reads; default process.stdin. */
  stdin?: AsyncIterable<Buffer | string>;
}

function sizeText(bytes: number): string {
  if (bytes >= 1024 * 1024 && bytes % (1024 * 1024) === 0) return ` (${bytes / (1024 * 1024)} MiB)`;
  if (bytes >= 1024 && bytes % 1024 === 0) return ` (${bytes / 1024} KiB)`;
  return '';
}

export function inputTooLarge(name: string, what: string, limit: number, size?: number): SluiceError {
  const found = size === undefined ? '' : ` (it holds ${size} bytes)`;
  return new SluiceError(
    'INPUT_TOO_LARGE',
    'invalid-input',
    `${name} (${what}) is larger than the limit of ${limit} bytes${sizeText(limit)}${found}`,
    { location: name, limit },
  );
}

function defaultUnreadable(path: string, what: string, errno: string): SluiceError {
  if (errno === 'ENOENT')
    return new SluiceError('INPUT_NOT_FOUND', 'not-found', `${what} ${path} does not exist`, { location: path });
  return new SluiceError('INPUT_UNREADABLE', 'invalid-input', `cannot read ${what} ${path} (${errno})`, {
    location: path,
    errno,
  });
}

/** Reads a stream up to `limit` bytes; one byte more is INPUT_TOO_LARGE, and the rest is never read. */
export async function readBoundedStream(
  stream: AsyncIterable<Buffer | string>,
  name: string,
  what: string,
  limit: number,
): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let total = 0;
  for await (const c of stream) {
    const chunk = typeof c === 'string' ? Buffer.from(c) : c;
    total += chunk.length;
    // Leaving the loop early ends the iteration, which destroys the stream.
    if (total > limit) throw inputTooLarge(name, what, limit);
    chunks.push(chunk);
  }
  return Buffer.concat(chunks, total);
}

/** The bytes of a file the user named (`-` for standard input), refused past `limit`. */
export async function readInputFile(path: string, input: InputFile): Promise<Buffer> {
  if (path === '-') return readBoundedStream(input.stdin ?? process.stdin, 'stdin', input.what, input.limit);
  const failure = (err: unknown): SluiceError => {
    const errno = (err as NodeJS.ErrnoException).code ?? 'error';
    return input.unreadable ? input.unreadable(errno) : defaultUnreadable(path, input.what, errno);
  };
  let handle;
  try {
    handle = await open(path, 'r');
  } catch (err) {
    throw failure(err);
  }
  try {
    const info = await handle.stat();
    if (info.isDirectory()) throw failure(Object.assign(new Error('is a directory'), { code: 'EISDIR' }));
    // A regular file says its size; FIFOs and devices say 0 and are measured while read.
    if (info.isFile() && info.size > input.limit) throw inputTooLarge(path, input.what, input.limit, info.size);
    const chunks: Buffer[] = [];
    let total = 0;
    for (;;) {
      const buf = Buffer.allocUnsafe(Math.min(CHUNK_BYTES, input.limit + 1 - total));
      let n: number;
      try {
        ({ bytesRead: n } = await handle.read(buf, 0, buf.length, null));
      } catch (err) {
        throw failure(err);
      }
      if (n === 0) break;
      total += n;
      if (total > input.limit) throw inputTooLarge(path, input.what, input.limit);
      chunks.push(n === buf.length ? buf : buf.subarray(0, n));
    }
    return Buffer.concat(chunks, total);
  } finally {
    await handle.close();
  }
}

/** A file the user named, as UTF-8 text. */
export async function readInputText(path: string, input: InputFile): Promise<string> {
  return (await readInputFile(path, input)).toString('utf8');
}
