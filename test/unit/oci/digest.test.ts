import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { Readable, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { describe, it } from 'node:test';
import { VerifyingStream, digestOf, digestToTag, parseDigest } from '../../../src/oci/digest.ts';

function collect(): { sink: Writable; chunks: Buffer[] } {
  const chunks: Buffer[] = [];
  return {
    chunks,
    sink: new Writable({
      write(c, _e, cb) {
        chunks.push(c);
        cb();
      },
    }),
  };
}

describe('digests', () => {
  it('validates sha256 and sha512 lengths', () => {
    assert.equal(parseDigest('sha512:' + 'b'.repeat(128)).algorithm, 'sha512');
    assert.throws(() => parseDigest('sha512:' + 'b'.repeat(64)), /128 hex digits/);
    assert.throws(() => parseDigest('sha256:../../etc/passwd'), /64 hex digits/);
    assert.throws(() => parseDigest('nocolon'), /must look like/);
  });
  it('turns digests into cosign/referrers tags', () => {
    assert.equal(digestToTag('sha256:' + 'c'.repeat(64)), 'sha256-' + 'c'.repeat(64));
  });
});

describe('VerifyingStream', () => {
  const data = randomBytes(300_000);
  const digest = 'sha256:' + createHash('sha256').update(data).digest('hex');
  const chunked = () =>
    Readable.from([data.subarray(0, 100_000), data.subarray(100_000, 200_000), data.subarray(200_000)]);

  it('passes matching content through unchanged', async () => {
    const { sink, chunks } = collect();
    await pipeline(chunked(), new VerifyingStream(digest, data.length), sink);
    assert.ok(Buffer.concat(chunks).equals(data));
  });

  it('withholds the last chunk when the content does not match', async () => {
    const tampered = Buffer.from(data);
    tampered[250_000]! ^= 0xff;
    const { sink, chunks } = collect();
    await assert.rejects(
      pipeline(
        Readable.from([tampered.subarray(0, 100_000), tampered.subarray(100_000, 200_000), tampered.subarray(200_000)]),
        new VerifyingStream(digest, data.length),
        sink,
      ),
      (err: Error & { code?: string }) => err.code === 'DIGEST_MISMATCH' && err.message.includes(digest),
    );
    const delivered = Buffer.concat(chunks).length;
    assert.ok(delivered < data.length, `delivered ${delivered} of ${data.length} bytes`);
  });

  it('rejects a short or long body by size before hashing everything', async () => {
    await assert.rejects(
      pipeline(Readable.from([data.subarray(0, 10)]), new VerifyingStream(digest, data.length), collect().sink),
      /10 bytes instead of/,
    );
    await assert.rejects(
      pipeline(chunked(), new VerifyingStream(digest, 5), collect().sink),
      /more bytes than the 5 declared/,
    );
  });

  it('computes digests of buffers', () => {
    assert.equal(
      digestOf(Buffer.from('{}')),
      'sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a',
    );
  });
});
