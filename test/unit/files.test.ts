import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtemp, rm, truncate, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { after, before, describe, it } from 'node:test';
import { SluiceError, isSluiceError } from '../../src/errors.ts';
import { readInputFile, readInputText } from '../../src/files.ts';

let dir: string;
before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'sluice-files-'));
});
after(async () => {
  await rm(dir, { recursive: true, force: true });
});

function tooLarge(name: string, limit: number) {
  return (err: unknown) => {
    assert.ok(isSluiceError(err, 'INPUT_TOO_LARGE'), String(err));
    assert.equal(err.category, 'invalid-input');
    assert.equal(err.context.limit, limit);
    assert.ok(err.message.startsWith(`${name} (test file) is larger than the limit of ${limit} bytes`), err.message);
    return true;
  };
}

describe('readInputFile', () => {
  it('reads a file within the limit, up to exactly the limit', async () => {
    const file = join(dir, 'exact');
    await writeFile(file, 'x'.repeat(1024));
    assert.equal((await readInputFile(file, { what: 'test file', limit: 1024 })).length, 1024);
    assert.equal(await readInputText(file, { what: 'test file', limit: 4096 }), 'x'.repeat(1024));
  });

  it('refuses a regular file over the limit from its size, without reading it', async () => {
    // A sparse 1 GiB file: reading it whole is what the limit prevents.
    const file = join(dir, 'huge');
    await writeFile(file, '');
    await truncate(file, 1024 * 1024 * 1024);
    const heap = process.memoryUsage().arrayBuffers;
    await assert.rejects(readInputFile(file, { what: 'test file', limit: 1024 * 1024 }), (err: unknown) => {
      tooLarge(file, 1024 * 1024)(err);
      assert.match((err as Error).message, /\(1 MiB\) \(it holds 1073741824 bytes\)/);
      return true;
    });
    assert.ok(process.memoryUsage().arrayBuffers - heap < 64 * 1024 * 1024);
  });

  it('refuses one byte over the limit', async () => {
    const file = join(dir, 'plus-one');
    await writeFile(file, 'x'.repeat(1025));
    await assert.rejects(readInputFile(file, { what: 'test file', limit: 1024 }), tooLarge(file, 1024));
  });

  it('reads a device that never ends only up to the limit', async () => {
    const started = performance.now();
    await assert.rejects(
      readInputFile('/dev/zero', { what: 'test file', limit: 4 * 1024 * 1024 }),
      tooLarge('/dev/zero', 4 * 1024 * 1024),
    );
    assert.ok(performance.now() - started < 5000);
  });

  it('reads a FIFO with the same cap, and a short one whole', async () => {
    const fifo = join(dir, 'fifo');
    await new Promise<void>((resolve, reject) =>
      spawn('mkfifo', [fifo]).on('exit', (code) => (code === 0 ? resolve() : reject(new Error(`mkfifo ${code}`)))),
    );
    // A writer that would go on for ever: `yes` is ended by SIGPIPE once the reader closes.
    const endless = spawn('sh', ['-c', `exec yes sluice > '${fifo}'`], { stdio: 'ignore' });
    const ended = new Promise((resolve) => endless.on('exit', resolve));
    await assert.rejects(readInputFile(fifo, { what: 'test file', limit: 100_000 }), tooLarge(fifo, 100_000));
    await ended;
    const short = spawn('sh', ['-c', `printf 'a b\\n' > '${fifo}'`], { stdio: 'ignore' });
    // Listen before awaiting the read: the writer may exit while the read is still settling.
    const shortEnded = new Promise((resolve) => short.on('exit', resolve));
    assert.equal(await readInputText(fifo, { what: 'test file', limit: 100 }), 'a b\n');
    await shortEnded;
  });

  it('reads - from standard input with the same cap', async () => {
    const stdin = Readable.from([Buffer.alloc(600), Buffer.alloc(600)]);
    await assert.rejects(readInputFile('-', { what: 'test file', limit: 1000, stdin }), tooLarge('stdin', 1000));
    assert.equal(stdin.destroyed, true, 'the rest of the input is not read');
    const small = Readable.from(['hello ', 'world']);
    assert.equal(await readInputText('-', { what: 'test file', limit: 1000, stdin: small }), 'hello world');
  });

  it('names the file and what it is when it cannot be read', async () => {
    const missing = join(dir, 'missing');
    await assert.rejects(readInputFile(missing, { what: 'test file', limit: 10 }), (err: unknown) => {
      assert.ok(isSluiceError(err, 'INPUT_NOT_FOUND'));
      assert.equal(err.category, 'not-found');
      assert.equal(err.message, `test file ${missing} does not exist`);
      return true;
    });
    await assert.rejects(readInputFile(dir, { what: 'test file', limit: 10 }), (err: unknown) => {
      assert.ok(isSluiceError(err, 'INPUT_UNREADABLE'));
      assert.equal(err.message, `cannot read test file ${dir} (EISDIR)`);
      return true;
    });
    const own = (errno: string) => new SluiceError('SCAN_REPORT_UNREADABLE', 'invalid-input', `own message ${errno}`);
    await assert.rejects(
      readInputFile(missing, { what: 'test file', limit: 10, unreadable: own }),
      /own message ENOENT/,
    );
  });
});
