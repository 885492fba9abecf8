/**
 * A small declarative validator over the YAML syntax tree (not over plain JS values), so
 * that every problem carries the `line:column` of the node at fault.
 *
 * Validation never stops at the first problem: a failed value becomes INVALID, its parents
 * become INVALID too, but siblings are still checked and every problem is recorded in the
 * context. Names that other parts of the document refer to (stages, teams, registries,
 * evidence types) are registered when their own field validates, independently of their
 * siblings, and references to them are checked after the whole document has been walked; so
 * a type error inside one stage neither hides an unknown reference elsewhere nor produces a
 * false "unknown stage" for the stage that had it.
 */
import {
  isAlias,
  isMap,
  isScalar,
  isSeq,
  type Document,
  type LineCounter,
  type Node as YNode,
  type YAMLMap,
} from 'yaml';
import { didYouMean, type Problem } from './problems.ts';

export const INVALID: unique symbol = Symbol('invalid');
export type Invalid = typeof INVALID;
export type Result<T> = T | Invalid;

/** Where a value sits: the node to point at and its document path. */
export interface Loc {
  node: YNode | null | undefined;
  path: string;
}

export interface Input {
  /** Never an alias: aliases are resolved before a validator sees the node. */
  node: YNode;
  path: string;
  ctx: Ctx;
}

export interface Validator<T> {
  (input: Input): Result<T>;
  /** What the value must be, in words: "a duration like 7d", "one of: a, b". */
  readonly expected: string;
}

export function validator<T>(expected: string, fn: (input: Input) => Result<T>): Validator<T> {
  return Object.assign((input: Input) => fn(input), { expected });
}

/** Beyond this many, further problems are counted, not listed: they are almost always echoes. */
export const MAX_PROBLEMS = 200;
/** Anchors and aliases may be used, but not to expand a small file into a huge tree. */
export const MAX_EXPANDED_NODES = 100_000;
export const MAX_DEPTH = 64;

interface Definition {
  loc: Loc | undefined;
  valid: boolean;
}

export class Ctx {
  readonly file: string;
  readonly doc: Document;
  readonly problems: Problem[] = [];
  private readonly lineCounter: LineCounter;
  private readonly deferred: Array<() => void> = [];
  private readonly definitions = new Map<string, Map<string, Definition>>();
  private readonly locations = new WeakMap<object, { self: Loc; keys: Map<string, Loc> }>();
  private readonly notes = new Map<string, Loc[]>();
  private readonly scopes: Array<Record<string, unknown>> = [];
  /** Problems beyond MAX_PROBLEMS, counted but not kept. */
  dropped = 0;

  constructor(file: string, doc: Document, lineCounter: LineCounter) {
    this.file = file;
    this.doc = doc;
    this.lineCounter = lineCounter;
  }

  position(node: YNode | null | undefined): { line: number; column: number } {
    const offset = node?.range?.[0];
    if (offset === undefined) return { line: 1, column: 1 };
    const { line, col } = this.lineCounter.linePos(offset);
    return { line, column: col };
  }

  report(loc: Loc, expected: string, found: string, message: string): void {
    if (this.problems.length >= MAX_PROBLEMS) {
      this.dropped++;
      return;
    }
    const { line, column } = this.position(loc.node);
    this.problems.push({ file: this.file, line, column, path: loc.path, expected, found, message });
  }

  /** Runs after the walk, when every name in the document is known. */
  defer(fn: () => void): void {
    this.deferred.push(fn);
  }

  finish(): void {
    // Deferred checks may defer again (a list check that needs every team name).
    for (let i = 0; i < this.deferred.length; i++) this.deferred[i]!();
    this.deferred.length = 0;
  }

  /**
   * Records a location for a rule that an enclosing collection decides on later (a setting
   * that is only wrong in the final stage), even if the object holding it has other faults.
   */
  note(kind: string, loc: Loc): void {
    let l = this.notes.get(kind);
    if (!l) {
      l = [];
      this.notes.set(kind, l);
    }
    l.push(loc);
  }

  noted(kind: string): Loc[] {
    return this.notes.get(kind) ?? [];
  }

  /** A value an enclosing object exposed to its descendants (see ObjectOptions.scope). */
  scoped(key: string): unknown {
    for (let i = this.scopes.length - 1; i >= 0; i--)
      if (Object.hasOwn(this.scopes[i]!, key)) return this.scopes[i]![key];
    return undefined;
  }

  withScope<T>(scope: Record<string, unknown> | undefined, fn: () => T): T {
    if (!scope) return fn();
    this.scopes.push(scope);
    try {
      return fn();
    } finally {
      this.scopes.pop();
    }
  }

  private kind(kind: string): Map<string, Definition> {
    let m = this.definitions.get(kind);
    if (!m) {
      m = new Map();
      this.definitions.set(kind, m);
    }
    return m;
  }

  /** Names that exist without being written in the document (built-in evidence types). */
  builtin(kind: string, names: Iterable<string>): void {
    for (const n of names) this.kind(kind).set(n, { loc: undefined, valid: true });
  }

  /** Registers a name; false (and a problem) when it is already taken. */
  define(kind: string, what: string, name: string, loc: Loc, valid: boolean): boolean {
    const m = this.kind(kind);
    const first = m.get(name);
    if (first) {
      const where = first.loc
        ? `first defined at line ${this.position(first.loc.node).line}`
        : `\`${name}\` is built in`;
      this.report(loc, `a unique ${what} name`, `\`${name}\` again`, `duplicate ${what} \`${name}\` (${where})`);
      return false;
    }
    m.set(name, { loc, valid });
    return true;
  }

  isDefined(kind: string, name: string): boolean {
    return this.kind(kind).has(name);
  }

  /** Valid names of a kind, in document order (built-ins first). */
  names(kind: string): string[] {
    return [...this.kind(kind)].filter(([, d]) => d.valid).map(([n]) => n);
  }

  /** Order of a name among its kind, or -1. */
  indexOf(kind: string, name: string): number {
    return [...this.kind(kind).keys()].indexOf(name);
  }

  refer(kind: string, what: string, name: string, loc: Loc): void {
    this.defer(() => {
      if (this.isDefined(kind, name)) return;
      const known = this.names(kind);
      const expected = known.length === 0 ? `a declared ${what} (none are declared)` : `one of: ${list(known)}`;
      this.report(loc, expected, `\`${name}\``, `unknown ${what} \`${name}\`${didYouMean(name, known)}`);
    });
  }

  /**
   * A YAML node for a default value, positioned at `anchor` so that a problem with a
   * default (say, a default category that was removed) points at the place that omitted it.
   */
  synthesize(value: unknown, anchor: YNode | null | undefined): YNode {
    const node = this.doc.createNode(value) as YNode;
    const range = anchor?.range;
    if (range) {
      const stack: unknown[] = [node];
      while (stack.length > 0) {
        const n = stack.pop();
        if (isMap(n)) for (const p of n.items) stack.push(p.key, p.value);
        else if (isSeq(n)) stack.push(...n.items);
        if (n && typeof n === 'object') (n as { range: unknown }).range = [...range];
      }
    }
    return node;
  }

  locate(obj: object, self: Loc, keys: Map<string, Loc>): void {
    this.locations.set(obj, { self, keys });
  }

  /** Where a validated object (or one of its keys) came from. */
  locOf(obj: object, key?: string): Loc {
    const l = this.locations.get(obj);
    if (!l) return { node: undefined, path: '' };
    return key === undefined ? l.self : (l.keys.get(key) ?? l.self);
  }
}

export function list(items: readonly string[], max = 20): string {
  const shown = items.slice(0, max).join(', ');
  return items.length > max ? `${shown}, ...` : shown;
}

export function joinPath(path: string, key: string | number): string {
  if (typeof key === 'number') return `${path}[${key}]`;
  if (/^[A-Za-z_][A-Za-z0-9_-]*$/.test(key)) return path === '' ? key : `${path}.${key}`;
  return `${path}[${JSON.stringify(key)}]`;
}

/** The node as a user would name it in a message. */
export function describe(node: YNode | null | undefined): string {
  if (!node) return 'nothing';
  if (isMap(node)) return 'a mapping';
  if (isSeq(node)) return 'a list';
  if (isScalar(node)) {
    const v = node.value;
    if (v === null || v === undefined) return 'null';
    if (typeof v === 'string') return JSON.stringify(v.length > 80 ? `${v.slice(0, 77)}...` : v);
    if (typeof v === 'number' || typeof v === 'boolean' || typeof v === 'bigint') return `${typeof v} ${String(v)}`;
    return 'a value of an unsupported type';
  }
  return 'an unsupported node';
}

function mismatch(input: Input, expected: string, found = describe(input.node)): Invalid {
  input.ctx.report(input, expected, found, `expected ${expected}, found ${found}`);
  return INVALID;
}

/** Aliases are resolved here; the expansion pre-pass guarantees this terminates and stays small. */
export function deref(ctx: Ctx, node: unknown): YNode | null {
  if (node === null || node === undefined) return null;
  if (isAlias(node)) return (node.resolve(ctx.doc) as YNode | undefined) ?? null;
  return node as YNode;
}

function isNull(node: YNode | null): boolean {
  return node === null || (isScalar(node) && (node.value === null || node.value === undefined));
}

/**
 * Refuses documents whose aliases expand beyond MAX_EXPANDED_NODES ("billion laughs") or
 * refer to themselves. Counting with a memo per node keeps this linear in the file size.
 */
export function checkAliasExpansion(ctx: Ctx, root: unknown): boolean {
  const memo = new Map<unknown, number>();
  const active = new Set<unknown>();
  let failed = false;
  const size = (node: unknown, path: string, depth: number): number => {
    if (failed || node === null || node === undefined) return 1;
    if (depth > MAX_DEPTH) {
      ctx.report(
        { node: node as YNode, path },
        `at most ${MAX_DEPTH} levels of nesting`,
        'deeper nesting',
        `nesting deeper than ${MAX_DEPTH} levels`,
      );
      failed = true;
      return 1;
    }
    if (isAlias(node)) {
      const target = node.resolve(ctx.doc);
      if (!target) return 1;
      if (active.has(target)) {
        ctx.report(
          { node, path },
          'an alias to a complete node',
          `*${node.source} inside its own anchor`,
          `alias *${node.source} refers to the node that contains it`,
        );
        failed = true;
        return 1;
      }
      return size(target, path, depth + 1);
    }
    const cached = memo.get(node);
    if (cached !== undefined) return cached;
    active.add(node);
    let n = 1;
    if (isMap(node)) {
      for (const p of node.items) {
        const key = isScalar(p.key) ? String(p.key.value) : '?';
        n += size(p.key, path, depth + 1) + size(p.value, joinPath(path, key), depth + 1);
        if (n > MAX_EXPANDED_NODES || failed) break;
      }
    } else if (isSeq(node)) {
      for (let i = 0; i < node.items.length; i++) {
        n += size(node.items[i], joinPath(path, i), depth + 1);
        if (n > MAX_EXPANDED_NODES || failed) break;
      }
    }
    active.delete(node);
    memo.set(node, n);
    if (n > MAX_EXPANDED_NODES && !failed) {
      ctx.report(
        { node: node as YNode, path },
        `at most ${MAX_EXPANDED_NODES} nodes after expanding aliases`,
        `more than ${MAX_EXPANDED_NODES}`,
        `aliases expand this value to more than ${MAX_EXPANDED_NODES} nodes (an alias bomb?); refusing to read it`,
      );
      failed = true;
    }
    return n;
  };
  size(root, '', 0);
  return !failed;
}

/**
 * Where the text nests collections deeper than `limit`, found by a scan of the characters
 * before any parsing: the YAML parser slows down with depth and its composer recurses, so a
 * document thousands of levels deep would take seconds and then overflow the stack. The
 * scan knows enough YAML to count only what nests (flow brackets at the start of a token or
 * inside a flow collection, block indentation, `- ` and `? ` entries), and skips quoted
 * scalars, comments and block scalars. It may count a level more than the parser would,
 * never fewer.
 */
export function excessiveNesting(text: string, limit = MAX_DEPTH): { line: number; column: number } | undefined {
  const n = text.length;
  const indents: number[] = [];
  let flow = 0;
  let quote = '';
  /** Inside a block scalar: the indentation of the line that opened it; content is deeper. */
  let scalarParent = -1;
  let line = 0;
  let i = 0;
  while (i < n) {
    line++;
    const start = i;
    let eol = text.indexOf('\n', i);
    if (eol < 0) eol = n;
    while (i < eol && text[i] === ' ') i++;
    const indent = i - start;
    const empty = i >= eol || text[i] === '\r' || (!quote && text[i] === '#');
    const at = (k: number) => ({ line, column: k - start + 1 });
    if (scalarParent >= 0) {
      if (empty || indent > scalarParent) {
        i = eol + 1;
        continue;
      }
      scalarParent = -1;
    }
    if (!quote && flow === 0 && !empty) {
      if (indent === 0 && /^(?:---|\.\.\.)(?:[ \r]|$)/.test(text.slice(i, i + 4))) {
        indents.length = 0;
        i += 3;
      } else if (indent === 0 && text[i] === '%') {
        i = eol + 1;
        continue;
      } else {
        while (indents.length > 0 && indents[indents.length - 1]! >= indent) indents.pop();
        indents.push(indent);
        if (indents.length > limit) return at(i);
      }
    }
    let tokenStart = true;
    let lastToken = -1;
    for (; i < eol; i++) {
      const c = text[i]!;
      if (quote) {
        if (quote === '"' && c === '\\') i++;
        else if (c === quote) {
          if (quote === "'" && text[i + 1] === "'") i++;
          else quote = '';
        }
        continue;
      }
      if (c === ' ' || c === '\t' || c === '\r') {
        tokenStart = true;
        continue;
      }
      if (c === '#' && tokenStart) break;
      const wasStart = tokenStart;
      tokenStart = false;
      if (wasStart) lastToken = i;
      if ((c === "'" || c === '"') && wasStart) quote = c;
      else if ((c === '[' || c === '{') && (wasStart || flow > 0)) {
        flow++;
        tokenStart = true;
        if (indents.length + flow > limit) return at(i);
      } else if ((c === ']' || c === '}') && flow > 0) flow--;
      else if (c === ',' && flow > 0) tokenStart = true;
      else if ((c === '-' || c === '?') && wasStart && flow === 0 && /^[ \r]|^$/.test(text.slice(i + 1, i + 2))) {
        // `- - x`: each entry indicator opens a collection whose content starts after it.
        indents.push(i - start + 1);
        tokenStart = true;
        if (indents.length > limit) return at(i);
      }
    }
    if (!quote && flow === 0 && lastToken >= 0 && /^[|>][-+1-9]{0,2}\r?$/.test(text.slice(lastToken, i))) {
      scalarParent = indent;
    }
    i = eol + 1;
  }
  return undefined;
}

// ---------------------------------------------------------------------------------------
// Scalars

function scalarValue(input: Input): unknown {
  return isScalar(input.node) ? input.node.value : undefined;
}

export interface StringOptions {
  expected?: string;
  pattern?: RegExp;
  minLength?: number;
  maxLength?: number;
}

export function string(opts: StringOptions = {}): Validator<string> {
  const expected = opts.expected ?? 'a string';
  return validator(expected, (input) => {
    const v = scalarValue(input);
    if (typeof v !== 'string') return mismatch(input, expected);
    if (opts.minLength !== undefined && v.length < opts.minLength) return mismatch(input, expected);
    if (opts.maxLength !== undefined && v.length > opts.maxLength) {
      return mismatch(input, `${expected} of at most ${opts.maxLength} characters`, `${v.length} characters`);
    }
    if (opts.pattern && !opts.pattern.test(v)) return mismatch(input, expected);
    return v;
  });
}

export function boolean(): Validator<boolean> {
  return validator('true or false', (input) => {
    const v = scalarValue(input);
    return typeof v === 'boolean' ? v : mismatch(input, 'true or false');
  });
}

export function integer(opts: { min?: number; max?: number } = {}): Validator<number> {
  const { min, max } = opts;
  const expected =
    min !== undefined && max !== undefined
      ? `an integer from ${min} to ${max}`
      : min !== undefined
        ? `an integer ≥ ${min}`
        : 'an integer';
  return validator(expected, (input) => {
    const v = scalarValue(input);
    if (typeof v !== 'number' || !Number.isSafeInteger(v)) return mismatch(input, expected);
    if ((min !== undefined && v < min) || (max !== undefined && v > max)) return mismatch(input, expected);
    return v;
  });
}

/** One of a fixed set of strings, suggesting the closest on a typo. */
export function oneOf<const T extends string>(values: readonly T[], opts: { expected?: string } = {}): Validator<T> {
  const expected = opts.expected ?? `one of: ${list(values)}`;
  return validator(expected, (input) => {
    const v = scalarValue(input);
    if (typeof v === 'string' && (values as readonly string[]).includes(v)) return v as T;
    const found = describe(input.node);
    const hint = typeof v === 'string' ? didYouMean(v, values) : '';
    input.ctx.report(input, expected, found, `expected ${expected}, found ${found}${hint}`);
    return INVALID;
  });
}

export interface Failure {
  fail: string;
  /** Overrides how the value is quoted in the problem (secrets are never echoed). */
  found?: string;
}

export function fail(message: string, found?: string): Failure {
  return found === undefined ? { fail: message } : { fail: message, found };
}

function isFailure(x: unknown): x is Failure {
  return typeof x === 'object' && x !== null && 'fail' in x && typeof (x as Failure).fail === 'string';
}

/**
 * A string turned into something else by a parser. The parser returns the value or a
 * Failure whose message completes "expected ..., found ...: <message>".
 */
export function parsed<T>(
  expected: string,
  parse: (text: string, input: Input) => T | Failure,
  opts: { found?: (input: Input) => string } = {},
): Validator<T> {
  return validator(expected, (input) => {
    const v = scalarValue(input);
    const found = opts.found ? opts.found(input) : describe(input.node);
    if (typeof v !== 'string') {
      input.ctx.report(input, expected, found, `expected ${expected}, found ${found}`);
      return INVALID;
    }
    const r = parse(v, input);
    if (isFailure(r)) {
      const f = r.found ?? found;
      input.ctx.report(input, expected, f, `expected ${expected}, found ${f}: ${r.fail}`);
      return INVALID;
    }
    return r;
  });
}

/** Adds a condition to a validated value; the callback returns a failure or nothing. */
export function refine<T>(v: Validator<T>, check: (value: T, input: Input) => Failure | undefined): Validator<T> {
  return validator(v.expected, (input) => {
    const r = v(input);
    if (r === INVALID) return INVALID;
    const f = check(r, input);
    if (f) {
      const found = f.found ?? describe(input.node);
      input.ctx.report(input, v.expected, found, `expected ${v.expected}, found ${found}: ${f.fail}`);
      return INVALID;
    }
    return r;
  });
}

export function transform<T, U>(v: Validator<T>, fn: (value: T) => U): Validator<U> {
  return validator(v.expected, (input) => {
    const r = v(input);
    return r === INVALID ? INVALID : fn(r);
  });
}

/** First alternative whose precondition matches decides; the others are not tried. */
export function either<A, B>(
  a: Validator<A>,
  b: Validator<B>,
  useA: (input: Input) => boolean,
  expected = `${a.expected} or ${b.expected}`,
): Validator<A | B> {
  return validator(expected, (input) => (useA(input) ? a(input) : b(input)));
}

// ---------------------------------------------------------------------------------------
// Names and references across the document

/** The value names something others refer to; duplicates are problems. */
export function defines(kind: string, what: string, v: Validator<string>): Validator<string> {
  return validator(v.expected, (input) => {
    const r = v(input);
    const raw = scalarValue(input);
    const name = r === INVALID ? (typeof raw === 'string' ? raw : undefined) : r;
    // An invalid name is still registered, so that references to it are not reported twice.
    if (name !== undefined && !input.ctx.define(kind, what, name, input, r !== INVALID)) return INVALID;
    return r;
  });
}

/** The value must name something `defines`d (anywhere in the document). */
export function refers(
  kind: string,
  what: string,
  v: Validator<string> = string({ expected: `a ${what} name` }),
): Validator<string> {
  return validator(v.expected, (input) => {
    const r = v(input);
    if (r !== INVALID) input.ctx.refer(kind, what, r, { node: input.node, path: input.path });
    return r;
  });
}

// ---------------------------------------------------------------------------------------
// Collections

export interface Field<T> {
  readonly v: Validator<T>;
  readonly mode: 'required' | 'optional' | 'default';
  /** YAML-level default, validated like anything written (so `'7d'` becomes milliseconds). */
  readonly def?: unknown;
}

export function required<T>(v: Validator<T>): Field<T> {
  return { v, mode: 'required' };
}

export function optional<T>(v: Validator<T>): Field<T | undefined> {
  return { v: v as Validator<T | undefined>, mode: 'optional' };
}

/** `value` is what a user would write (`'7d'`, `{}`), not the parsed result. */
export function withDefault<T>(v: Validator<T>, value: unknown): Field<T> {
  return { v, mode: 'default', def: value };
}

// eslint-disable-next-line @typescript-eslint/no-explicit-any -- variance: any Field<T> fits a shape
export type Shape = Record<string, Field<any>>;
export type Out<S extends Shape> = { [K in keyof S]: S[K] extends Field<infer T> ? T : never };

export interface CheckHelpers {
  ctx: Ctx;
  path: string;
  /** Location of a key's value (or of the key when absent, or the object itself). */
  loc(key?: string): Loc;
  /** Reports at a key; `message` stands on its own. */
  report(key: string | undefined, expected: string, found: string, message: string): void;
  /** Whether the key was written (not defaulted), valid or not. */
  has(key: string): boolean;
  /** False when some fields were invalid: they are missing from the value. */
  complete: boolean;
}

export interface ObjectOptions<T> {
  expected?: string;
  /** Messages for keys that are not allowed but that people are likely to write. */
  hints?: Record<string, string>;
  /**
   * Cross-field rules. Runs even when some fields failed (they are then absent from the
   * value), so that one typo does not hide an unrelated mistake next to it.
   */
  check?: (value: Partial<T>, h: CheckHelpers) => void;
  /**
   * Defaults that depend on the object itself (a well-known stage's name), as YAML-level
   * values; each fills one absent key as a whole, before the field's own default.
   */
  defaults?: (node: YAMLMap, ctx: Ctx) => Record<string, unknown> | undefined;
  /**
   * Values read from the raw mapping (the stage's name) that checks of nested objects need
   * while they run; available through `ctx.scoped(key)` until this object is done.
   */
  scope?: (node: YAMLMap, ctx: Ctx) => Record<string, unknown>;
}

function isRecord(x: unknown): x is Record<string, unknown> {
  return typeof x === 'object' && x !== null && !Array.isArray(x);
}

export function object<S extends Shape>(shape: S, opts: ObjectOptions<Out<S>> = {}): Validator<Out<S>> {
  const keys = Object.keys(shape);
  const requiredKeys = keys.filter((k) => shape[k]!.mode === 'required');
  const expected =
    opts.expected ?? (requiredKeys.length > 0 ? `a mapping with ${requiredKeys.join(', ')}` : 'a mapping');
  const run = (input: Input): Result<Out<S>> => {
    const { node, ctx, path } = input;
    if (!isMap(node)) return mismatch(input, expected);
    const entries = new Map<string, { key: YNode; value: YNode | null }>();
    for (const pair of node.items) {
      const keyNode = deref(ctx, pair.key);
      if (!keyNode || !isScalar(keyNode) || keyNode.value === null || typeof keyNode.value === 'object') {
        ctx.report({ node: keyNode ?? node, path }, 'a plain key', describe(keyNode), 'keys must be plain strings');
        continue;
      }
      const k = String(keyNode.value);
      // The parser has already reported the duplicate; the first occurrence counts.
      if (entries.has(k)) continue;
      entries.set(k, { key: keyNode, value: pair.value as YNode | null });
      // Own keys only: `constructor` or `__proto__` is as unknown as any other key.
      if (!Object.hasOwn(shape, k)) {
        const loc = { node: keyNode, path: joinPath(path, k) };
        const known = `one of the keys: ${list(keys, 40)}`;
        if (k === '<<') {
          ctx.report(loc, known, '`<<`', 'merge keys (`<<`) are not supported; use an alias for the whole value');
        } else if (opts.hints && Object.hasOwn(opts.hints, k)) {
          ctx.report(loc, known, `\`${k}\``, `key \`${k}\` is not allowed here: ${opts.hints[k]}`);
        } else {
          ctx.report(loc, known, `\`${k}\``, `unknown key \`${k}\`${didYouMean(k, keys)}`);
        }
      }
    }
    const out: Record<string, unknown> = {};
    const locs = new Map<string, Loc>();
    const inherited = opts.defaults?.(node, ctx);
    let ok = true;
    for (const k of keys) {
      const field = shape[k]!;
      const entry = entries.get(k);
      const childPath = joinPath(path, k);
      const value = entry ? deref(ctx, entry.value) : null;
      const fallback =
        isRecord(inherited) && Object.hasOwn(inherited, k) && inherited[k] !== undefined ? inherited[k] : field.def;
      if (isNull(value)) {
        const anchor = entry?.key ?? node;
        locs.set(k, { node: anchor, path: childPath });
        if (fallback !== undefined) {
          const r = field.v({ node: ctx.synthesize(fallback, anchor), path: childPath, ctx });
          if (r === INVALID) ok = false;
          else out[k] = r;
        } else if (field.mode === 'required') {
          const loc = { node: anchor, path: childPath };
          if (entry)
            ctx.report(loc, field.v.expected, 'null', `\`${k}\` must not be empty: expected ${field.v.expected}`);
          else ctx.report(loc, field.v.expected, 'nothing', `missing required key \`${k}\` (${field.v.expected})`);
          ok = false;
        } else {
          out[k] = undefined;
        }
        continue;
      }
      locs.set(k, { node: value, path: childPath });
      const r = field.v({ node: value!, path: childPath, ctx });
      if (r === INVALID) ok = false;
      else out[k] = r;
    }
    const obj = out as Out<S>;
    const self = { node, path };
    ctx.locate(obj, self, locs);
    if (opts.check) {
      const before = ctx.problems.length;
      opts.check(obj, {
        ctx,
        path,
        loc: (key) => (key === undefined ? self : (locs.get(key) ?? self)),
        report: (key, exp, found, message) =>
          ctx.report(key === undefined ? self : (locs.get(key) ?? self), exp, found, message),
        has: (key) => entries.has(key) && !isNull(deref(ctx, entries.get(key)!.value)),
        complete: ok,
      });
      if (ctx.problems.length > before) ok = false;
    }
    return ok ? obj : INVALID;
  };
  return validator(expected, (input) =>
    isMap(input.node) && opts.scope
      ? input.ctx.withScope(opts.scope(input.node, input.ctx), () => run(input))
      : run(input),
  );
}

export interface ListItem<T> {
  value: T;
  index: number;
  loc: Loc;
}

export interface ListCheckHelpers {
  ctx: Ctx;
  path: string;
  loc: Loc;
  /** False when some items were invalid (and are missing from `items`). */
  complete: boolean;
  /** Number of items in the document, valid or not. */
  total: number;
}

export interface ListOptions<T> {
  min?: number;
  max?: number;
  expected?: string;
  /** Collection-wide rules; runs even when some items failed (see `complete`). */
  check?: (items: ListItem<T>[], h: ListCheckHelpers) => void;
}

export function array<T>(item: Validator<T>, opts: ListOptions<T> = {}): Validator<T[]> {
  const expected = opts.expected ?? `a list (each: ${item.expected})`;
  return validator(expected, (input) => {
    const { node, ctx, path } = input;
    if (!isSeq(node)) return mismatch(input, expected);
    const items: ListItem<T>[] = [];
    let ok = true;
    node.items.forEach((raw, index) => {
      const child = deref(ctx, raw);
      const childPath = joinPath(path, index);
      if (child === null) {
        ctx.report(
          { node: node, path: childPath },
          item.expected,
          'nothing',
          `expected ${item.expected}, found nothing`,
        );
        ok = false;
        return;
      }
      const r = item({ node: child, path: childPath, ctx });
      if (r === INVALID) ok = false;
      else items.push({ value: r, index, loc: { node: child, path: childPath } });
    });
    const n = node.items.length;
    if (opts.min !== undefined && n < opts.min) {
      const need = opts.min === 1 ? 'at least one entry' : `at least ${opts.min} entries`;
      ctx.report(
        input,
        `${need}`,
        n === 0 ? 'an empty list' : `${n}`,
        `expected ${need}, found ${n === 0 ? 'an empty list' : n}`,
      );
      ok = false;
    }
    if (opts.max !== undefined && n > opts.max) {
      ctx.report(input, `at most ${opts.max} entries`, `${n}`, `expected at most ${opts.max} entries, found ${n}`);
      ok = false;
    }
    if (opts.check) {
      const before = ctx.problems.length;
      opts.check(items, { ctx, path, loc: { node, path }, complete: ok, total: n });
      if (ctx.problems.length > before) ok = false;
    }
    return ok ? items.map((i) => i.value) : INVALID;
  });
}

/** A list of plain values where a repeated entry is a mistake. */
export function uniqueArray<T extends string>(
  item: Validator<T>,
  what: string,
  opts: ListOptions<T> = {},
): Validator<T[]> {
  return array(item, {
    ...opts,
    check: (items, h) => {
      const seen = new Map<string, number>();
      for (const it of items) {
        const first = seen.get(it.value);
        if (first !== undefined) {
          h.ctx.report(
            it.loc,
            `each ${what} once`,
            `\`${it.value}\` again`,
            `duplicate ${what} \`${it.value}\` (also at [${first}])`,
          );
        } else seen.set(it.value, it.index);
      }
      opts.check?.(items, h);
    },
  });
}

/** A mapping with free keys (labels, per-severity thresholds). */
export function record<V>(
  key: Validator<string>,
  value: Validator<V>,
  opts: { expected?: string } = {},
): Validator<Record<string, V>> {
  const expected = opts.expected ?? `a mapping of ${key.expected} to ${value.expected}`;
  return validator(expected, (input) => {
    const { node, ctx, path } = input;
    if (!isMap(node)) return mismatch(input, expected);
    const out: Record<string, V> = {};
    let ok = true;
    const seen = new Set<string>();
    for (const pair of node.items) {
      const keyNode = deref(ctx, pair.key);
      if (!keyNode) continue;
      const raw = isScalar(keyNode) ? String(keyNode.value) : '?';
      if (seen.has(raw)) continue;
      seen.add(raw);
      const childPath = joinPath(path, raw);
      const k = key({ node: keyNode, path: childPath, ctx });
      const valueNode = deref(ctx, pair.value);
      if (isNull(valueNode)) {
        ctx.report(
          { node: keyNode, path: childPath },
          value.expected,
          'null',
          `expected ${value.expected}, found null`,
        );
        ok = false;
        continue;
      }
      const v = value({ node: valueNode!, path: childPath, ctx });
      if (k === INVALID || v === INVALID) ok = false;
      // Defined, not assigned: a key `__proto__` is a key like any other, not the prototype.
      else Object.defineProperty(out, k, { value: v, enumerable: true, writable: true, configurable: true });
    }
    return ok ? out : INVALID;
  });
}
