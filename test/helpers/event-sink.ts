/**
 * An HTTP endpoint that collects Distribution notification envelopes, so tests can check what
 * the registry reports (or configure a failing endpoint to exercise its retries).
 */
import http, { type IncomingHttpHeaders } from 'node:http';
import type { AddressInfo } from 'node:net';
import { sleep } from './proc.ts';

/** One event of a Distribution envelope (`{"events": [...]}`), fields as sent. */
export interface RegistryEvent {
  id: string;
  timestamp: string;
  action: 'push' | 'pull' | 'delete' | 'mount' | string;
  target: {
    mediaType?: string;
    digest?: string;
    size?: number;
    length?: number;
    repository: string;
    url?: string;
    tag?: string;
    references?: Array<{ mediaType: string; digest: string; size: number }>;
  };
  request?: { id: string; addr: string; host: string; method: string; useragent: string };
  actor?: { name?: string };
  source?: { addr: string; instanceID: string };
}

export interface EnvelopeRecord {
  headers: IncomingHttpHeaders;
  events: RegistryEvent[];
  /** Status the sink answered with. */
  status: number;
}

export interface EventSinkHandle {
  url: string;
  readonly envelopes: EnvelopeRecord[];
  /** All events received so far, in arrival order. */
  events(): RegistryEvent[];
  /** Resolves with the first event matching `predicate`, waiting up to `timeoutMs` (default 5 s). */
  waitFor(predicate: (event: RegistryEvent) => boolean, timeoutMs?: number): Promise<RegistryEvent>;
  /** Answers the next `count` deliveries with `status`, so the registry retries them. */
  failNext(count: number, status?: number): void;
  reset(): void;
  close(): Promise<void>;
}

/** Starts an event sink on a random loopback port; pass its `url` in `notifications`. */
export async function startEventSink(): Promise<EventSinkHandle> {
  const envelopes: EnvelopeRecord[] = [];
  let failures = { count: 0, status: 500 };
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      let events: RegistryEvent[] = [];
      try {
        events = (JSON.parse(Buffer.concat(chunks).toString('utf8')) as { events?: RegistryEvent[] }).events ?? [];
      } catch {
        // Recorded with no events; a test asserting on content will notice.
      }
      let status = 200;
      if (failures.count > 0) {
        failures.count--;
        status = failures.status;
      }
      envelopes.push({ headers: req.headers, events, status });
      res.writeHead(status, { 'content-length': 0 });
      res.end();
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  server.unref();
  const { port } = server.address() as AddressInfo;
  // Only deliveries the sink accepted count as received, as they would for a real receiver.
  const accepted = (): RegistryEvent[] => envelopes.filter((e) => e.status < 300).flatMap((e) => e.events);

  return {
    url: `http://127.0.0.1:${port}/events`,
    envelopes,
    events: accepted,
    async waitFor(predicate, timeoutMs = 5000) {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        const found = accepted().find(predicate);
        if (found) return found;
        if (Date.now() > deadline) {
          const seen = accepted().map((e) => `${e.action} ${e.target.repository}:${e.target.tag ?? e.target.digest}`);
          throw new Error(`no matching registry event within ${timeoutMs} ms; saw: ${seen.join(', ') || 'none'}`);
        }
        await sleep(20);
      }
    },
    failNext: (count, status = 500) => {
      failures = { count, status };
    },
    reset: () => {
      envelopes.length = 0;
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
