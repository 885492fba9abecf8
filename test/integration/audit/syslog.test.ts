import assert from 'node:assert/strict';
import { createServer } from 'node:net';
import type { Server, Socket } from 'node:net';
import { afterEach, test } from 'node:test';
import { GENESIS_HASH, SyslogForwarder, appendAudit } from '../../../src/audit/index.ts';
import type { AuditRecord } from '../../../src/audit/index.ts';
import { withStore } from '../../helpers/db.ts';

/**
 * A syslog collector on loopback that reads RFC 6587 octet-counted frames, like rsyslog's
 * imtcp or syslog-ng's network() source do.
 */
class Collector {
  readonly messages: string[] = [];
  port = 0;
  #server: Server | undefined;
  readonly #sockets = new Set<Socket>();
  #waiters: Array<() => void> = [];

  async start(port = 0): Promise<void> {
    this.#server = createServer((socket) => {
      this.#sockets.add(socket);
      socket.on('close', () => this.#sockets.delete(socket));
      socket.on('error', () => {});
      let buf = Buffer.alloc(0);
      socket.on('data', (chunk: Buffer) => {
        buf = Buffer.concat([buf, chunk]);
        for (;;) {
          const space = buf.indexOf(0x20);
          if (space < 0) return;
          const len = Number(buf.subarray(0, space).toString('ascii'));
          assert.ok(Number.isInteger(len) && len > 0, `bad frame length "${buf.subarray(0, space).toString()}"`);
          if (buf.length < space + 1 + len) return;
          this.messages.push(buf.subarray(space + 1, space + 1 + len).toString('utf8'));
          buf = buf.subarray(space + 1 + len);
          for (const w of this.#waiters.splice(0)) w();
        }
      });
    });
    await new Promise<void>((resolve) => this.#server!.listen(port, '127.0.0.1', resolve));
    this.port = (this.#server!.address() as { port: number }).port;
  }

  /** Stops like a crashed collector: the listener and every connection go away. */
  async stop(): Promise<void> {
    for (const s of this.#sockets) s.destroy();
    await new Promise<void>((resolve) => (this.#server ? this.#server.close(() => resolve()) : resolve()));
    this.#server = undefined;
  }

  async waitFor(count: number, timeoutMs = 10_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (this.messages.length < count) {
      const left = deadline - Date.now();
      assert.ok(left > 0, `collector got ${this.messages.length} of ${count} messages`);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, left);
        this.#waiters.push(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
  }
}

async function until(cond: () => boolean, what: string, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!cond()) {
    assert.ok(Date.now() < deadline, `timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

function sdParam(message: string, name: string): string | undefined {
  const m = new RegExp(` ${name}="((?:\\\\.|[^"\\\\])*)"`).exec(message);
  return m?.[1]?.replace(/\\(["\\\]])/g, '$1');
}

function record(seq: number, actor = 'alice'): AuditRecord {
  return {
    seq,
    time: new Date(Date.UTC(2025, 2, 1, 0, 0, seq)).toISOString(),
    actor,
    action: 'tag.create',
    repository: 'quay.example/team-dev/app',
    digest: null,
    tag: `1.0.${seq}`,
    reason: null,
    result: 'success',
    details: {},
    prevHash: GENESIS_HASH,
    hash: String(seq).padStart(64, '0'),
  };
}

const cleanup: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const c of cleanup.splice(0).reverse()) await c();
});

function forwarder(
  port: number,
  extra: Partial<ConstructorParameters<typeof SyslogForwarder>[0]> = {},
): SyslogForwarder {
  const f = new SyslogForwarder({
    host: '127.0.0.1',
    port,
    hostname: 'sluice-test',
    initialBackoffMs: 20,
    maxBackoffMs: 200,
    ...extra,
  });
  cleanup.push(() => f.close());
  return f;
}

async function collector(): Promise<Collector> {
  const c = new Collector();
  await c.start();
  cleanup.push(() => c.stop());
  return c;
}

test('committed audit records reach the collector as RFC 5424 messages with their fields', async () => {
  const c = await collector();
  const f = forwarder(c.port);
  await withStore('sqlite', async ({ store }) => {
    const sent: AuditRecord[] = [];
    for (let i = 0; i < 5; i++) {
      sent.push(
        await appendAudit(
          store,
          {
            actor: `user "${i}" [x]`,
            action: 'promotion',
            repository: 'quay.example/team-prod/app',
            result: 'success',
            reason: 'line1\nline2',
          },
          { sinks: [f] },
        ),
      );
    }
    await c.waitFor(5);
    assert.equal(await f.flush(), true);
    c.messages.forEach((m, i) => {
      assert.match(m, /^<110>1 \S+ sluice-test sluice \d+ promotion \[sluiceAudit@32473 /);
      assert.equal(sdParam(m, 'seq'), String(sent[i]!.seq));
      assert.equal(sdParam(m, 'actor'), sent[i]!.actor);
      assert.equal(sdParam(m, 'hash'), sent[i]!.hash);
      assert.equal(sdParam(m, 'reason'), 'line1\nline2', 'multi-line values survive octet-counting framing');
      assert.ok(m.includes(` ${sent[i]!.time} `));
    });
    assert.deepEqual(f.stats, { connected: true, queued: 0, sent: 5, dropped: 0, reconnects: 0 });
  });
});

test('records sent while the collector is down are delivered after it restarts', async () => {
  const c = await collector();
  const port = c.port;
  const f = forwarder(port);
  f.send(record(1));
  await c.waitFor(1);

  await c.stop();
  await until(() => !f.stats.connected, 'the forwarder to notice the collector is gone');
  for (let seq = 2; seq <= 4; seq++) f.send(record(seq));
  assert.equal(f.stats.queued, 3);
  // Several reconnect attempts fail while nothing listens.
  await new Promise((r) => setTimeout(r, 150));
  assert.ok(f.stats.reconnects >= 1);

  await c.start(port);
  await c.waitFor(4);
  assert.deepEqual(
    c.messages.map((m) => sdParam(m, 'seq')),
    ['1', '2', '3', '4'],
  );
  assert.equal(f.stats.dropped, 0);
  assert.equal(f.stats.connected, true);
  f.send(record(5));
  await c.waitFor(5);
});

test('a full queue drops the oldest records and counts them', async () => {
  const c = await collector();
  const port = c.port;
  await c.stop();
  const f = forwarder(port, { maxQueue: 5 });
  for (let seq = 1; seq <= 8; seq++) f.send(record(seq));
  assert.deepEqual({ queued: f.stats.queued, dropped: f.stats.dropped }, { queued: 5, dropped: 3 });
  assert.equal(await f.flush(50), false, 'nothing can be flushed without a collector');
  await c.start(port);
  await c.waitFor(5);
  assert.deepEqual(
    c.messages.map((m) => sdParam(m, 'seq')),
    ['4', '5', '6', '7', '8'],
  );
  assert.equal(await f.flush(), true);
  assert.equal(f.stats.sent, 5);
});

test('closing the forwarder stops reconnecting', async () => {
  const c = await collector();
  const port = c.port;
  await c.stop();
  const f = forwarder(port);
  await new Promise((r) => setTimeout(r, 60));
  await f.close();
  const attempts = f.stats.reconnects;
  await new Promise((r) => setTimeout(r, 300));
  assert.equal(f.stats.reconnects, attempts);
  f.send(record(1));
  assert.equal(f.stats.queued, 0, 'a closed forwarder accepts nothing');
});
