/**
 * Own-property lookups for tables that user, registry or image data index into. `key in table`
 * and `table[key]` both see Object.prototype, so `constructor`, `toString` or `__proto__` would
 * pass as known keys and yield a function where a value was expected.
 */

/** Whether `key` is one of the table's own keys (never one it inherits). */
export function hasOwnKey<T extends object>(table: T, key: PropertyKey): key is keyof T {
  return Object.hasOwn(table, key);
}

/** The table's own value under `key`, or undefined when the table does not have that key itself. */
export function ownValue<V>(table: Readonly<Record<string, V>>, key: string): V | undefined {
  return Object.hasOwn(table, key) ? table[key] : undefined;
}

/**
 * Sets `key` as an own, enumerable property. Assignment with a key of `__proto__` would replace
 * the object's prototype instead, and the key would vanish from what is written out.
 */
export function setOwnKey<V>(target: Record<string, V>, key: string, value: V): void {
  Object.defineProperty(target, key, { value, enumerable: true, writable: true, configurable: true });
}
