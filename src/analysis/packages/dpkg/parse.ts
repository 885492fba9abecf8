import type { EntryInfo, ReadContext } from '../../model.ts';
import { type FieldRecord, malformed, parseFieldRecords } from '../common.ts';

export interface DpkgRecord {
  name: string;
  version: string;
  arch?: string;
  source: { name: string; version: string };
  line: number;
}

/**
 * One dpkg status database (deb-control(5) paragraphs). Only packages whose status says
 * `installed` are kept: `config-files` and `not-installed` records describe packages that are
 * gone. Distroless images have no Status field in `status.d/*`; those count as installed.
 */
export function parseDpkgStatus(text: string, entry: EntryInfo, ctx: ReadContext): DpkgRecord[] {
  const out: DpkgRecord[] = [];
  for (const record of parseFieldRecords(text, entry, ctx)) {
    const parsed = dpkgRecordOf(record, entry, ctx);
    if (parsed) out.push(parsed);
  }
  return out;
}

function dpkgRecordOf(record: FieldRecord, entry: EntryInfo, ctx: ReadContext): DpkgRecord | undefined {
  const name = record.fields.get('Package');
  const version = record.fields.get('Version');
  const status = record.fields.get('Status');
  if (status !== undefined) {
    const state = status.split(/\s+/)[2];
    if (state !== 'installed') return undefined;
  }
  if (!name || !version) {
    ctx.note(malformed(entry, record.line, `record without ${name ? 'Version' : 'Package'}`));
    return undefined;
  }
  if (!/^[a-z0-9][a-z0-9+.-]*$/.test(name)) {
    ctx.note(malformed(entry, record.line, `package name ${JSON.stringify(name.slice(0, 100))} is not a Debian name`));
    return undefined;
  }
  const result: DpkgRecord = { name, version, source: sourceOf(record, name, version), line: record.line };
  const arch = record.fields.get('Architecture');
  if (arch) result.arch = arch;
  return result;
}

/** `Source: name` or `Source: name (version)`; without it the source is the binary package. */
function sourceOf(record: FieldRecord, name: string, version: string): { name: string; version: string } {
  const raw = record.fields.get('Source');
  if (!raw) return { name, version };
  const match = /^(\S+)(?:\s+\(([^)]+)\))?$/.exec(raw.trim());
  if (!match) return { name, version };
  return { name: match[1] ?? name, version: match[2]?.trim() || version };
}
