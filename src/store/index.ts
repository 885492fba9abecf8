/**
 * The data layer: one typed Kysely API over SQLite (embedded default, nothing to install) and
 * PostgreSQL (for several replicas). `openStore` connects, runs pending migrations and
 * returns a `Store`; a database that cannot be reached fails here with STORE_UNAVAILABLE,
 * which the CLI turns into a clear message and exit code 1.
 *
 * Functions that may run either on their own or inside a caller's transaction take a
 * `StoreHandle`; inside `store.transaction(fn)`, use `tx.db` only: on SQLite the single
 * connection belongs to the transaction, and a query on `store.db` would wait for it forever.
 */
import { isAbsolute, join, resolve } from 'node:path';
import { HandleEmptyInListsPlugin, Kysely, replaceWithNoncontingentExpression, sql } from 'kysely';
import type { Transaction } from 'kysely';
import { SluiceError } from '../errors.ts';
import { migrate } from './migrate.ts';
import type { Engine, Migration, MigrateResult } from './migrate.ts';
import { MIGRATIONS } from './migrations/index.ts';
import { PgDialect, createPool, parsePostgresUrl } from './postgres.ts';
import { NodeSqliteDialect } from './sqlite.ts';
import type { Tables } from './schema.ts';

export type { Engine, Migration, MigrateResult } from './migrate.ts';
export type * from './schema.ts';
export { MIGRATIONS } from './migrations/index.ts';
export { storableText } from './values.ts';

export interface OpenStoreOptions {
  /** `sqlite:PATH`, `postgres://…` / `postgresql://…`; undefined means SQLite under dataDir. */
  url?: string;
  /** Base directory of the default SQLite file `.sluice/sluice.db` and of relative SQLite paths. Default: cwd. */
  dataDir?: string;
  clock?: () => Date;
  /** Replaces the built-in migration list (tests of the migration runner). */
  migrations?: readonly Migration[];
  /** SQLite: how long to wait for another process's write lock. Default 5000 ms. */
  busyTimeoutMs?: number;
}

/** What functions need to run queries, inside or outside a transaction. */
export interface StoreHandle {
  readonly engine: Engine;
  readonly db: Kysely<Tables>;
  readonly clock: () => Date;
  /** `sqlite:PATH` or `user@host:port/db`: for messages, never carries a password. */
  readonly target: string;
}

export interface StoreTx extends StoreHandle {
  readonly db: Transaction<Tables>;
  readonly inTransaction: true;
  /** Runs `fn` once the transaction has committed (never if it rolls back). */
  afterCommit(fn: () => void): void;
}

export interface TransactionOptions {
  /** SQLite: take no write lock up front. PostgreSQL: READ ONLY. */
  readOnly?: boolean;
}

export interface Store extends StoreHandle {
  readonly migration: MigrateResult;
  transaction<T>(fn: (tx: StoreTx) => Promise<T>, options?: TransactionOptions): Promise<T>;
  /** Throws STORE_UNAVAILABLE when the database does not answer. */
  ping(): Promise<void>;
  close(): Promise<void>;
}

export function isStoreTx(h: StoreHandle): h is StoreTx {
  return (h as Partial<StoreTx>).inTransaction === true;
}

/** Runs `fn` in `h`'s transaction when it is one, else in a new transaction of the store. */
export async function inTransaction<T>(h: Store | StoreTx, fn: (tx: StoreTx) => Promise<T>): Promise<T> {
  return isStoreTx(h) ? fn(h) : h.transaction(fn);
}

interface Resolved {
  engine: Engine;
  target: string;
  dialect: NodeSqliteDialect | PgDialect;
  schema?: string;
}

function resolveUrl(options: OpenStoreOptions): Resolved {
  const base = options.dataDir ?? process.cwd();
  const url = options.url ?? '';
  if (url === '' || url.startsWith('sqlite:')) {
    let path = url === '' ? join(base, '.sluice', 'sluice.db') : url.slice('sqlite:'.length).replace(/^\/\/(?=\/)/, '');
    if (path === '') {
      throw new SluiceError('STORE_URL_INVALID', 'invalid-input', 'database URL "sqlite:" names no file', {
        operation: 'store.open',
      });
    }
    if (path !== ':memory:' && !isAbsolute(path)) path = resolve(base, path);
    const dialect = new NodeSqliteDialect({ path, busyTimeoutMs: options.busyTimeoutMs });
    return { engine: 'sqlite', target: `sqlite:${path}`, dialect };
  }
  if (url.startsWith('postgres://') || url.startsWith('postgresql://')) {
    const pgTarget = parsePostgresUrl(url);
    const dialect = new PgDialect(createPool(pgTarget), pgTarget.display);
    return { engine: 'postgres', target: pgTarget.display, dialect, schema: pgTarget.schema };
  }
  // Only the scheme: the rest may hold a password.
  const scheme = /^[a-z][a-z0-9+.-]*:/i.exec(url)?.[0] ?? '(none)';
  throw new SluiceError(
    'STORE_URL_INVALID',
    'invalid-input',
    `database URL scheme ${scheme} is not supported; use sqlite:PATH or postgres://user@host:port/db`,
    { operation: 'store.open' },
  );
}

export async function openStore(options: OpenStoreOptions = {}): Promise<Store> {
  const resolved = resolveUrl(options);
  const clock = options.clock ?? (() => new Date());
  const db = new Kysely<Tables>({
    dialect: resolved.dialect,
    // `x in ()` is false on SQLite and a syntax error on PostgreSQL; `1 = 0` means the same on
    // both, so a caller never needs a sentinel value (or a special case) for an empty list.
    plugins: [new HandleEmptyInListsPlugin({ strategy: replaceWithNoncontingentExpression })],
  });
  let migration: MigrateResult;
  try {
    migration = await migrate(db, options.migrations ?? MIGRATIONS, {
      engine: resolved.engine,
      target: resolved.target,
      schema: resolved.schema,
      now: () => clock().getTime(),
    });
  } catch (err) {
    await db.destroy().catch(() => {});
    throw err;
  }
  return new KyselyStore(db, resolved.engine, resolved.target, clock, migration);
}

class KyselyStore implements Store {
  readonly db: Kysely<Tables>;
  readonly engine: Engine;
  readonly target: string;
  readonly clock: () => Date;
  readonly migration: MigrateResult;
  #closed = false;

  constructor(db: Kysely<Tables>, engine: Engine, target: string, clock: () => Date, migration: MigrateResult) {
    this.db = db;
    this.engine = engine;
    this.target = target;
    this.clock = clock;
    this.migration = migration;
  }

  async transaction<T>(fn: (tx: StoreTx) => Promise<T>, options: TransactionOptions = {}): Promise<T> {
    const after: Array<() => void> = [];
    let builder = this.db.transaction();
    if (options.readOnly) builder = builder.setAccessMode('read only');
    const result = await builder.execute((trx) =>
      fn({
        engine: this.engine,
        db: trx,
        clock: this.clock,
        target: this.target,
        inTransaction: true,
        afterCommit: (f) => {
          after.push(f);
        },
      }),
    );
    for (const f of after) {
      try {
        f();
      } catch {
        // The transaction is committed; a failing follower (a log forwarder) must not turn
        // that success into an error the caller would retry.
      }
    }
    return result;
  }

  async ping(): Promise<void> {
    await sql`select 1`.execute(this.db);
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    await this.db.destroy();
  }
}
export { registerJob, tryAcquireLease, renewLease, releaseLease, dueJobs } from './leases.ts';
export type { JobDefinition, LeaseRelease, JobRow } from './leases.ts';
