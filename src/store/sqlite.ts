/**
 * Kysely dialect over Node's built-in `node:sqlite` (`DatabaseSync`). Kysely ships a SQLite
 * dialect written for better-sqlite3; its driver asks the statement whether it returns rows
 * (`stmt.reader`), which `StatementSync` lacks, and it starts every transaction with a plain
 * (deferred) BEGIN. A deferred transaction that reads and then writes fails with SQLITE_BUSY
 * without waiting when another process wrote in between, which is exactly the audit append
 * pattern (read the chain head, then insert), so this driver begins read-write transactions
 * with BEGIN IMMEDIATE: the write lock is taken up front and contenders wait out the busy
 * timeout instead. The query compiler, adapter and introspector are Kysely's own.
 *
 * One `DatabaseSync` is one connection, used by one query or transaction at a time (a mutex,
 * as in Kysely's driver). Calls are synchronous: a query blocks the event loop while it runs,
 * and while waiting for another process's write lock. Two stores on the same file in one
 * process would therefore wait on each other with the event loop blocked; open one store per
 * file per process.
 */
import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import type { SQLInputValue, StatementSync } from 'node:sqlite';
import { CompiledQuery, SqliteAdapter, SqliteIntrospector, SqliteQueryCompiler } from 'kysely';
import type {
  DatabaseConnection,
  DatabaseIntrospector,
  Dialect,
  DialectAdapter,
  Driver,
  Kysely,
  QueryCompiler,
  QueryResult,
  TransactionSettings,
} from 'kysely';
import { SluiceError } from '../errors.ts';
import { mapSqliteError } from './errors.ts';
import { storableParameters, type StorableValue } from './values.ts';

export interface SqliteOptions {
  /** File path, or `:memory:`. */
  path: string;
  /** How long to wait for another process's write lock before failing. */
  busyTimeoutMs?: number;
}

const STATEMENT_CACHE_SIZE = 200;

function toSqliteValue(v: StorableValue): SQLInputValue {
  return typeof v === 'boolean' ? (v ? 1 : 0) : v;
}

class SqliteConnection implements DatabaseConnection {
  readonly #db: DatabaseSync;
  readonly #target: string;
  readonly #cache = new Map<string, StatementSync>();

  constructor(db: DatabaseSync, target: string) {
    this.#db = db;
    this.#target = target;
  }

  #prepare(sql: string): StatementSync {
    let stmt = this.#cache.get(sql);
    if (stmt !== undefined) {
      // Re-insert to keep the Map's iteration order least-recently-used first.
      this.#cache.delete(sql);
      this.#cache.set(sql, stmt);
      return stmt;
    }
    stmt = this.#db.prepare(sql);
    this.#cache.set(sql, stmt);
    if (this.#cache.size > STATEMENT_CACHE_SIZE) {
      const oldest = this.#cache.keys().next().value;
      if (oldest !== undefined) this.#cache.delete(oldest);
    }
    return stmt;
  }

  async executeQuery<R>(compiledQuery: CompiledQuery): Promise<QueryResult<R>> {
    const params = storableParameters(compiledQuery.parameters, compiledQuery.sql, this.#target).map(toSqliteValue);
    try {
      const stmt = this.#prepare(compiledQuery.sql);
      if (stmt.columns().length > 0) {
        // node:sqlite returns null-prototype rows; plain objects compare equal to the pg rows.
        return { rows: stmt.all(...params).map((row) => ({ ...row })) as R[] };
      }
      const { changes, lastInsertRowid } = stmt.run(...params);
      return { numAffectedRows: BigInt(changes), insertId: BigInt(lastInsertRowid), rows: [] };
    } catch (err) {
      throw mapSqliteError(err, this.#target, 'query');
    }
  }

  // eslint-disable-next-line require-yield
  async *streamQuery<R>(): AsyncIterableIterator<QueryResult<R>> {
    // Iterating would hold the only connection for as long as the consumer is slow; callers
    // page with keyset queries instead, which behave the same on both engines.
    throw new SluiceError('STORE_UNSUPPORTED', 'internal', 'streaming queries are not supported; page with keyset');
  }

  exec(sql: string): void {
    try {
      this.#db.exec(sql);
    } catch (err) {
      throw mapSqliteError(err, this.#target, 'query');
    }
  }

  close(): void {
    this.#cache.clear();
    if (this.#db.isOpen) this.#db.close();
  }
}

class Mutex {
  #tail: Promise<void> = Promise.resolve();
  #release: (() => void) | undefined;

  async lock(): Promise<void> {
    const previous = this.#tail;
    let release!: () => void;
    this.#tail = new Promise<void>((resolve) => {
      release = resolve;
    });
    await previous;
    this.#release = release;
  }

  unlock(): void {
    const release = this.#release;
    this.#release = undefined;
    release?.();
  }
}

class NodeSqliteDriver implements Driver {
  readonly #options: SqliteOptions;
  readonly #target: string;
  readonly #mutex = new Mutex();
  #connection: SqliteConnection | undefined;

  constructor(options: SqliteOptions, target: string) {
    this.#options = options;
    this.#target = target;
  }

  async init(): Promise<void> {
    this.#connection = openSqlite(this.#options, this.#target);
  }

  async acquireConnection(): Promise<DatabaseConnection> {
    await this.#mutex.lock();
    if (this.#connection === undefined) {
      this.#mutex.unlock();
      throw new SluiceError('STORE_CLOSED', 'internal', `database ${this.#target} is closed`);
    }
    return this.#connection;
  }

  async beginTransaction(connection: DatabaseConnection, settings: TransactionSettings): Promise<void> {
    const mode = settings.accessMode === 'read only' ? 'deferred' : 'immediate';
    await connection.executeQuery(CompiledQuery.raw(`begin ${mode}`));
  }

  async commitTransaction(connection: DatabaseConnection): Promise<void> {
    await connection.executeQuery(CompiledQuery.raw('commit'));
  }

  async rollbackTransaction(connection: DatabaseConnection): Promise<void> {
    // SQLite rolls back on its own after some errors (SQLITE_FULL, IOERR); a failing ROLLBACK
    // must not replace the error that caused it.
    try {
      await connection.executeQuery(CompiledQuery.raw('rollback'));
    } catch {
      /* the original error is the one worth reporting */
    }
  }

  async releaseConnection(): Promise<void> {
    this.#mutex.unlock();
  }

  async destroy(): Promise<void> {
    this.#connection?.close();
    this.#connection = undefined;
  }
}

function openSqlite(options: SqliteOptions, target: string): SqliteConnection {
  let db: DatabaseSync;
  try {
    if (options.path !== ':memory:') mkdirSync(dirname(options.path), { recursive: true });
    db = new DatabaseSync(options.path, { enableForeignKeyConstraints: true });
  } catch (err) {
    const reason = err instanceof Error ? err.message : String(err);
    throw new SluiceError(
      'STORE_UNAVAILABLE',
      'unavailable',
      `database ${target} cannot be opened: ${reason}`,
      { operation: 'store.connect', database: target },
      err,
    );
  }
  const connection = new SqliteConnection(db, target);
  try {
    // busy_timeout first: switching to WAL itself needs a lock another process may hold.
    connection.exec(`pragma busy_timeout = ${Math.max(0, Math.trunc(options.busyTimeoutMs ?? 5000))}`);
    // WAL lets readers (the API, `audit ls`) run while a writer (sync, scheduler) commits.
    if (options.path !== ':memory:') connection.exec('pragma journal_mode = wal');
    // NORMAL is durable across application crashes in WAL mode; only power loss can drop the
    // last commits, and a re-sync restores inventory while the audit chain stays consistent.
    connection.exec('pragma synchronous = normal');
    connection.exec('pragma foreign_keys = on');
  } catch (err) {
    connection.close();
    throw err;
  }
  return connection;
}

export class NodeSqliteDialect implements Dialect {
  readonly #options: SqliteOptions;
  readonly #target: string;

  constructor(options: SqliteOptions) {
    this.#options = options;
    this.#target = `sqlite:${options.path}`;
  }

  createDriver(): Driver {
    return new NodeSqliteDriver(this.#options, this.#target);
  }

  createQueryCompiler(): QueryCompiler {
    return new SqliteQueryCompiler();
  }

  createAdapter(): DialectAdapter {
    return new SqliteAdapter();
  }

  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  createIntrospector(db: Kysely<any>): DatabaseIntrospector {
    return new SqliteIntrospector(db);
  }
}
