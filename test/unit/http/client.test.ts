/**
 * The outbound HTTP client against real servers on 127.0.0.1: plain http, https with a CA
 * made by openssl (test/helpers/tls.ts), and a bare TCP listener that never speaks.
 */
import assert from 'node:assert/strict';
import http from 'node:http';
import https from 'node:https';
import net from 'node:net';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import {
  HttpFailure,
  OutboundClient,
  isLoopbackHostname,
  type OutboundClientOptions,
} from '../../../src/http/index.ts';
import { getTestPki, type TestPki } from '../../helpers/tls.ts';

interface Seen {
  method: string;
  url: string;
  headers: http.IncomingHttpHeaders;
  body: string;
}

type Handler = (req: http.IncomingMessage, res: http.ServerResponse, body: string) => void;

interface Served {
  origin: string;
  seen: Seen[];
  handle: Handler;
  close(): Promise<void>;
}

const servers: Served[] = [];

async function serve(handle: Handler, options: { tls?: TestPki; host?: string } = {}): Promise<Served> {
  const served: Served = { origin: '', seen: [], handle, close: async () => undefined };
  const listener = (req: http.IncomingMessage, res: http.ServerResponse) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const body = Buffer.concat(chunks).toString('utf8');
      served.seen.push({ method: req.method!, url: req.url!, headers: req.headers, body });
      served.handle(req, res, body);
    });
  };
  const server = options.tls
    ? https.createServer({ cert: options.tls.certPem, key: options.tls.keyPem }, listener)
    : http.createServer(listener);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  served.origin = `${options.tls ? 'https' : 'http'}://${options.host ?? '127.0.0.1'}:${port}`;
  served.close = () =>
    new Promise<void>((resolve) => {
      server.closeAllConnections();
      server.close(() => resolve());
    });
  servers.push(served);
  return served;
}

after(async () => {
  await Promise.all(servers.map((s) => s.close()));
});

async function failure(promise: Promise<unknown>): Promise<HttpFailure> {
  try {
    await promise;
  } catch (err) {
    assert.ok(err instanceof HttpFailure, `expected an HttpFailure, got ${String(err)}`);
    return err;
  }
  assert.fail('the request succeeded');
}

function client(options: OutboundClientOptions = {}): OutboundClient {
  return new OutboundClient(options);
}

describe('OutboundClient: requests and bodies', () => {
  it('sends the method, headers and body, and reads status, headers and body', async () => {
    const s = await serve((_req, res, body) => {
      res.setHeader('x-echo', body.length);
      res.end(`got ${body}`);
    });
    const res = await client({ userAgent: 'sluice-test' }).request({
      method: 'POST',
      url: `${s.origin}/hook`,
      headers: { 'content-type': 'application/json' },
      body: '{"a":1}',
    });
    assert.equal(res.status, 200);
    assert.equal(res.text(), 'got {"a":1}');
    assert.equal(res.header('X-Echo'), '7');
    assert.equal(res.truncated, false);
    const seen = s.seen.at(-1)!;
    assert.equal(seen.method, 'POST');
    assert.equal(seen.url, '/hook');
    assert.equal(seen.headers['content-type'], 'application/json');
    assert.equal(seen.headers['content-length'], '7');
    assert.equal(seen.headers['user-agent'], 'sluice-test');
  });

  it('refuses a body over the cap, declared or streamed, and can keep the head of it instead', async () => {
    const s = await serve((req, res) => {
      if (req.url === '/declared') {
        res.setHeader('content-length', String(4096));
        res.end('x'.repeat(4096));
        return;
      }
      // No Content-Length: the cap must hold while reading.
      res.write('y'.repeat(3000));
      res.end('y'.repeat(3000));
    });
    const c = client({ maxResponseBytes: 1024 });
    const declared = await failure(c.request({ method: 'GET', url: `${s.origin}/declared` }));
    assert.equal(declared.kind, 'too-large');
    assert.match(declared.message, /4096 bytes, over the 1024-byte limit/);
    const streamed = await failure(c.request({ method: 'GET', url: `${s.origin}/streamed` }));
    assert.equal(streamed.kind, 'too-large');
    assert.match(streamed.message, /exceeds the 1024-byte limit/);
    const head = await c.request({ method: 'GET', url: `${s.origin}/streamed`, truncate: true, maxResponseBytes: 100 });
    assert.equal(head.truncated, true);
    assert.equal(head.body.length, 100);
    assert.equal(head.text(), 'y'.repeat(100));
  });
});

describe('OutboundClient: timeouts and aborts', () => {
  it('gives up after the total timeout when the server never answers', async () => {
    const s = await serve(() => {
      /* never answers */
    });
    const started = performance.now();
    const f = await failure(client().request({ method: 'GET', url: `${s.origin}/slow`, timeoutMs: 150 }));
    const took = performance.now() - started;
    assert.equal(f.kind, 'timeout');
    assert.match(f.message, /no answer within 150 ms/);
    assert.ok(took >= 140 && took < 2000, `took ${took} ms`);
  });

  it('counts a body that trickles in against the same total timeout', async () => {
    const s = await serve((_req, res) => {
      res.writeHead(200);
      const t = setInterval(() => res.write('.'), 20);
      res.on('close', () => clearInterval(t));
    });
    const f = await failure(client().request({ method: 'GET', url: `${s.origin}/trickle`, timeoutMs: 200 }));
    assert.equal(f.kind, 'timeout');
  });

  it('gives up after the connect timeout when the TLS handshake never completes', async () => {
    const sockets: net.Socket[] = [];
    const silent = net.createServer((socket) => sockets.push(socket));
    await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
    try {
      const port = (silent.address() as AddressInfo).port;
      const f = await failure(
        client({ connectTimeoutMs: 100, timeoutMs: 5000 }).request({
          method: 'GET',
          url: `https://127.0.0.1:${port}/`,
        }),
      );
      assert.equal(f.kind, 'connect-timeout');
      assert.match(f.message, /no connection within 100 ms/);
    } finally {
      for (const s of sockets) s.destroy();
      silent.close();
    }
  });

  it("stops at once when the caller's signal aborts", async () => {
    const s = await serve(() => {
      /* never answers */
    });
    const controller = new AbortController();
    setTimeout(() => controller.abort(), 50);
    const f = await failure(
      client().request({ method: 'GET', url: `${s.origin}/`, timeoutMs: 10_000, signal: controller.signal }),
    );
    assert.equal(f.kind, 'aborted');
  });

  it('names the host and errno of a refused connection, never the URL', async () => {
    const probe = net.createServer();
    await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', resolve));
    const port = (probe.address() as AddressInfo).port;
    await new Promise<void>((resolve) => probe.close(() => resolve()));
    const f = await failure(
      client().request({
        method: 'POST',
        url: `http://127.0.0.1:${port}/services/T0/B0/secret-token?token=abc`,
        headers: { authorization: 'Bearer hunter2' },
        body: 'x',
      }),
    );
    assert.equal(f.kind, 'network');
    assert.equal(f.code, 'ECONNREFUSED');
    assert.equal(f.message, `127.0.0.1:${port}: the request failed (ECONNREFUSED)`);
    const dump = JSON.stringify({ ...f, message: f.message, stack: f.stack });
    for (const secret of ['secret-token', 'token=abc', 'hunter2']) assert.ok(!dump.includes(secret), secret);
  });

  it('never quotes an invalid URL', async () => {
    const f = await failure(client().request({ method: 'GET', url: 'not a url ?token=abc' }));
    assert.doesNotMatch(f.message, /token=abc/);
  });
});

describe('OutboundClient: redirects', () => {
  let target: Served;
  let other: Served;

  before(async () => {
    target = await serve((req, res) => res.end(`arrived at ${req.url}`));
    // Another origin on the same machine: the same address under another name and port.
    other = await serve((req, res) => res.end(`elsewhere ${req.url}`), { host: 'localhost' });
  });

  it('hands a redirect back unfollowed unless asked to follow', async () => {
    const s = await serve((_req, res) => {
      res.writeHead(302, { location: `${target.origin}/next` });
      res.end();
    });
    const res = await client().request({ method: 'GET', url: `${s.origin}/`, headers: { authorization: 'Bearer t' } });
    assert.equal(res.status, 302);
    assert.equal(res.header('location'), `${target.origin}/next`);
    assert.equal(target.seen.length, 0, 'nothing was sent to the Location');
  });

  it('keeps credentials on the same origin and drops them, and caller-named ones, for another origin', async () => {
    const s = await serve((req, res) => {
      if (req.url === '/same') {
        res.writeHead(307, { location: '/landed' });
      } else {
        res.writeHead(302, { location: `${other.origin}/away` });
      }
      res.end();
    });
    s.handle = ((handle) => (req, res, body) => {
      if (req.url === '/landed') res.end('landed');
      else handle(req, res, body);
    })(s.handle);
    const c = client();
    const headers = { authorization: 'Bearer same-origin-token', 'x-vault-token': 'hvs.secret', 'x-trace': 'keep' };

    const same = await c.request({ method: 'GET', url: `${s.origin}/same`, headers, followRedirects: 2 });
    assert.equal(same.text(), 'landed');
    assert.equal(same.url.pathname, '/landed');
    assert.equal(s.seen.at(-1)!.headers.authorization, 'Bearer same-origin-token');

    const away = await c.request({
      method: 'GET',
      url: `${s.origin}/cross`,
      headers,
      followRedirects: 2,
      credentialHeaders: ['X-Vault-Token'],
    });
    assert.equal(away.text(), 'elsewhere /away');
    assert.equal(away.url.origin, other.origin);
    const arrived = other.seen.at(-1)!;
    assert.equal(arrived.headers.authorization, undefined, 'Authorization must not cross origins');
    assert.equal(arrived.headers['x-vault-token'], undefined);
    assert.equal(arrived.headers['x-trace'], 'keep');
  });

  it('bounds the number of redirects', async () => {
    let hops = 0;
    const loop = await serve((_req, res) => {
      hops++;
      res.writeHead(302, { location: `/again${hops}` });
      res.end();
    });
    const f = await failure(client().request({ method: 'GET', url: `${loop.origin}/`, followRedirects: 3 }));
    assert.equal(f.kind, 'too-many-redirects');
    assert.equal(hops, 4, 'the first answer and three followed redirects');
  });

  it('turns a 303 after a POST into a GET without the body', async () => {
    const s = await serve((req, res) => {
      if (req.url === '/form') res.writeHead(303, { location: '/result' }).end();
      else res.end(`${req.method} ${req.url}`);
    });
    const res = await client().request({ method: 'POST', url: `${s.origin}/form`, body: 'a=1', followRedirects: 1 });
    assert.equal(res.text(), 'GET /result');
    assert.equal(s.seen.at(-1)!.body, '');
  });
});

describe('OutboundClient: TLS per target', () => {
  let pki: TestPki;
  let secure: Served;

  before(async () => {
    pki = await getTestPki();
    secure = await serve((_req, res) => res.end('over tls'), { tls: pki });
  });

  it('refuses a certificate from a CA it was not given', async () => {
    const f = await failure(client().request({ method: 'GET', url: `${secure.origin}/` }));
    assert.equal(f.kind, 'tls-untrusted');
    assert.ok(f.code, 'the verification error code is kept');
  });

  it("trusts the target's own CA bundle", async () => {
    const res = await client({ caPem: pki.caPem }).request({ method: 'GET', url: `${secure.origin}/` });
    assert.equal(res.text(), 'over tls');
  });

  it('skips verification only for a target configured insecure', async () => {
    const res = await client({ insecure: true }).request({ method: 'GET', url: `${secure.origin}/` });
    assert.equal(res.text(), 'over tls');
  });

  it('never follows a redirect from https down to plain http', async () => {
    const plain = await serve((_req, res) => res.end('plain'));
    const downgrade = await serve(
      (_req, res) => {
        res.writeHead(302, { location: `${plain.origin}/` });
        res.end();
      },
      { tls: pki },
    );
    const f = await failure(
      client({ caPem: pki.caPem }).request({ method: 'GET', url: `${downgrade.origin}/`, followRedirects: 3 }),
    );
    assert.equal(f.kind, 'redirect-refused');
    assert.equal(plain.seen.length, 0);
  });
});

describe('isLoopbackHostname', () => {
  it('accepts only names that cannot leave this machine', () => {
    for (const h of ['localhost', '127.0.0.1', '127.8.9.10', '[::1]', '::1']) assert.ok(isLoopbackHostname(h), h);
    for (const h of ['vault.internal', 'app.localhost', '10.0.0.1', '[::2]', '128.0.0.1', 'localhost.example.com'])
      assert.ok(!isLoopbackHostname(h), h);
  });
});
