/**
 * The values both engines store alike. SQLite keeps nearly anything it is bound (a NUL inside
 * text, 1.5 or Infinity in a bigint column, a JavaScript Date); PostgreSQL refuses each of those
 * with an error of its own, and both silently turn an unpaired UTF-16 surrogate into U+FFFD, so
 * what is read back (and hashed again by `audit verify`) differs from what was written. Every
 * parameter of every statement passes through `storableParameters` on both engines, so a value
 * one engine would refuse or alter fails on both, before anything is written, and a test on
 * SQLite finds what only production on PostgreSQL would have. Empty `in ()` lists, which
 * SQLite accepts and PostgreSQL calls a syntax error, are rewritten by a plugin (index.ts).
 *
 * The domain validates what it reads from registries, webhooks and files earlier and says which
 * field was wrong; this is the backstop that keeps the two engines from disagreeing.
 */
import { SluiceError } from '../errors.ts';

/** A parameter as both drivers take it (SQLite binds booleans as 0/1 itself). */
export type StorableValue = string | number | bigint | boolean | Uint8Array | null;

const INT8_MIN = -(2n ** 63n);
const INT8_MAX = 2n ** 63n - 1n;
const STATEMENT_ECHO_CHARS = 80;

/** Why `value` cannot be stored the same on both engines, or undefined when it can. */
export function unstorableReason(value: unknown): { reason: string; input: boolean } | undefined {
  switch (typeof value) {
    case 'string':
      if (value.includes('\u0000')) {
        return { reason: 'text contains a NUL character (U+0000), which PostgreSQL cannot store', input: true };
      }
      if (!value.isWellFormed()) {
        return {
          reason: 'text contains an unpaired UTF-16 surrogate, which neither engine stores unchanged',
          input: true,
        };
      }
      return undefined;
    case 'number':
      // Every numeric column is an integer (bigint or integer): PostgreSQL refuses fractions
      // and non-finite numbers there, and int8 values beyond 2^53 would not read back exactly.
      return Number.isSafeInteger(value)
        ? undefined
        : {
            reason: `number ${String(value)} is not a safe integer (every numeric column is an integer)`,
            input: false,
          };
    case 'bigint':
      return value >= INT8_MIN && value <= INT8_MAX
        ? undefined
        : { reason: 'bigint is beyond the 64-bit range', input: false };
    // Kysely's own catalog queries bind booleans. No column is boolean (schema.ts), and the
    // row types say `number` for 0/1 flags, so the typed query builder refuses `true` there.
    case 'boolean':
    case 'undefined':
      return undefined;
    case 'object':
      if (value === null || value instanceof Uint8Array) return undefined;
      return {
        reason: `${Array.isArray(value) ? 'an array' : value instanceof Date ? 'a Date' : 'an object'} is not a column value (the engines serialise it differently; store JSON text or epoch milliseconds)`,
        input: false,
      };
    default:
      return { reason: `a ${typeof value} is not a column value`, input: false };
  }
}

/** The statement's opening words, enough to tell which table it touches; it never holds values. */
function statementHead(sql: string): string {
  const flat = sql.replace(/\s+/g, ' ').trim();
  return flat.length > STATEMENT_ECHO_CHARS ? `${flat.slice(0, STATEMENT_ECHO_CHARS)}...` : flat;
}

/**
 * Checks and normalises the parameters of one statement for either engine. The value itself is
 * never echoed: parameters may be anything, and the statement and position are enough to find it.
 */
export function storableParameters(parameters: readonly unknown[], sql: string, target: string): StorableValue[] {
  return parameters.map((value, i) => {
    const bad = unstorableReason(value);
    if (bad === undefined) return value === undefined ? null : (value as StorableValue);
    const where = `parameter $${i + 1} of "${statementHead(sql)}"`;
    // Input errors reach API callers, who need what was wrong but not where the database is.
    if (bad.input) {
      throw new SluiceError('STORE_VALUE_INVALID', 'invalid-input', `${bad.reason} (${where})`, {
        operation: 'store.query',
        parameter: i + 1,
      });
    }
    throw new SluiceError('STORE_VALUE_UNSUPPORTED', 'internal', `database ${target}: ${where}: ${bad.reason}`, {
      operation: 'store.query',
      database: target,
      parameter: i + 1,
    });
  });
}

/**
 * Makes registry-supplied descriptive text (labels, config user, platform, media type) storable:
 * NUL becomes U+FFFD, as invalid UTF-8 does when the bytes are decoded, and unpaired surrogates
 * (which JSON escapes can produce) become U+FFFD too. For text that is shown, never looked up.
 */
export function storableText(text: string): string {
  return text.replaceAll('\u0000', '\uFFFD').toWellFormed();
}
