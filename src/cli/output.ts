/**
 * Rendering for every command: tables for people, JSON/YAML for pipelines. Data goes to
 * stdout, everything else (progress, warnings, errors) to stderr, as kubectl does.
 */
import { createRequire } from 'node:module';
import type * as Yaml from 'yaml';
import { SluiceError } from '../errors.ts';

/** The YAML library loads on first use: most calls never print YAML, and it is 72 modules. */
function toYaml(data: unknown): string {
  const { stringify } = createRequire(import.meta.url)('yaml') as typeof Yaml;
  return stringify(data);
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

export function renderTable<T>(rows: readonly T[], columns: readonly Column<T>[], wide = false): string {
  const cols = columns.filter((c) => wide || !c.wide);
  const cells = rows.map((r) => cols.map((c) => String(c.value(r) ?? '')));
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
