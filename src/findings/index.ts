/**
 * Vulnerability findings: one model for every scanner's report, stored per digest with SLA
 * clocks, and waivers. The API other capabilities (CLI, server, gates, quarantine) call.
 */
export { FINDING_STATES, REPORT_FORMATS, SCANNERS, findingKey } from './model.ts';
export type {
  AffectedPackage,
  Cvss,
  FindingState,
  ParsedReport,
  ReportFormat,
  ReportedFinding,
  Scanner,
} from './model.ts';
export { MAX_REPORT_BYTES, assertReportIsFor, parseReport, type FormatChoice } from './reports/index.ts';
export { clockState, dueDate, dueWithin, type ClockState, type Due } from './sla.ts';
export {
  LAST_SEEN_RESOLUTION_MS,
  diffFindings,
  validateWaiver,
  waivedUntil,
  waiverCovers,
  waiverValidAt,
  type FindingWrites,
  type ImageScope,
  type StoredFinding,
  type Waiver,
  type WaiverRequest,
} from './decide.ts';
export {
  DUE_SOON_MS,
  NEXT_CYCLE_FALLBACK_MS,
  addWaiver,
  findingsForDigest,
  importReport,
  listFindings,
  listWaivers,
  parseExpiry,
  recordFailedScan,
  recordReport,
  revokeWaiver,
  type FindingFilter,
  type FindingView,
  type FindingsDeps,
  type ReadState,
  type RecordResult,
} from './service.ts';
