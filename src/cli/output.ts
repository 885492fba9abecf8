/**
 * Rendering for every command: tables for people, JSON/YAML for pipelines. Data goes to
 * stdout, everything else (progress, warnings, errors) to stderr, as kubectl does.
 */
import { createRequire } from 'node:module';
import type * as Yaml from 'yaml';
import { SluiceError } from '../errors.ts';
import { escapeControls, escapeToLine, hasControls } from '../text.ts';

/**
 * The YAML library loads on first use: most calls never print YAML, and it is 72 modules.
 * Strings holding control characters are double-quoted, the one YAML style in which the
 * `\uXXXX` escapes of the terminal-safe writer keep their value.
 */
function toYaml(data: unknown): string {
  const { Document, visit } = createRequire(import.meta.url)('yaml') as typeof Yaml;
  const doc = new Document(data);
  visit(doc, {
    Scalar(_key, node) {
      if (typeof node.value === 'string' && hasControls(node.value)) node.type = 'QUOTE_DOUBLE';
    },
  });
  return doc.toString();
}

export type OutputFormat = 'table' | 'wide' | 'json' | 'yaml' | 'name';

export const OUTPUT_FORMATS: readonly OutputFormat[] = ['table', 'wide', 'json', 'yaml', 'name'];

export function parseOutputFormat(value: string): OutputFormat {
  if (!(OUTPUT_FORMATS as readonly string[]).includes(value)) {
    throw new SluiceError(
      'USAGE',
      'usage',
      `unknown output format "${value}" (use one of: ${OUTPUT_FORMATS.join(', ')})`,
    );
  }
  return value as OutputFormat;
}

export interface Column<T> {
  header: string;
  value: (row: T) => string | number | undefined;
  /** Shown only with -o wide. */
  wide?: boolean;
}

export interface Writer {
  out(text: string): void;
  err(text: string): void;
}

export const stdio: Writer = {
  out: (t) => process.stdout.write(t),
  err: (t) => process.stderr.write(t),
};

/**
 * The one place where CLI output meets the terminal: every table, message, error and
 * warning, and JSON and YAML too, has its control characters escaped (src/text.ts), so a
 * registry's label or a crafted reference cannot drive the operator's terminal. JSON and YAML
 * keep their exact data: the escapes are their own.
 */
export function terminalSafe(w: Writer): Writer {
  return { out: (t) => w.out(escapeControls(t)), err: (t) => w.err(escapeControls(t)) };
}

/** A value from outside that text output puts on a line of its own making (`  key=value`). */
export function oneLine(value: string | undefined): string {
  return value === undefined ? '' : escapeToLine(value);
}

export function renderTable<T>(rows: readonly T[], columns: readonly Column<T>[], wide = false): string {
  const cols = columns.filter((c) => wide || !c.wide);
  // A cell stays on its line: a newline in a label must not forge a row.
  const cells = rows.map((r) => cols.map((c) => escapeToLine(String(c.value(r) ?? ''))));
  const widths = cols.map((c, i) => Math.max(c.header.length, ...cells.map((row) => row[i]!.length)));
  const line = (values: string[]) =>
    values
      .map((v, i) => (i === values.length - 1 ? v : v.padEnd(widths[i]!)))
      .join('   ')
      .trimEnd();
  return [line(cols.map((c) => c.header)), ...cells.map(line)].join('\n') + '\n';
}

/** Prints structured data in the chosen format; `table` uses the columns, `name` the name function. */
export function emit<T>(
  w: Writer,
  format: OutputFormat,
  data: unknown,
  view: { rows?: readonly T[]; columns?: readonly Column<T>[]; name?: (row: T) => string; text?: () => string },
): void {
  switch (format) {
    case 'json':
      w.out(JSON.stringify(data, null, 2) + '\n');
      return;
    case 'yaml':
      w.out(toYaml(data));
      return;
    case 'name':
      if (view.rows && view.name) {
        for (const r of view.rows) w.out(view.name(r) + '\n');
        return;
      }
      break;
    default:
      break;
  }
  if (view.text) {
    w.out(view.text());
    return;
  }
  if (view.rows && view.columns) w.out(renderTable(view.rows, view.columns, format === 'wide'));
}

export function formatBytes(n: number): string {
  if (!Number.isFinite(n)) return '-';
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let v = n;
  let i = 0;
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  return i === 0 ? `${v} B` : `${v.toFixed(1)} ${units[i]}`;
}

export function shortDigest(digest: string): string {
  const [alg, hex] = digest.split(':');
  return hex ? `${alg}:${hex.slice(0, 12)}` : digest;
}
