/**
 * Tag deletion through Quay's and Harbor's REST APIs, against a local server replaying the
 * documented shapes: Quay `DELETE /api/v1/repository/{namespace}/{repo}/tag/{tag}` (204,
 * Bearer token; errors `{"error_message": …}`), Harbor v2.0
 * `DELETE /api/v2.0/projects/{project}/repositories/{repo}/artifacts/{reference}/tags/{tag}`
 * (200, Basic auth, repository name URL-encoded twice; errors `{"errors":[{"code","message"}]}`).
 */
import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { harborTagDeleter, quayTagDeleter } from '../../../src/registries/vendor.ts';

const D = 'sha256:' + 'a'.repeat(64);
let server: http.Server;
let base: string;
const seen: Array<{ method: string; url: string; auth: string | undefined }> = [];
let reply: { status: number; body?: string } = { status: 204 };

before(async () => {
  server = http.createServer((req, res) => {
    seen.push({ method: req.method!, url: req.url!, auth: req.headers.authorization });
    res.statusCode = reply.status;
    res.setHeader('content-type', 'application/json');
    res.end(reply.body ?? '');
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
after(() => server.close());

describe('Quay', () => {
  it('deletes one tag with the app token as bearer', async () => {
    reply = { status: 204 };
    await quayTagDeleter(base, { registryToken: 'quay-app-token' }).deleteTag('acme-dev/api', '1.0.0-1', D);
    assert.deepEqual(seen.at(-1), {
      method: 'DELETE',
      url: '/api/v1/repository/acme-dev/api/tag/1.0.0-1',
      auth: 'Bearer quay-app-token',
    });
  });
  it('reports refusals with the status and Quay message, never the token', async () => {
    reply = { status: 403, body: JSON.stringify({ error_message: 'Unauthorized', error_type: 'insufficient_scope' }) };
    await assert.rejects(
      quayTagDeleter(base, { registryToken: 'quay-app-token' }).deleteTag('acme-dev/api', 'x', D),
      (e: Error & { category?: string }) => {
        assert.match(e.message, /HTTP 403 Unauthorized/);
        assert.equal(e.category, 'forbidden');
        assert.ok(!e.message.includes('quay-app-token'));
        return true;
      },
    );
  });
  it('treats an already deleted tag as done', async () => {
    reply = { status: 404, body: JSON.stringify({ error_message: 'Not Found' }) };
    const before = seen.length;
    await assert.doesNotReject(quayTagDeleter(base, { registryToken: 't' }).deleteTag('acme-dev/api', 'gone', D));
    // The deletion was asked for (not skipped), and the registry's 404 counted as done.
    assert.deepEqual(seen.slice(before), [
      { method: 'DELETE', url: '/api/v1/repository/acme-dev/api/tag/gone', auth: 'Bearer t' },
    ]);
    // Other refusals are not done: the same request answered 409 fails.
    reply = { status: 409, body: JSON.stringify({ error_message: 'Conflict' }) };
    await assert.rejects(quayTagDeleter(base, { registryToken: 't' }).deleteTag('acme-dev/api', 'gone', D));
  });
});

describe('Harbor', () => {
  it('deletes one tag of an artifact with basic auth, the repository encoded twice', async () => {
    reply = { status: 200 };
    await harborTagDeleter(base, { username: 'robot$ci', password: 'pw' }).deleteTag('acme-dev/team/api', '1.0.0-1', D);
    const last = seen.at(-1)!;
    assert.equal(last.method, 'DELETE');
    assert.equal(
      last.url,
      `/api/v2.0/projects/acme-dev/repositories/team%252Fapi/artifacts/${encodeURIComponent(D)}/tags/1.0.0-1`,
    );
    assert.equal(last.auth, `Basic ${Buffer.from('robot$ci:pw').toString('base64')}`);
  });
  it('reports Harbor errors and refuses repositories without a project', async () => {
    reply = {
      status: 412,
      body: JSON.stringify({ errors: [{ code: 'PRECONDITION', message: 'the tag is immutable' }] }),
    };
    await assert.rejects(
      harborTagDeleter(base, { username: 'u', password: 'p' }).deleteTag('proj/api', 'prod', D),
      /HTTP 412 the tag is immutable/,
    );
    await assert.rejects(harborTagDeleter(base, undefined).deleteTag('api', 'x', D), /project\/name/);
  });
});
