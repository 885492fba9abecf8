/**
 * Export of the audit log for a SIEM: JSON Lines (one record per line, every field, enough
 * to re-verify the chain, see docs/audit.md) or ArcSight CEF. Records are read a page at a
 * time and written with backpressure, so memory stays flat however long the log is.
 */
import type { Writable } from 'node:stream';
import { SluiceError } from '../errors.ts';
import type { StoreHandle } from '../store/index.ts';
import { VERSION } from '../version.ts';
import { iterateAudit } from './log.ts';
import type { AuditFilter } from './log.ts';
import type { AuditRecord, AuditResult } from './record.ts';

export type AuditExportFormat = 'jsonl' | 'cef';

export interface ExportOptions extends AuditFilter {
  /** Stop after this many records. */
  limit?: number;
  /** Product version in the CEF header; default: Sluice's own. */
  version?: string;
}

/**
 * Field order is fixed so exports diff cleanly. U+2028 and U+2029 are written as escapes:
 * JSON allows them raw, but line readers (Node's readline among them) split lines there.
 */
export function formatJsonl(r: AuditRecord): string {
  const line = JSON.stringify({
    seq: r.seq,
    time: r.time,
    actor: r.actor,
    action: r.action,
    repository: r.repository,
    digest: r.digest,
    tag: r.tag,
    reason: r.reason,
    result: r.result,
    details: r.details,
    prevHash: r.prevHash,
    hash: r.hash,
  });
  return line.replace(/[\u2028\u2029]/g, (c) => `\\u${c.charCodeAt(0).toString(16)}`);
}

/** CEF header fields: backslash and pipe are escaped; a header cannot span lines. */
export function cefHeaderEscape(s: string): string {
  return s.replace(/[\\|]/g, (c) => `\\${c}`).replace(/\r\n|[\r\n]/g, ' ');
}

/** CEF extension values: backslash and equals are escaped; line breaks become \n and \r. */
export function cefExtensionEscape(s: string): string {
  return s.replace(/[\\=]/g, (c) => `\\${c}`).replace(/\r\n|[\r\n]/g, (c) => (c === '\r' ? '\\r' : '\\n'));
}

/** CEF severity (0-10) by result: denials are what a SOC looks at first. */
export const CEF_SEVERITY: Record<AuditResult, number> = { success: 3, failure: 6, denied: 8 };

function truncate(s: string, max: number): string {
  return s.length <= max ? s : `${s.slice(0, max - 1)}…`;
}

/**
 * `CEF:0|Sluice|sluice|<version>|<action>|<action> <result>|<severity>|<extension>`.
 * Extension keys: rt (ms since epoch), externalId (seq), suser (actor), act (action),
 * outcome (result), reason, cs1 repository, cs2 digest, cs3 tag, cs4 hash, cs5 prev hash,
 * cs6 details JSON; each csN with its csNLabel. Lengths are cut to the CEF dictionary's.
 */
export function formatCef(r: AuditRecord, version: string = VERSION): string {
  const header = [
    'CEF:0',
    cefHeaderEscape('Sluice'),
    cefHeaderEscape('sluice'),
    cefHeaderEscape(version),
    cefHeaderEscape(truncate(r.action, 1023)),
    cefHeaderEscape(truncate(`${r.action} ${r.result}`, 512)),
    String(CEF_SEVERITY[r.result]),
  ].join('|');
  const ext: Array<[string, string | number | null]> = [
    ['rt', Date.parse(r.time)],
    ['externalId', r.seq],
    ['suser', truncate(r.actor, 1023)],
    ['act', truncate(r.action, 63)],
    ['outcome', r.result],
    ['reason', r.reason === null ? null : truncate(r.reason, 1023)],
    ['cs1Label', 'repository'],
    ['cs1', r.repository === null ? null : truncate(r.repository, 4000)],
    ['cs2Label', 'digest'],
    ['cs2', r.digest],
    ['cs3Label', 'tag'],
    ['cs3', r.tag],
    ['cs4Label', 'hash'],
    ['cs4', r.hash],
    ['cs5Label', 'prevHash'],
    ['cs5', r.prevHash],
    ['cs6Label', 'details'],
    ['cs6', truncate(JSON.stringify(r.details), 4000)],
  ];
  const pairs = ext
    .filter(([key, value]) => value !== null && !(key.endsWith('Label') && valueOf(ext, key.slice(0, -5)) === null))
    .map(([key, value]) => `${key}=${cefExtensionEscape(String(value))}`);
  return `${header}|${pairs.join(' ')}`;
}

function valueOf(ext: Array<[string, string | number | null]>, key: string): string | number | null {
  return ext.find(([k]) => k === key)?.[1] ?? null;
}

/**
 * Writes matching records, oldest first, one per line, to `out` (left open). Returns how
 * many were written.
 */
export async function exportAudit(
  store: StoreHandle,
  format: AuditExportFormat,
  out: Writable,
  options: ExportOptions = {},
): Promise<number> {
  if (format !== 'jsonl' && format !== 'cef') {
    throw new SluiceError(
      'AUDIT_EXPORT_FORMAT',
      'invalid-input',
      `export format must be jsonl or cef, not ${String(format)}`,
    );
  }
  const version = options.version ?? VERSION;
  const line = format === 'jsonl' ? formatJsonl : (r: AuditRecord) => formatCef(r, version);
  let count = 0;
  for await (const record of iterateAudit(store, options)) {
    if (!out.write(`${line(record)}\n`)) await roomIn(out, count);
    count++;
  }
  return count;
}

/**
 * Waits until `out` takes more. A reader that goes away (an API client hanging up closes the
 * stream without an error, and no 'drain' ever follows) ends the export instead of leaving it
 * waiting forever.
 */
function roomIn(out: Writable, written: number): Promise<void> {
  const gone = () =>
    new SluiceError(
      'AUDIT_EXPORT_ABORTED',
      'unavailable',
      `the audit export stopped after ${written} records: its reader went away`,
    );
  if (out.destroyed) return Promise.reject(gone());
  return new Promise((resolve, reject) => {
    const settle = (err?: Error) => {
      out.off('drain', onDrain);
      out.off('close', onClose);
      out.off('error', settle);
      if (err) reject(err);
      else resolve();
    };
    const onDrain = () => settle();
    const onClose = () => settle(gone());
    out.on('drain', onDrain);
    out.on('close', onClose);
    out.on('error', settle);
  });
}
