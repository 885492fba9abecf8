/**
 * What the package readers share: decoding hostile bytes, the RFC 822-like record format of
 * dpkg, apk and Python metadata (with line numbers for the notes), and purls. Everything here is
 * bounded by the buffer it is given; nothing throws on bad input, it says so through a note.
 */
import { PackageURL } from 'packageurl-js';
import type { AnalysisNote, EntryInfo, OsRelease, ReadContext } from '../model.ts';

/** More records than this in one database is not a real image; the rest is dropped with a note. */
export const MAX_RECORDS_PER_FILE = 200_000;

const decoder = new TextDecoder('utf-8', { fatal: false });

/** Package metadata is UTF-8 in practice; invalid bytes become U+FFFD rather than an error. */
export function decodeText(content: Buffer): string {
  return decoder.decode(content);
}

/** A note about one record of one file, naming both so a reader of the result can look. */
export function malformed(entry: EntryInfo, line: number, what: string): AnalysisNote {
  return {
    code: 'PACKAGE_RECORD_MALFORMED',
    message: `${entry.path}:${line}: ${what}`,
    path: entry.path,
    layer: entry.layer,
  };
}

export interface FieldRecord {
  /** Field names as written (case kept); the first occurrence wins. */
  fields: Map<string, string>;
  /** 1-based line of the record's first field. */
  line: number;
}

/**
 * Parses "Name: value" paragraphs separated by blank lines, with continuation lines starting with
 * a space or a tab (deb822, as dpkg's status file and Python's METADATA headers use it).
 * `headersOnly` stops at the first blank line (METADATA's body is the long description).
 */
export function parseFieldRecords(
  text: string,
  entry: EntryInfo,
  ctx: ReadContext,
  options: { headersOnly?: boolean } = {},
): FieldRecord[] {
  const records: FieldRecord[] = [];
  let current: FieldRecord | undefined;
  let lastField: string | undefined;
  let lineNo = 0;
  let start = 0;
  while (start <= text.length) {
    let end = text.indexOf('\n', start);
    if (end === -1) end = text.length;
    const line = text.slice(start, end).replace(/\r$/, '');
    start = end + 1;
    lineNo++;
    if (line.trim() === '') {
      if (current) {
        records.push(current);
        current = undefined;
        lastField = undefined;
        if (options.headersOnly) break;
        if (records.length >= MAX_RECORDS_PER_FILE) {
          ctx.note(malformed(entry, lineNo, `more than ${MAX_RECORDS_PER_FILE} records; the rest is not read`));
          return records;
        }
      }
      if (end === text.length) break;
      continue;
    }
    if (line.startsWith(' ') || line.startsWith('\t')) {
      if (!current || lastField === undefined) {
        ctx.note(malformed(entry, lineNo, 'continuation line outside a field'));
        continue;
      }
      current.fields.set(lastField, `${current.fields.get(lastField) ?? ''}\n${line.slice(1)}`);
      continue;
    }
    const colon = line.indexOf(':');
    if (colon <= 0) {
      ctx.note(malformed(entry, lineNo, 'line is neither "Field: value" nor a continuation'));
      continue;
    }
    current ??= { fields: new Map(), line: lineNo };
    const name = line.slice(0, colon);
    lastField = name;
    if (!current.fields.has(name)) current.fields.set(name, line.slice(colon + 1).trim());
    else lastField = undefined; // a repeated field's continuation lines belong to the ignored copy
    if (end === text.length) break;
  }
  if (current) records.push(current);
  return records;
}

/** Case-insensitive field lookup (Python metadata field names vary in case between tools). */
export function field(record: FieldRecord, name: string): string | undefined {
  const exact = record.fields.get(name);
  if (exact !== undefined) return exact;
  const lower = name.toLowerCase();
  for (const [key, value] of record.fields) if (key.toLowerCase() === lower) return value;
  return undefined;
}

/** The purl `distro` qualifier for an OS package: `debian-12`, `alpine-3.20.3`, `rhel-9.4`. */
export function distroQualifier(os: OsRelease | undefined): string | undefined {
  if (!os) return undefined;
  return os.versionId ? `${os.id}-${os.versionId}` : os.id;
}

/**
 * A purl string, or undefined with a note when packageurl-js refuses the parts (a hostile name
 * must not stop the other packages of the same file from being reported).
 */
export function purlOf(
  parts: {
    type: string;
    namespace?: string | undefined;
    name: string;
    version?: string | undefined;
    qualifiers?: Record<string, string | undefined>;
  },
  entry: EntryInfo,
  line: number,
  ctx: ReadContext,
): string | undefined {
  const qualifiers: Record<string, string> = {};
  for (const [key, value] of Object.entries(parts.qualifiers ?? {})) if (value) qualifiers[key] = value;
  try {
    return new PackageURL(
      parts.type,
      parts.namespace || undefined,
      parts.name,
      parts.version || undefined,
      Object.keys(qualifiers).length > 0 ? qualifiers : undefined,
      undefined,
    ).toString();
  } catch (err) {
    ctx.note(malformed(entry, line, `no package URL for ${JSON.stringify(parts.name)}: ${(err as Error).message}`));
    return undefined;
  }
}

/** Files in the order a reader should report them (the map's order is the walker's). */
export function sortedFiles<T extends { path: string }>(files: ReadonlyMap<string, T>): T[] {
  return [...files.values()].sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
}

/** Drains what is left of a streamed body, so the walker's tar stream always moves on. */
export async function drain(body: AsyncIterator<Buffer>): Promise<void> {
  for (;;) {
    const { done } = await body.next();
    if (done) return;
  }
}
