import type { EntryInfo, ReadContext } from '../../model.ts';
import { malformed, parseFieldRecords } from '../common.ts';

export interface ApkRecord {
  name: string;
  version: string;
  arch?: string;
  origin?: string;
  license?: string;
  line: number;
}

/**
 * apk-tools' installed database: one `K:value` line per field (single-letter keys: `P` name,
 * `V` version, `A` arch, `o` origin, `L` license), packages separated by a blank line.
 * Format: https://wiki.alpinelinux.org/wiki/Apk_spec ("Installed Database").
 */
export function parseApkInstalled(text: string, entry: EntryInfo, ctx: ReadContext): ApkRecord[] {
  const out: ApkRecord[] = [];
  for (const record of parseFieldRecords(text, entry, ctx)) {
    const name = record.fields.get('P');
    const version = record.fields.get('V');
    if (!name || !version) {
      ctx.note(malformed(entry, record.line, `record without ${name ? 'V: (version)' : 'P: (package name)'}`));
      continue;
    }
    const result: ApkRecord = { name, version, line: record.line };
    const arch = record.fields.get('A');
    if (arch) result.arch = arch;
    const origin = record.fields.get('o');
    if (origin) result.origin = origin;
    const license = record.fields.get('L');
    if (license) result.license = license;
    out.push(result);
  }
  return out;
}
