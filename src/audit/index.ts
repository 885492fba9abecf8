/** The append-only, hash-chained audit log: append, list, verify, export, live forwarding, intents. */
export {
  appendAudit,
  auditHead,
  iterateAudit,
  listAudit,
  parseAuditAnchor,
  rowToRecord,
  verifyAudit,
  MAX_LIST_LIMIT,
} from './log.ts';
export type {
  AppendOptions,
  AuditAnchor,
  AuditDefect,
  AuditFilter,
  AuditFirstBad,
  AuditSink,
  AuditVerification,
  ListOptions,
} from './log.ts';
export {
  AUDIT_ACTIONS,
  AUDIT_FORMAT,
  AUDIT_RESULTS,
  GENESIS_HASH,
  REDACTED,
  canonicalForm,
  canonicalJson,
  hashRecord,
  redactDetails,
  redactText,
} from './record.ts';
export type { AuditInput, AuditRecord, AuditResult, HashedFields, JsonValue } from './record.ts';
export { pendingIntents, recordIntent, sameTarget, settleIntent, settleSuperseded } from './intents.ts';
export type { AuditAppend, IntentInput, IntentOutcome, IntentTarget, OperationIntent } from './intents.ts';
export { CEF_SEVERITY, cefExtensionEscape, cefHeaderEscape, exportAudit, formatCef, formatJsonl } from './export.ts';
export type { AuditExportFormat, ExportOptions } from './export.ts';
export {
  DEFAULT_SD_ID,
  SYSLOG_SEVERITY,
  SyslogForwarder,
  formatSyslog,
  frameOctetCounting,
  sdEscape,
} from './syslog.ts';
export type { FormatOptions, SyslogOptions, SyslogStats } from './syslog.ts';
