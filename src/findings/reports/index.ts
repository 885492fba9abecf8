/**
 * Scanner reports into findings. Each format has one reader with the same shape (`isX` to
 * recognise it, `parseX` to read it); `parseReport` picks one by name or by recognition.
 */
import { SluiceError } from '../../errors.ts';
import type { ParsedReport, ReportFormat } from '../model.ts';
import { isClair, isQuay, parseClair, parseQuay } from './clair.ts';
import { isCycloneDx, parseCycloneDx } from './cyclonedx.ts';
import { isGrype, parseGrype } from './grype.ts';
import { invalid } from './read.ts';
import { isTrivy, parseTrivy } from './trivy.ts';

/** Reports are read whole (their structure cross-references); anything larger is refused. */
export const MAX_REPORT_BYTES = 64 * 1024 * 1024;

interface Reader {
  format: ReportFormat;
  recognise: (json: unknown) => boolean;
  parse: (json: unknown, source: string) => ParsedReport;
}

const READERS: readonly Reader[] = [
  { format: 'trivy', recognise: isTrivy, parse: parseTrivy },
  { format: 'grype', recognise: isGrype, parse: parseGrype },
  { format: 'clair', recognise: isClair, parse: parseClair },
  { format: 'quay', recognise: isQuay, parse: parseQuay },
  { format: 'cyclonedx', recognise: isCycloneDx, parse: parseCycloneDx },
];

export type FormatChoice = ReportFormat | 'auto';

/** Reads a report's text. `format: 'clair'` also accepts Quay's shape of a Clair report. */
export function parseReport(text: string, options: { format?: FormatChoice; source?: string } = {}): ParsedReport {
  const source = options.source ?? 'report';
  if (Buffer.byteLength(text) > MAX_REPORT_BYTES) {
    throw new SluiceError(
      'INPUT_TOO_LARGE',
      'invalid-input',
      `${source} is larger than the ${MAX_REPORT_BYTES / 1024 / 1024} MiB a report may be`,
      { location: source },
    );
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (err) {
    throw invalid(source, '', `is not valid JSON: ${(err as Error).message}`);
  }
  const format = options.format ?? 'auto';
  if (format === 'auto') {
    const reader = READERS.find((r) => r.recognise(json));
    if (!reader)
      throw invalid(
        source,
        '',
        'is not a report Sluice reads (Trivy JSON, Grype JSON, Clair v4, Quay security, CycloneDX)',
      );
    return reader.parse(json, source);
  }
  if (format === 'clair' && isQuay(json)) return parseQuay(json, source);
  const reader = READERS.find((r) => r.format === format);
  if (!reader) throw invalid(source, '', `format ${JSON.stringify(format)} is unknown`);
  return reader.parse(json, source);
}

/** A report that names digests must name this one: findings for A never count for B. */
export function assertReportIsFor(report: Pick<ParsedReport, 'digests'>, digest: string, source: string): void {
  if (report.digests.length > 0 && !report.digests.includes(digest)) {
    throw new SluiceError(
      'SCAN_REPORT_MISMATCH',
      'invalid-input',
      `${source} describes ${report.digests[0]}, not ${digest}; a report is evidence only for the digest it scanned`,
      { digest, location: source },
    );
  }
}
