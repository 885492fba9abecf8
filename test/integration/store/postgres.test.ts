import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { createServer, connect } from 'node:net';
import type { Server, Socket } from 'node:net';
import { after } from 'node:test';
import { exitCodeFor, isSluiceError } from '../../../src/errors.ts';
import type { SluiceError } from '../../../src/errors.ts';
import { MIGRATIONS, openStore } from '../../../src/store/index.ts';
import type { Store } from '../../../src/store/index.ts';
import { POSTGRES_BASE_URL, createTestDatabase, pgAdmin, postgresTest, withParams } from '../../helpers/db.ts';
import type { TestDatabase } from '../../helpers/db.ts';

const cleanups: Array<() => Promise<void>> = [];
after(async () => {
  for (const c of cleanups.reverse()) await c();
});

async function freshDatabase(): Promise<TestDatabase> {
  const db = await createTestDatabase('postgres');
  cleanups.push(() => db.cleanup());
  return db;
}

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

function assertUnavailable(err: unknown, ...mentions: RegExp[]): asserts err is SluiceError {
  assert.ok(isSluiceError(err, 'STORE_UNAVAILABLE'), `expected STORE_UNAVAILABLE, got ${String(err)}`);
  assert.equal(err.category, 'unavailable');
  assert.equal(exitCodeFor(err.category), 1);
  for (const m of mentions) assert.match(err.message, m);
}

/** For assert.rejects, whose validators must return true. */
function unavailable(...mentions: RegExp[]): (err: unknown) => true {
  return (err) => {
    assertUnavailable(err, ...mentions);
    return true;
  };
}

/** A TCP relay in front of the real server, so a test can take "the database" away and back. */
class Relay {
  readonly port: number;
  #server: Server | undefined;
  readonly #sockets = new Set<Socket>();

  constructor(port: number) {
    this.port = port;
  }

  async start(): Promise<void> {
    const upstream = new URL(POSTGRES_BASE_URL);
    this.#server = createServer((client) => {
      const server = connect(Number(upstream.port || 5432), upstream.hostname);
      for (const s of [client, server]) {
        this.#sockets.add(s);
        s.on('close', () => this.#sockets.delete(s));
        s.on('error', () => {});
      }
      client.pipe(server).pipe(client);
      client.on('close', () => server.destroy());
      server.on('close', () => client.destroy());
    });
    await new Promise<void>((resolve) => this.#server!.listen(this.port, '127.0.0.1', resolve));
  }

  async stop(): Promise<void> {
    for (const s of this.#sockets) s.destroy();
    await new Promise<void>((resolve) => this.#server?.close(() => resolve()) ?? resolve());
    this.#server = undefined;
  }
}

postgresTest(
  'an unreachable server at start fails with a clear error naming host:port, never the password',
  async () => {
    const port = await freePort();
    const started = Date.now();
    await assert.rejects(openStore({ url: `postgres://sluice:hunter2@127.0.0.1:${port}/test` }), (err) => {
      assertUnavailable(err, new RegExp(`sluice@127\\.0\\.0\\.1:${port}/test`), /connection refused/);
      assert.doesNotMatch(err.message, /hunter2/);
      assert.doesNotMatch(JSON.stringify(err.toJSON()), /hunter2/);
      return true;
    });
    assert.ok(Date.now() - started < 5000, 'a refused connection must fail fast, not wait for a timeout');
  },
);

postgresTest('an unknown database and an unknown role are reported as unavailable', async () => {
  const noDb = withParams(POSTGRES_BASE_URL.replace(/\/test(\?|$)/, '/no_such_db_for_sluice$1'), {});
  await assert.rejects(openStore({ url: noDb }), unavailable(/no_such_db_for_sluice/, /does not exist/));
  const u = new URL(POSTGRES_BASE_URL);
  u.username = 'no_such_role_for_sluice';
  u.password = 's3cret-pw';
  await assert.rejects(openStore({ url: u.toString() }), (err) => {
    assertUnavailable(err, /authentication failed/);
    assert.doesNotMatch(err.message, /s3cret-pw/);
    return true;
  });
});

postgresTest('a malformed schema parameter is refused before connecting', async () => {
  await assert.rejects(openStore({ url: withParams(POSTGRES_BASE_URL, { schema: 'x; drop table y' }) }), (err) => {
    assert.ok(isSluiceError(err, 'STORE_URL_INVALID'));
    assert.equal(err.category, 'invalid-input');
    return true;
  });
});

postgresTest('the schema parameter creates the schema and confines every table to it', async () => {
  const db = await freshDatabase();
  const store = await openStore({ url: db.url });
  try {
    const tables = await pgAdmin<{ table_name: string }>(
      `select table_name from information_schema.tables where table_schema = $1`,
      [db.name],
    );
    assert.ok(tables.some((t) => t.table_name === 'audit_log'));
    const leaked = await pgAdmin(
      `select 1 from information_schema.tables where table_schema = 'public' and table_name = 'audit_head'`,
    );
    assert.equal(leaked.length, 0);
  } finally {
    await store.close();
  }
});

postgresTest('replicas starting together migrate once, serialised by the advisory lock', async () => {
  const db = await freshDatabase();
  const stores = await Promise.all([1, 2, 3, 4].map(() => openStore({ url: db.url })));
  try {
    const applied = stores.map((s) => s.migration.applied.length).sort();
    assert.deepEqual(applied, [0, 0, 0, MIGRATIONS.length], 'exactly one replica applies the migrations');
    const rows = await pgAdmin(`select version from "${db.name}".sluice_migrations order by version`);
    assert.deepEqual(
      rows.map((r) => r.version),
      MIGRATIONS.map((m) => m.version),
    );
  } finally {
    for (const s of stores) await s.close();
  }
});

async function terminate(appName: string): Promise<number> {
  const rows = await pgAdmin<{ ok: boolean }>(
    `select pg_terminate_backend(pid) as ok from pg_stat_activity where application_name = $1`,
    [appName],
  );
  return rows.filter((r) => r.ok).length;
}

async function waitForNoBackends(appName: string): Promise<void> {
  for (let i = 0; i < 100; i++) {
    const rows = await pgAdmin(`select 1 from pg_stat_activity where application_name = $1`, [appName]);
    if (rows.length === 0) return;
    await new Promise((r) => setTimeout(r, 20));
  }
}

postgresTest('connections killed mid-run fail their requests cleanly and the pool recovers by itself', async () => {
  const db = await freshDatabase();
  const appName = `sluice_test_${randomBytes(4).toString('hex')}`;
  const store: Store = await openStore({ url: withParams(db.url, { application_name: appName }) });
  try {
    // A transaction in flight when its backend dies: the next statement fails, nothing commits.
    await assert.rejects(
      store.transaction(async (tx) => {
        await tx.db.insertInto('registries').values({ name: 'lost', url: 'u', kind: 'k', created_at: 1 }).execute();
        assert.ok((await terminate(appName)) >= 1);
        await waitForNoBackends(appName);
        await tx.db.insertInto('registries').values({ name: 'lost2', url: 'u', kind: 'k', created_at: 1 }).execute();
      }),
      unavailable(/terminated|connection lost/),
    );
    await store.ping();
    assert.equal((await store.db.selectFrom('registries').selectAll().execute()).length, 0);

    // Idle pooled connections killed under a burst of requests: each request either works or
    // fails with STORE_UNAVAILABLE, and the next burst works entirely.
    await Promise.all(Array.from({ length: 8 }, () => store.ping()));
    assert.ok((await terminate(appName)) >= 1);
    await waitForNoBackends(appName);
    const burst = await Promise.allSettled(Array.from({ length: 8 }, () => store.ping()));
    for (const r of burst) if (r.status === 'rejected') assertUnavailable(r.reason);
    const after = await Promise.allSettled(Array.from({ length: 8 }, () => store.ping()));
    assert.deepEqual(
      after.map((r) => r.status),
      Array(8).fill('fulfilled'),
    );
  } finally {
    await store.close();
  }
});

postgresTest('a database that goes away fails requests and they succeed again once it returns', async () => {
  const db = await freshDatabase();
  const relay = new Relay(await freePort());
  await relay.start();
  const viaRelay = new URL(db.url);
  viaRelay.host = `127.0.0.1:${relay.port}`;
  const store = await openStore({ url: withParams(viaRelay.toString(), { connect_timeout: '2' }) });
  try {
    await store.db.insertInto('registries').values({ name: 'before', url: 'u', kind: 'k', created_at: 1 }).execute();
    await relay.stop();
    for (let i = 0; i < 3; i++) {
      await assert.rejects(
        store.db.selectFrom('registries').selectAll().execute(),
        unavailable(new RegExp(`127\\.0\\.0\\.1:${relay.port}`)),
      );
    }
    await relay.start();
    const rows = await store.db.selectFrom('registries').select('name').execute();
    assert.deepEqual(rows, [{ name: 'before' }]);
  } finally {
    await store.close();
    await relay.stop();
  }
});
