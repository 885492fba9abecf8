/**
 * Versioned migrations, applied in order when a store opens. Each migration is written once
 * with Kysely's schema builder and compiled for the engine at hand.
 *
 * The `sluice_migrations` table records each applied version with a checksum: SHA-256 of the
 * SQL the migration compiles to on that engine (statements and parameters), so reformatting
 * or commenting a migration file changes nothing while editing an applied migration's schema
 * is refused at start instead of silently diverging from databases migrated earlier.
 *
 * All pending migrations run in one transaction (both engines have transactional DDL: a
 * failed migration leaves nothing half-applied). Concurrent starts are serialised: on
 * PostgreSQL by a transaction-scoped advisory lock keyed by the schema, on SQLite by BEGIN
 * IMMEDIATE. The second starter waits, then finds nothing left to do.
 */
import { createHash } from 'node:crypto';
import { Kysely, PostgresAdapter, PostgresQueryCompiler, SqliteAdapter, SqliteQueryCompiler, sql } from 'kysely';
import type { CompiledQuery, DatabaseConnection, Dialect, Driver, QueryResult } from 'kysely';
import { SluiceError } from '../errors.ts';
import type { Tables } from './schema.ts';

export type Engine = 'sqlite' | 'postgres';

export interface Migration {
  version: number;
  name: string;
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  up(db: Kysely<any>): Promise<void>;
}

export interface MigrateOptions {
  engine: Engine;
  /** For messages: `sqlite:PATH` or `user@host:port/db`. */
  target: string;
  /** PostgreSQL schema to create and to key the advisory lock by. */
  schema?: string;
  now: () => number;
}

export interface MigrateResult {
  applied: number[];
  current: number;
}

class RecordingConnection implements DatabaseConnection {
  readonly statements: string[] = [];
  async executeQuery<R>(query: CompiledQuery): Promise<QueryResult<R>> {
    this.statements.push(JSON.stringify([query.sql, query.parameters]));
    return { rows: [] };
  }
  // eslint-disable-next-line require-yield
  async *streamQuery<R>(): AsyncIterableIterator<QueryResult<R>> {
    throw new Error('not supported while computing checksums');
  }
}

class RecordingDriver implements Driver {
  readonly connection = new RecordingConnection();
  async init(): Promise<void> {}
  async acquireConnection(): Promise<DatabaseConnection> {
    return this.connection;
  }
  async beginTransaction(): Promise<void> {}
  async commitTransaction(): Promise<void> {}
  async rollbackTransaction(): Promise<void> {}
  async releaseConnection(): Promise<void> {}
  async destroy(): Promise<void> {}
}

/** SHA-256 over the statements `migration.up` issues on `engine`, without touching a database. */
export async function migrationChecksum(migration: Migration, engine: Engine): Promise<string> {
  const driver = new RecordingDriver();
  const dialect: Dialect = {
    createDriver: () => driver,
    createAdapter: () => (engine === 'sqlite' ? new SqliteAdapter() : new PostgresAdapter()),
    createQueryCompiler: () => (engine === 'sqlite' ? new SqliteQueryCompiler() : new PostgresQueryCompiler()),
    createIntrospector: () => {
      throw new Error('not supported while computing checksums');
    },
  };
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  const recorder = new Kysely<any>({ dialect });
  await migration.up(recorder);
  await recorder.destroy();
  return createHash('sha256').update(driver.connection.statements.join('\n')).digest('hex');
}

function checkList(migrations: readonly Migration[]): void {
  migrations.forEach((m, i) => {
    if (m.version !== i + 1) {
      throw new SluiceError(
        'STORE_MIGRATION_LIST',
        'internal',
        `migration list is not contiguous: entry ${i + 1} has version ${m.version}`,
      );
    }
  });
}

const pad = (v: number): string => String(v).padStart(4, '0');

export async function migrate(
  db: Kysely<Tables>,
  migrations: readonly Migration[],
  options: MigrateOptions,
): Promise<MigrateResult> {
  checkList(migrations);
  const checksums = await Promise.all(migrations.map((m) => migrationChecksum(m, options.engine)));
  return db.transaction().execute(async (trx) => {
    if (options.engine === 'postgres') {
      const key = options.schema ?? '';
      await sql`select pg_advisory_xact_lock(hashtext('sluice.migrate'), hashtext(${key}))`.execute(trx);
      if (options.schema !== undefined) await trx.schema.createSchema(options.schema).ifNotExists().execute();
    }
    await trx.schema
      .createTable('sluice_migrations')
      .ifNotExists()
      .addColumn('version', 'integer', (c) => c.primaryKey())
      .addColumn('name', 'text', (c) => c.notNull())
      .addColumn('checksum', 'text', (c) => c.notNull())
      .addColumn('applied_at', 'bigint', (c) => c.notNull())
      .execute();
    const applied = await trx.selectFrom('sluice_migrations').selectAll().orderBy('version').execute();
    const known = migrations.length;
    const newer = applied.filter((a) => a.version > known);
    if (newer.length > 0) {
      const latest = newer[newer.length - 1]!;
      throw new SluiceError(
        'STORE_SCHEMA_NEWER',
        'conflict',
        `database ${options.target} is at migration ${pad(latest.version)} (${latest.name}), newer than this ` +
          `Sluice knows (up to ${pad(known)}): it was upgraded by a newer Sluice. Run that version, or restore a ` +
          `backup taken before the upgrade.`,
        { operation: 'store.migrate', database: options.target, databaseVersion: latest.version, codeVersion: known },
      );
    }
    for (const a of applied) {
      const expected = checksums[a.version - 1]!;
      if (a.checksum !== expected) {
        throw new SluiceError(
          'STORE_MIGRATION_MODIFIED',
          'conflict',
          `database ${options.target}: migration ${pad(a.version)} (${a.name}) was applied with checksum ` +
            `${a.checksum.slice(0, 12)}…, but the code's version of it is ${expected.slice(0, 12)}…: an applied ` +
            `migration was edited. Restore it and add a new migration instead.`,
          { operation: 'store.migrate', database: options.target, version: a.version },
        );
      }
    }
    const appliedVersions = new Set(applied.map((a) => a.version));
    const gaps = migrations.filter(
      (m) => !appliedVersions.has(m.version) && applied.some((a) => a.version > m.version),
    );
    if (gaps.length > 0) {
      throw new SluiceError(
        'STORE_MIGRATION_GAP',
        'conflict',
        `database ${options.target}: migration ${pad(gaps[0]!.version)} was never applied although later ones were`,
        { operation: 'store.migrate', database: options.target, version: gaps[0]!.version },
      );
    }
    const done: number[] = [];
    for (const m of migrations) {
      if (appliedVersions.has(m.version)) continue;
      try {
        await m.up(trx);
      } catch (err) {
        if (err instanceof SluiceError) throw err;
        throw new SluiceError(
          'STORE_MIGRATION_FAILED',
          'internal',
          `database ${options.target}: migration ${pad(m.version)} (${m.name}) failed: ${err instanceof Error ? err.message : String(err)}`,
          { operation: 'store.migrate', database: options.target, version: m.version },
          err,
        );
      }
      await trx
        .insertInto('sluice_migrations')
        .values({ version: m.version, name: m.name, checksum: checksums[m.version - 1]!, applied_at: options.now() })
        .execute();
      done.push(m.version);
    }
    return { applied: done, current: known };
  });
}
