import type { Readable } from 'node:stream';

export interface ReadLimitedOptions {
  /** Content-Length as the peer declared it; over the limit fails before reading a byte. */
  declaredLength?: number;
  /**
   * Keep the first `limit` bytes and drop the rest instead of failing: for bodies read only for
   * a status word or a short error text.
   */
  truncate?: boolean;
  /** The error for a body over the limit (`declared` when Content-Length gave it away). */
  tooLarge: (info: { limit: number; declared?: number }) => Error;
}

/**
 * Reads a response body into memory, never more than `limit` bytes of it: a peer is hostile
 * until proven otherwise, and an endless body must not become an endless buffer.
 */
export async function readLimited(
  body: Readable,
  limit: number,
  options: ReadLimitedOptions,
): Promise<{ data: Buffer; truncated: boolean }> {
  const declared = options.declaredLength;
  if (!options.truncate && declared !== undefined && Number.isFinite(declared) && declared > limit) {
    body.destroy();
    throw options.tooLarge({ limit, declared });
  }
  const chunks: Buffer[] = [];
  let total = 0;
  for await (const chunk of body as AsyncIterable<Buffer>) {
    const room = limit - total;
    if (chunk.length > room) {
      body.destroy();
      if (!options.truncate) throw options.tooLarge({ limit });
      chunks.push(chunk.subarray(0, room));
      return { data: Buffer.concat(chunks, limit), truncated: true };
    }
    chunks.push(chunk);
    total += chunk.length;
  }
  return { data: Buffer.concat(chunks, total), truncated: false };
}
