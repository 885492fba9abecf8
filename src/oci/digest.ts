/**
 * Content digests. Only the algorithms registered by the OCI image spec are accepted
 * (sha256, sha512) with their exact lowercase hex length: an unvalidated digest string
 * ends up in URLs and file paths (CVE-2024-3727), so it never gets past this module.
 */
import { createHash, type Hash } from 'node:crypto';
import { Transform, type TransformCallback } from 'node:stream';
import { SluiceError } from '../errors.ts';
import { excerpt } from '../text.ts';

export type DigestAlgorithm = 'sha256' | 'sha512';

const HEX_LENGTH: Record<DigestAlgorithm, number> = { sha256: 64, sha512: 128 };

export interface ParsedDigest {
  algorithm: DigestAlgorithm;
  hex: string;
  digest: string;
}

export function parseDigest(text: string): ParsedDigest {
  const shown = excerpt(text);
  const colon = text.indexOf(':');
  if (colon <= 0) {
    throw new SluiceError(
      'DIGEST_INVALID',
      'invalid-input',
      `digest "${shown}" must look like sha256:<64 hex digits>`,
      {
        digest: shown,
      },
    );
  }
  const algorithm = text.slice(0, colon);
  const hex = text.slice(colon + 1);
  if (algorithm !== 'sha256' && algorithm !== 'sha512') {
    throw new SluiceError(
      'DIGEST_INVALID',
      'invalid-input',
      `digest algorithm "${excerpt(algorithm, 32)}" is not supported (sha256 or sha512)`,
      { digest: shown },
    );
  }
  const want = HEX_LENGTH[algorithm];
  if (hex.length !== want || !/^[0-9a-f]+$/.test(hex)) {
    const why = /[A-F]/.test(hex) ? 'must be lowercase hex' : `must be ${want} hex digits (got ${hex.length})`;
    throw new SluiceError('DIGEST_INVALID', 'invalid-input', `digest "${shown}": ${algorithm} value ${why}`, {
      digest: shown,
    });
  }
  return { algorithm, hex, digest: text };
}

export function isDigest(text: string): boolean {
  try {
    parseDigest(text);
    return true;
  } catch {
    return false;
  }
}

export function digestOf(bytes: Uint8Array, algorithm: DigestAlgorithm = 'sha256'): string {
  return `${algorithm}:${createHash(algorithm).update(bytes).digest('hex')}`;
}

/** `sha256:abc…` → `sha256-abc…`, the tag form used by cosign and the referrers tag schema. */
export function digestToTag(digest: string): string {
  const { algorithm, hex } = parseDigest(digest);
  return `${algorithm.slice(0, 32)}-${hex.slice(0, 64)}`;
}

export interface DigestMismatch {
  expected: string;
  actual: string;
  expectedSize?: number;
  actualSize: number;
}

/**
 * Passes bytes through while hashing them, and refuses to deliver the last chunk unless the
 * digest (and size, when known) match. Holding back the final chunk means a consumer that
 * streams into an upload never completes it with bad content: the upload is left short and
 * aborted, so a lying source cannot get a wrong blob committed anywhere.
 */
export class VerifyingStream extends Transform {
  readonly expected: ParsedDigest;
  readonly expectedSize: number | undefined;
  private readonly hash: Hash;
  private held: Buffer | undefined;
  private seen = 0;
  private readonly describe: () => Record<string, unknown>;

  /** Called with the size of every chunk that passed the size check (progress, accounting). */
  onBytes: ((n: number) => void) | undefined;

  constructor(expectedDigest: string, expectedSize?: number, context: () => Record<string, unknown> = () => ({})) {
    // Socket reads arrive in 64 KiB chunks; a larger buffer avoids a backpressure round per chunk.
    super({ highWaterMark: 1024 * 1024 });
    this.expected = parseDigest(expectedDigest);
    this.expectedSize = expectedSize;
    this.hash = createHash(this.expected.algorithm);
    this.describe = context;
  }

  get bytesSeen(): number {
    return this.seen;
  }

  override _transform(chunk: Buffer, _enc: BufferEncoding, done: TransformCallback): void {
    this.seen += chunk.length;
    if (this.expectedSize !== undefined && this.seen > this.expectedSize) {
      done(this.mismatch(`more bytes than the ${this.expectedSize} declared`));
      return;
    }
    this.hash.update(chunk);
    this.onBytes?.(chunk.length);
    const previous = this.held;
    this.held = chunk;
    if (previous) this.push(previous);
    done();
  }

  override _flush(done: TransformCallback): void {
    const actual = `${this.expected.algorithm}:${this.hash.digest('hex')}`;
    if (this.expectedSize !== undefined && this.seen !== this.expectedSize) {
      done(this.mismatch(`${this.seen} bytes instead of the ${this.expectedSize} declared`));
      return;
    }
    if (actual !== this.expected.digest) {
      done(this.mismatch(`content hashes to ${actual}`));
      return;
    }
    if (this.held) this.push(this.held);
    this.held = undefined;
    done();
  }

  private mismatch(why: string): SluiceError {
    return new SluiceError(
      'DIGEST_MISMATCH',
      'integrity',
      `blob ${this.expected.digest} does not match its digest: ${why}`,
      { digest: this.expected.digest, ...this.describe() },
    );
  }
}
