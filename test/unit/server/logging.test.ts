import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { describe, it } from 'node:test';
import Fastify from 'fastify';
import { SluiceError } from '../../../src/errors.ts';
import { errorBody } from '../../../src/server/errors.ts';
import { loggerConfig } from '../../../src/server/logging.ts';
import { hasControls } from '../../../src/text.ts';

describe('server logs', () => {
  it('escape control characters from requests and registries, and stay the same JSON', async () => {
    const lines: string[] = [];
    const stream = new Writable({
      write(chunk, _enc, done) {
        lines.push(String(chunk));
        done();
      },
    });
    const app = Fastify({ logger: loggerConfig({ stream }) });
    await app.ready();
    const hostile = 'acme\u001b]0;pwned\u0007\u009b2J\u202eevil\u007f';
    app.log.warn({ repository: hostile }, `ignoring event for ${hostile}`);
    await app.close();
    const line = lines.find((l) => l.includes('ignoring event'))!;
    assert.ok(line, lines.join(''));
    assert.ok(!hasControls(line), JSON.stringify(line));
    const record = JSON.parse(line) as { repository: string; msg: string };
    assert.equal(record.repository, hostile);
    assert.equal(record.msg, `ignoring event for ${hostile}`);
  });
});

describe('error answers', () => {
  it('cut a message or a context value that quotes long input', () => {
    const long = 'x'.repeat(10_000);
    const body = errorBody(
      new SluiceError('REQUEST_INVALID', 'invalid-input', `bad value "${long}"`, { reference: long }),
      'req-1',
    );
    assert.ok(String(body.error.message).length < 2100);
    assert.match(String(body.error.message), /\.\.\. \(10012 characters\)$/);
    assert.ok(String(body.error.reference).length < 1100);
  });
});
