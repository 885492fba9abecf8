/** The OpenAPI document generated from the route table, and the server's small pure helpers. */
import assert from 'node:assert/strict';
import { describe, it, test } from 'node:test';
import {
  expandPath,
  fastifyUrl,
  openApiPath,
  parseListen,
  presentedSecret,
  redactUrl,
  secretsEqual,
  serverRoutes,
  sluiceVersion,
} from '../../../src/server/index.ts';
import { httpRequest } from '../../helpers/http.ts';
import { getTestPki } from '../../helpers/tls.ts';
import { createWorkspace } from '../../helpers/workspace.ts';
import { call, startTestServer } from './helpers.ts';

test('GET /api/v1/openapi.json documents every route of the table, unauthenticated', async () => {
  const ws = await createWorkspace({ registries: [{ name: 'local', url: 'http://127.0.0.1:5999' }] });
  const ts = await startTestServer(ws);
  try {
    const r = await call(ts.url, 'GET', '/api/v1/openapi.json');
    assert.equal(r.status, 200);
    const doc = r.json;
    assert.equal(doc.openapi, '3.1.0');
    assert.equal(doc.info.version, sluiceVersion());
    const routes = ts.server.routes;
    const ops = new Set<string>();
    for (const route of routes) {
      const op = doc.paths[openApiPath(route.path)]?.[route.method.toLowerCase()];
      assert.ok(op, `${route.method} ${route.path} documented`);
      assert.ok(!ops.has(op.operationId), `operationId ${op.operationId} unique`);
      ops.add(op.operationId);
      const pathParams = [...route.path.matchAll(/\{(\w+)\+?\}/g)].map((m) => m[1]);
      assert.deepEqual(
        op.parameters.filter((p: { in: string }) => p.in === 'path').map((p: { name: string }) => p.name),
        pathParams,
      );
      if (route.auth === 'token') {
        assert.deepEqual(op.security, [{ bearerAuth: [] }]);
        assert.equal(op['x-sluice-permission'], route.permission);
        assert.ok(op.responses['401'] && op.responses['403']);
      }
      if (route.method !== 'GET' && route.body) assert.ok(op.requestBody, `${route.path} request body`);
    }
    assert.equal(
      Object.values(doc.paths).reduce((n: number, p) => n + Object.keys(p as object).length, 0),
      routes.length,
    );
    assert.deepEqual(
      doc.paths['/api/v1/webhooks/harbor/{registry}'].post.requestBody.content['application/cloudevents+json'] !==
        undefined,
      true,
    );
    assert.equal(doc.components.securitySchemes.bearerAuth.scheme, 'bearer');
  } finally {
    await ts.close();
    await ws.cleanup();
  }
});

test('server.tls serves HTTPS', async () => {
  const pki = await getTestPki();
  const ws = await createWorkspace({
    registries: [{ name: 'local', url: 'http://127.0.0.1:5999' }],
    edit: (doc) => doc.setIn(['spec', 'server', 'tls'], { certFile: pki.certFile, keyFile: pki.keyFile }),
  });
  const ts = await startTestServer(ws);
  try {
    assert.match(ts.url, /^https:\/\/127\.0\.0\.1:\d+$/);
    const r = await httpRequest(`${ts.url}/healthz`, { caPem: pki.caPem });
    assert.equal(r.status, 200);
    assert.deepEqual(JSON.parse(r.body.toString()), { status: 'ok' });
  } finally {
    await ts.close();
    await ws.cleanup();
  }
});

describe('route table', () => {
  it('has no duplicate routes, no public mutation, a permission on every mutating token route', () => {
    const routes = serverRoutes();
    for (const r of routes) {
      if (r.method !== 'GET') assert.notEqual(r.auth, 'public', r.path);
      if (r.method !== 'GET' && r.auth === 'token') assert.ok(r.permission, `${r.path} names a permission`);
      assert.ok(r.path.startsWith('/api/v1/'), r.path);
    }
    assert.throws(() => serverRoutes([routes[1]!]), /declared twice/);
  });
  it('maps path templates for Fastify, OpenAPI and examples', () => {
    assert.equal(fastifyUrl('/api/v1/images/{registry}/{repository+}'), '/api/v1/images/:registry/*');
    assert.equal(openApiPath('/api/v1/images/{registry}/{repository+}'), '/api/v1/images/{registry}/{repository}');
    assert.equal(
      expandPath('/api/v1/images/{registry}/{repository+}', { registry: 'local', repository: 'acme-dev/my app' }),
      '/api/v1/images/local/acme-dev/my%20app',
    );
  });
});

describe('helpers', () => {
  it('parses listen addresses', () => {
    assert.deepEqual(parseListen('127.0.0.1:8080'), { host: '127.0.0.1', port: 8080 });
    assert.deepEqual(parseListen('[::1]:0'), { host: '::1', port: 0 });
    assert.deepEqual(parseListen('localhost:9000'), { host: 'localhost', port: 9000 });
    for (const bad of ['8080', '127.0.0.1', 'host:99999', 'a:b:c'])
      assert.throws(() => parseListen(bad), /must be HOST:PORT/);
  });
  it('redacts secrets in logged URLs', () => {
    assert.equal(
      redactUrl('/api/v1/webhooks/quay/local?secret=abc&x=1'),
      '/api/v1/webhooks/quay/local?secret=[REDACTED]&x=1',
    );
    assert.equal(redactUrl('/x?a=1&token=slc_abc'), '/x?a=1&token=[REDACTED]');
    assert.equal(redactUrl('/x?secretive=1'), '/x?secretive=1');
  });
  it('takes the webhook secret from the bearer header, the secret header or the query', () => {
    const req = (headers: Record<string, string>, query: Record<string, string> = {}) => ({ headers, query }) as never;
    assert.equal(presentedSecret(req({ authorization: 'Bearer s1' })), 's1');
    assert.equal(presentedSecret(req({ authorization: 's2' })), 's2', 'Harbor sends its auth header verbatim');
    assert.equal(presentedSecret(req({ 'x-sluice-webhook-secret': 's3' })), 's3');
    assert.equal(presentedSecret(req({}, { secret: 's4' })), 's4');
    assert.equal(presentedSecret(req({})), undefined);
    assert.ok(secretsEqual('same', 'same'));
    assert.ok(!secretsEqual('same', 'sam') && !secretsEqual('', 'x'));
  });
});
