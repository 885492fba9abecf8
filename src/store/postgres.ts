/**
 * Kysely driver over a `pg` Pool. Kysely's own PostgresDriver is close, but it cannot tell
 * the pool that a connection died mid-transaction, and a failing ROLLBACK on a dead
 * connection replaces the error that explains what happened. This driver translates
 * connection failures into STORE_UNAVAILABLE, hands broken clients back to the pool as
 * broken (so they are discarded, not reused), and lets the pool open fresh connections when
 * the server is back: recovery needs nothing from the caller but a retry.
 */
import pg from 'pg';
import type { PoolClient, PoolConfig } from 'pg';
import { CompiledQuery, PostgresAdapter, PostgresIntrospector, PostgresQueryCompiler } from 'kysely';
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
import { isPgConnectionError, mapPgError } from './errors.ts';
import { storableParameters } from './values.ts';

export interface PostgresTarget {
  /** What `pg` gets: the caller's URL minus Sluice's own parameters. */
  connectionString: string;
  /** `user@host:port/db`, safe for messages. */
  display: string;
  /** Schema from `?schema=`, validated; undefined means the server's default search_path. */
  schema: string | undefined;
  poolMax: number;
  connectTimeoutMs: number;
}

const SCHEMA_NAME = /^[a-z_][a-z0-9_]{0,62}$/;
const INT8_OID = 20;

/** Parses `postgres://user:pass@host:port/db?schema=NAME&pool_max=N&connect_timeout=S`. */
export function parsePostgresUrl(url: string): PostgresTarget {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new SluiceError('STORE_URL_INVALID', 'invalid-input', 'database URL is not a valid postgres:// URL', {
      operation: 'store.open',
    });
  }
  const params = parsed.searchParams;
  const schema = params.get('schema') ?? undefined;
  if (schema !== undefined && !SCHEMA_NAME.test(schema)) {
    throw new SluiceError(
      'STORE_URL_INVALID',
      'invalid-input',
      `database URL: schema "${schema.slice(0, 80)}" must be a lower-case identifier ([a-z_][a-z0-9_]*, at most 63 characters)`,
      { operation: 'store.open' },
    );
  }
  const poolMax = positiveInt(params.get('pool_max'), 10, 'pool_max');
  // connect_timeout is libpq's parameter name (seconds); pg would ignore it, so it is honoured here.
  const connectTimeoutMs = positiveInt(params.get('connect_timeout'), 5, 'connect_timeout') * 1000;
  params.delete('schema');
  params.delete('pool_max');
  params.delete('connect_timeout');
  const host = parsed.hostname !== '' ? parsed.hostname : (params.get('host') ?? 'localhost');
  const port = parsed.port !== '' ? parsed.port : (params.get('port') ?? '5432');
  const database = decodeURIComponent(parsed.pathname.replace(/^\//, '')) || '(default)';
  const user = parsed.username !== '' ? `${decodeURIComponent(parsed.username)}@` : '';
  return {
    connectionString: parsed.toString(),
    display: `${user}${host}:${port}/${database}`,
    schema,
    poolMax,
    connectTimeoutMs,
  };
}

function positiveInt(raw: string | null, fallback: number, name: string): number {
  if (raw === null) return fallback;
  const n = Number(raw);
  if (!Number.isInteger(n) || n <= 0) {
    throw new SluiceError('STORE_URL_INVALID', 'invalid-input', `database URL: ${name} must be a positive integer`, {
      operation: 'store.open',
    });
  }
  return n;
}

function parseInt8(value: string): number {
  const n = Number(value);
  if (!Number.isSafeInteger(n)) {
    throw new SluiceError('STORE_VALUE_RANGE', 'internal', `bigint ${value} is beyond JavaScript's safe integer range`);
  }
  return n;
}

export function createPool(target: PostgresTarget): pg.Pool {
  const config: PoolConfig = {
    connectionString: target.connectionString,
    max: target.poolMax,
    connectionTimeoutMillis: target.connectTimeoutMs,
    idleTimeoutMillis: 30_000,
    // A server that vanishes without a reset (network partition) is noticed by keepalive
    // probes after about 10 s of silence instead of the kernel default of two hours.
    keepAlive: true,
    keepAliveInitialDelayMillis: 10_000,
    // Per pool rather than pg.types.setTypeParser, which would change every pg user in the process.
    types: {
      getTypeParser: ((oid: number, format?: 'text' | 'binary') =>
        oid === INT8_OID && format !== 'binary'
          ? parseInt8
          : pg.types.getTypeParser(oid, format ?? 'text')) as typeof pg.types.getTypeParser,
    },
  };
  // A startup parameter applies to every connection the pool ever opens, including the ones
  // opened after an outage, with no extra round trip.
  if (target.schema !== undefined) config.options = `-c search_path=${target.schema}`;
  const pool = new pg.Pool(config);
  // Idle clients whose server connection dies (restart, pg_terminate_backend) are removed by
  // the pool, which then emits 'error'; without a listener that event would crash the process.
  pool.on('error', () => {});
  return pool;
}

class PgConnection implements DatabaseConnection {
  readonly client: PoolClient;
  readonly #target: string;
  broken = false;
  readonly onError = (): void => {
    this.broken = true;
  };

  constructor(client: PoolClient, target: string) {
    this.client = client;
    this.#target = target;
    // An error on a checked-out client arrives as an event too; unheard it would crash.
    client.on('error', this.onError);
  }

  async executeQuery<R>(compiledQuery: CompiledQuery): Promise<QueryResult<R>> {
    const params = storableParameters(compiledQuery.parameters, compiledQuery.sql, this.#target);
    try {
      const result = await this.client.query(compiledQuery.sql, params);
      const counted = ['INSERT', 'UPDATE', 'DELETE', 'MERGE'].includes(result.command);
      return {
        numAffectedRows: counted ? BigInt(result.rowCount ?? 0) : undefined,
        rows: (result.rows ?? []) as R[],
      };
    } catch (err) {
      if (isPgConnectionError(err)) this.broken = true;
      throw mapPgError(err, this.#target, 'query');
    }
  }

  // eslint-disable-next-line require-yield
  async *streamQuery<R>(): AsyncIterableIterator<QueryResult<R>> {
    // Cursors need pg-cursor and pin a connection for as long as the consumer is slow;
    // callers page with keyset queries instead, which behave the same on both engines.
    throw new SluiceError('STORE_UNSUPPORTED', 'internal', 'streaming queries are not supported; page with keyset');
  }
}

class PgDriver implements Driver {
  readonly #pool: pg.Pool;
  readonly #target: string;
  #destroyed = false;

  constructor(pool: pg.Pool, target: string) {
    this.#pool = pool;
    this.#target = target;
  }

  async init(): Promise<void> {}

  async acquireConnection(): Promise<DatabaseConnection> {
    if (this.#destroyed) throw new SluiceError('STORE_CLOSED', 'internal', `database ${this.#target} is closed`);
    let client: PoolClient;
    try {
      client = await this.#pool.connect();
    } catch (err) {
      throw mapPgError(err, this.#target, 'connect');
    }
    return new PgConnection(client, this.#target);
  }

  async beginTransaction(connection: DatabaseConnection, settings: TransactionSettings): Promise<void> {
    let sql = 'begin';
    if (settings.isolationLevel) sql += ` isolation level ${settings.isolationLevel}`;
    if (settings.accessMode) sql += ` ${settings.accessMode}`;
    await connection.executeQuery(CompiledQuery.raw(sql));
  }

  async commitTransaction(connection: DatabaseConnection): Promise<void> {
    await connection.executeQuery(CompiledQuery.raw('commit'));
  }

  async rollbackTransaction(connection: DatabaseConnection): Promise<void> {
    try {
      await connection.executeQuery(CompiledQuery.raw('rollback'));
    } catch {
      // The connection is in an unknown state: discard it rather than hand it to the next
      // request, and let the error that made us roll back be the one reported.
      (connection as PgConnection).broken = true;
    }
  }

  async releaseConnection(connection: DatabaseConnection): Promise<void> {
    const c = connection as PgConnection;
    c.client.removeListener('error', c.onError);
    // Releasing with an error makes the pool destroy the client instead of reusing it.
    c.client.release(c.broken ? new Error('connection broken') : undefined);
  }

  async destroy(): Promise<void> {
    if (this.#destroyed) return;
    this.#destroyed = true;
    await this.#pool.end();
  }
}

export class PgDialect implements Dialect {
  readonly #pool: pg.Pool;
  readonly #target: string;

  constructor(pool: pg.Pool, target: string) {
    this.#pool = pool;
    this.#target = target;
  }

  createDriver(): Driver {
    return new PgDriver(this.#pool, this.#target);
  }

  createQueryCompiler(): QueryCompiler {
    return new PostgresQueryCompiler();
  }

  createAdapter(): DialectAdapter {
    return new PostgresAdapter();
  }

  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  createIntrospector(db: Kysely<any>): DatabaseIntrospector {
    return new PostgresIntrospector(db);
  }
}
