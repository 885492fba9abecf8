/**
 * Runs storage tests on both engines: SQLite in a fresh temporary file, PostgreSQL
 * (127.0.0.1:5432, database `test`, or SLUICE_TEST_DATABASE_URL) in a fresh random schema
 * that is dropped afterwards. PostgreSQL is skipped only when SLUICE_TEST_POSTGRES=0; when it
 * is expected but down, the tests fail rather than pass unnoticed.
 */
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import type { TestContext } from 'node:test';
import pg from 'pg';
import { openStore } from '../../src/store/index.ts';
import type { Engine, OpenStoreOptions, Store } from '../../src/store/index.ts';

export const POSTGRES_BASE_URL = process.env.SLUICE_TEST_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test';
export const POSTGRES_DISABLED = process.env.SLUICE_TEST_POSTGRES === '0';
export const POSTGRES_SKIP_MESSAGE = 'PostgreSQL tests disabled by SLUICE_TEST_POSTGRES=0';

export const ENGINES: readonly Engine[] = ['sqlite', 'postgres'];

export interface TestDatabase {
  engine: Engine;
  /** What `openStore({ url })` takes. */
  url: string;
  /** PostgreSQL: the schema name. SQLite: the database file. */
  name: string;
  /** Removes the file or drops the schema. */
  cleanup(): Promise<void>;
}

function randomName(): string {
  return `t_${randomBytes(6).toString('hex')}`;
}

/** Appends query parameters to a postgres URL. */
export function withParams(url: string, params: Record<string, string>): string {
  const u = new URL(url);
  for (const [k, v] of Object.entries(params)) u.searchParams.set(k, v);
  return u.toString();
}

/** Runs one statement on the test PostgreSQL server outside any store (admin work in tests). */
export async function pgAdmin<R extends pg.QueryResultRow = pg.QueryResultRow>(
  text: string,
  values: unknown[] = [],
): Promise<R[]> {
  const client = new pg.Client({ connectionString: POSTGRES_BASE_URL });
  await client.connect();
  try {
    return (await client.query<R>(text, values)).rows;
  } finally {
    await client.end();
  }
}

export async function createTestDatabase(engine: Engine): Promise<TestDatabase> {
  if (engine === 'sqlite') {
    const dir = mkdtempSync(join(tmpdir(), 'sluice-store-'));
    const file = join(dir, 'sluice.db');
    return {
      engine,
      url: `sqlite:${file}`,
      name: file,
      cleanup: async () => rmSync(dir, { recursive: true, force: true }),
    };
  }
  const schema = randomName();
  return {
    engine,
    url: withParams(POSTGRES_BASE_URL, { schema }),
    name: schema,
    cleanup: async () => {
      await pgAdmin(`drop schema if exists "${schema}" cascade`);
    },
  };
}

export interface EngineContext {
  engine: Engine;
  store: Store;
  db: TestDatabase;
  /** Opens another store on the same database (a second replica). Closed after the test. */
  reopen(options?: Omit<OpenStoreOptions, 'url'>): Promise<Store>;
}

/** Runs `fn` with a fresh store on a fresh database of `engine`, and cleans up after. */
export async function withStore<T>(
  engine: Engine,
  fn: (ctx: EngineContext) => Promise<T>,
  options: Omit<OpenStoreOptions, 'url'> = {},
): Promise<T> {
  const db = await createTestDatabase(engine);
  const extra: Store[] = [];
  let store: Store | undefined;
  try {
    store = await openStore({ ...options, url: db.url });
    const opened = store;
    return await fn({
      engine,
      store: opened,
      db,
      reopen: async (o = {}) => {
        const s = await openStore({ ...o, url: db.url });
        extra.push(s);
        return s;
      },
    });
  } finally {
    for (const s of extra) await s.close();
    await store?.close();
    await db.cleanup();
  }
}

/** Runs `fn` once per enabled engine, one after the other, each with a fresh database. */
export async function withStores(
  fn: (ctx: EngineContext) => Promise<void>,
  options: Omit<OpenStoreOptions, 'url'> = {},
): Promise<void> {
  for (const engine of ENGINES) {
    if (engine === 'postgres' && POSTGRES_DISABLED) continue;
    await withStore(engine, fn, options);
  }
}

/**
 * Registers one `node:test` test per engine, named `<name> [sqlite]` and `<name> [postgres]`.
 * Each gets its own fresh database.
 */
export function forEachEngine(
  name: string,
  fn: (ctx: EngineContext & { t: TestContext }) => Promise<void>,
  options: Omit<OpenStoreOptions, 'url'> = {},
): void {
  for (const engine of ENGINES) {
    const title = `${name} [${engine}]`;
    if (engine === 'postgres' && POSTGRES_DISABLED) {
      test(title, { skip: POSTGRES_SKIP_MESSAGE }, () => {});
      continue;
    }
    test(title, (t) => withStore(engine, (ctx) => fn({ ...ctx, t }), options));
  }
}

/**
 * Registers one suite per engine, `<name> [sqlite]` and `<name> [postgres]`, for flows that run
 * through a workspace (CLI, server, runtime): `fn` declares the suite's hooks and tests and
 * passes `engine` to createWorkspace. The suites run one after the other, so fixtures that
 * neither changes (built images, a registry whose repositories each suite names apart) can be
 * set up once in a top-level `before` and shared.
 */
export function describeEachEngine(name: string, fn: (engine: Engine) => void): void {
  for (const engine of ENGINES) {
    const title = `${name} [${engine}]`;
    if (engine === 'postgres' && POSTGRES_DISABLED) {
      describe(title, { skip: POSTGRES_SKIP_MESSAGE }, () => {});
      continue;
    }
    describe(title, () => fn(engine));
  }
}

/** Registers a PostgreSQL-only test (replica concurrency, outages). */
export function postgresTest(name: string, fn: (t: TestContext) => Promise<void>): void {
  test(`${name} [postgres]`, POSTGRES_DISABLED ? { skip: POSTGRES_SKIP_MESSAGE } : {}, fn);
}
