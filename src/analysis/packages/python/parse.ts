import type { EntryInfo, ReadContext } from '../../model.ts';
import { field, malformed, parseFieldRecords } from '../common.ts';

export interface PythonDistribution {
  name: string;
  version: string;
  licenses: string[];
}

/**
 * The header block of core metadata (METADATA or PKG-INFO, the same format:
 * https://packaging.python.org/en/latest/specifications/core-metadata/). The body after the
 * first blank line is the long description and is not read.
 */
export function parseCoreMetadata(text: string, entry: EntryInfo, ctx: ReadContext): PythonDistribution | undefined {
  const [headers] = parseFieldRecords(text, entry, ctx, { headersOnly: true });
  if (!headers) {
    ctx.note(malformed(entry, 1, 'no metadata headers'));
    return undefined;
  }
  const name = field(headers, 'Name')?.trim();
  const version = field(headers, 'Version')?.trim();
  if (!name || !version) {
    ctx.note(malformed(entry, headers.line, `core metadata without ${name ? 'Version' : 'Name'}`));
    return undefined;
  }
  const licenses: string[] = [];
  const expression = field(headers, 'License-Expression')?.trim();
  const license = field(headers, 'License')?.trim();
  // `License` is free text (often the whole licence); only a short one is worth reporting.
  if (expression) licenses.push(expression);
  else if (license && license !== 'UNKNOWN' && license.length <= 100 && !license.includes('\n')) licenses.push(license);
  return { name, version, licenses };
}

/** PEP 503 normalisation, the form purls and OSV's PyPI ecosystem use. */
export function normalizePythonName(name: string): string {
  return name.toLowerCase().replace(/[-_.]+/g, '-');
}
