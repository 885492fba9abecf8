/**
 * A loopback HTTP server that records every request (method, path, headers, raw body) and
 * answers with whatever the test's handler returns, so adapter tests can replay a vendor's
 * documented responses and assert exactly what was sent.
 */
import http, { type IncomingHttpHeaders, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface Received {
  method: string;
  /** Path and query as sent. */
  url: string;
  headers: IncomingHttpHeaders;
  /** The body bytes as received, decoded as UTF-8. */
  body: string;
}

export interface Reply {
  status: number;
  headers?: Record<string, string>;
  body?: string;
}

/** `hang` never answers (for timeouts); `reset` destroys the connection (a network error). */
export type Answer = Reply | 'hang' | 'reset';

export interface FakeServer {
  /** `http://127.0.0.1:<port>` */
  origin: string;
  readonly received: Received[];
  close(): Promise<void>;
}

export async function startFakeServer(
  handler: (req: Received, index: number) => Answer | Promise<Answer>,
): Promise<FakeServer> {
  const received: Received[] = [];
  const open = new Set<ServerResponse>();
  const server = http.createServer((req: IncomingMessage, res: ServerResponse) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const rec: Received = {
        method: req.method ?? '',
        url: req.url ?? '',
        headers: req.headers,
        body: Buffer.concat(chunks).toString('utf8'),
      };
      received.push(rec);
      void Promise.resolve(handler(rec, received.length - 1)).then((answer) => {
        if (answer === 'hang') {
          open.add(res);
          return;
        }
        if (answer === 'reset') {
          req.socket.destroy();
          return;
        }
        res.writeHead(answer.status, answer.headers ?? {});
        res.end(answer.body ?? '');
      });
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const { port } = server.address() as AddressInfo;
  return {
    origin: `http://127.0.0.1:${port}`,
    received,
    close: () =>
      new Promise<void>((resolve) => {
        for (const res of open) res.destroy();
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/** A loopback port nothing listens on (bound, then released). */
export async function closedPortOrigin(): Promise<string> {
  const server = http.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return `http://127.0.0.1:${port}`;
}
