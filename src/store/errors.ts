/**
 * Translates driver errors into SluiceErrors. Only failures a caller can act on are
 * translated: the database being unreachable (retry later, 503) and constraint conflicts
 * (409). Everything else (syntax errors, type errors) is a bug and travels unchanged so the
 * original stack and driver code survive for whoever debugs it.
 */
import { SluiceError } from '../errors.ts';

const NETWORK_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ECONNABORTED',
  'ETIMEDOUT',
  'EHOSTUNREACH',
  'EHOSTDOWN',
  'ENETUNREACH',
  'ENETDOWN',
  'ENOTFOUND',
  'EAI_AGAIN',
  'EPIPE',
]);

/** SQLSTATEs that mean "this connection or server cannot serve you right now". */
const PG_UNAVAILABLE = new Map<string, string>([
  ['57P01', 'the server terminated the connection'],
  ['57P02', 'the server crashed'],
  ['57P03', 'the server is starting up or shutting down'],
  ['53300', 'too many connections'],
  ['28P01', 'authentication failed'],
  ['28000', 'authentication failed'],
  ['3D000', 'the database does not exist'],
]);

const PG_CONFLICT = new Map<string, string>([
  ['23505', 'a row with the same key already exists'],
  ['40001', 'concurrent update, retry'],
  ['40P01', 'deadlock detected, retry'],
]);

const CONNECTION_MESSAGES = [
  /Connection terminated/i,
  /timeout exceeded when trying to connect/i,
  /Client has encountered a connection error/i,
  /Client was closed and is not queryable/i,
  /not queryable/i,
  /socket hang up/i,
];

interface DriverError {
  code?: unknown;
  errcode?: unknown;
  errstr?: unknown;
  message?: unknown;
  constraint?: unknown;
  detail?: unknown;
}

function fields(err: unknown): DriverError {
  return typeof err === 'object' && err !== null ? (err as DriverError) : {};
}

/** True when the error means the connection itself is gone (so it must not be reused). */
export function isPgConnectionError(err: unknown): boolean {
  const e = fields(err);
  const code = typeof e.code === 'string' ? e.code : '';
  if (NETWORK_CODES.has(code) || code.startsWith('08') || code.startsWith('57P')) return true;
  const message = typeof e.message === 'string' ? e.message : '';
  return CONNECTION_MESSAGES.some((re) => re.test(message));
}

function aggregateCause(err: unknown): unknown {
  // Connecting to "localhost" tries ::1 and 127.0.0.1; Node reports both in an AggregateError.
  if (err instanceof AggregateError && err.errors.length > 0) return err.errors[0];
  return err;
}

/**
 * `target` names the database as `user@host:port/db`, never with the password.
 * `operation` says what was attempted (connect, query, commit).
 */
export function mapPgError(err: unknown, target: string, operation: string): unknown {
  if (err instanceof SluiceError) return err;
  const inner = aggregateCause(err);
  const e = fields(inner);
  const code = typeof e.code === 'string' ? e.code : '';
  const unavailable = PG_UNAVAILABLE.get(code);
  if (unavailable !== undefined || isPgConnectionError(inner)) {
    // The server's own words for these name the database or role and never the password.
    const serverSays = code === '3D000' || code === '28000' || code === '28P01' ? ` (${String(e.message)})` : '';
    const why = unavailable ?? (NETWORK_CODES.has(code) ? describeNetworkCode(code) : connectionReason(inner));
    return new SluiceError(
      'STORE_UNAVAILABLE',
      'unavailable',
      `database ${target} is unavailable (${operation}): ${why}${serverSays}`,
      { operation: `store.${operation}`, database: target, driverCode: code || undefined },
      err,
    );
  }
  const conflict = PG_CONFLICT.get(code);
  if (conflict !== undefined) {
    return new SluiceError(
      'STORE_CONFLICT',
      'conflict',
      `database ${target}: ${conflict}${typeof e.constraint === 'string' ? ` (${e.constraint})` : ''}`,
      {
        operation: `store.${operation}`,
        constraint: typeof e.constraint === 'string' ? e.constraint : undefined,
        driverCode: code,
      },
      err,
    );
  }
  return err;
}

function describeNetworkCode(code: string): string {
  switch (code) {
    case 'ECONNREFUSED':
      return 'connection refused (is PostgreSQL running and listening there?)';
    case 'ETIMEDOUT':
      return 'connection timed out';
    case 'ENOTFOUND':
    case 'EAI_AGAIN':
      return 'host name does not resolve';
    case 'EHOSTUNREACH':
    case 'ENETUNREACH':
    case 'EHOSTDOWN':
    case 'ENETDOWN':
      return 'host unreachable';
    default:
      return `connection lost (${code})`;
  }
}

function connectionReason(err: unknown): string {
  const message = typeof fields(err).message === 'string' ? String(fields(err).message) : '';
  if (/timeout exceeded when trying to connect/i.test(message)) return 'connection timed out';
  return 'connection lost';
}

// SQLite primary result codes (the low byte of the extended code).
const SQLITE_BUSY = 5;
const SQLITE_LOCKED = 6;
const SQLITE_READONLY = 8;
const SQLITE_IOERR = 10;
const SQLITE_CORRUPT = 11;
const SQLITE_FULL = 13;
const SQLITE_CANTOPEN = 14;
const SQLITE_NOTADB = 26;
const SQLITE_CONSTRAINT_PRIMARYKEY = 1555;
const SQLITE_CONSTRAINT_UNIQUE = 2067;

export function mapSqliteError(err: unknown, target: string, operation: string): unknown {
  if (err instanceof SluiceError) return err;
  const e = fields(err);
  if (typeof e.errcode !== 'number') return err;
  const extended = e.errcode;
  const primary = extended & 0xff;
  const message = typeof e.message === 'string' ? e.message : String(e.errstr ?? '');
  if (extended === SQLITE_CONSTRAINT_UNIQUE || extended === SQLITE_CONSTRAINT_PRIMARYKEY) {
    return new SluiceError(
      'STORE_CONFLICT',
      'conflict',
      `database ${target}: a row with the same key already exists (${message})`,
      { operation: `store.${operation}`, driverCode: String(extended) },
      err,
    );
  }
  if (primary === SQLITE_BUSY || primary === SQLITE_LOCKED) {
    return new SluiceError(
      'STORE_UNAVAILABLE',
      'unavailable',
      `database ${target} is busy: another process held its write lock past the busy timeout`,
      { operation: `store.${operation}`, database: target, driverCode: String(extended) },
      err,
    );
  }
  if ([SQLITE_READONLY, SQLITE_IOERR, SQLITE_CORRUPT, SQLITE_FULL, SQLITE_CANTOPEN, SQLITE_NOTADB].includes(primary)) {
    return new SluiceError(
      'STORE_UNAVAILABLE',
      'unavailable',
      `database ${target} is unusable (${operation}): ${message}`,
      { operation: `store.${operation}`, database: target, driverCode: String(extended) },
      err,
    );
  }
  return err;
}
