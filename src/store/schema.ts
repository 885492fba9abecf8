/**
 * Row types of every table, as Kysely sees them. One definition serves SQLite and PostgreSQL,
 * so the column types are the common subset of both engines:
 *
 * - Points in time are `bigint` epoch milliseconds (UTC), typed `number`. Integers compare,
 *   index and subtract the same way on both engines, so "lease expired", "older than 30 days"
 *   and "due now" are plain integer comparisons in SQL. ISO-8601 text would sort correctly
 *   only as long as every writer used exactly one format, and PostgreSQL text comparisons go
 *   through the database collation. PostgreSQL's `int8` is parsed into `number` by the store
 *   (see postgres.ts); values beyond 2^53 are refused rather than rounded.
 * - Calendar days (pull counts) are `YYYY-MM-DD` text: a date, not an instant.
 * - JSON documents are text holding compact JSON; the caller parses them.
 * - Booleans are integers 0/1 (SQLite has no boolean type).
 */

export interface MigrationsTable {
  version: number;
  name: string;
  /** SHA-256 of the SQL the migration compiles to on this engine. */
  checksum: string;
  applied_at: number;
}

export interface RegistriesTable {
  name: string;
  url: string;
  /** distribution, quay, harbor, ecr, ... */
  kind: string;
  created_at: number;
}

export interface RepositoriesTable {
  registry: string;
  name: string;
  team: string | null;
  stage: string | null;
  category: string | null;
  last_synced_at: number | null;
}

/** Which digests a repository holds, tagged or not: retention needs untagged ones too. */
export interface RepositoryManifestsTable {
  registry: string;
  repository: string;
  digest: string;
  first_seen: number;
  last_seen: number;
}

export interface ManifestsTable {
  registry: string;
  digest: string;
  media_type: string;
  /** Bytes of the manifest plus every blob it references (for an index: of every child). */
  size: number;
  /** Image creation time from the config, when the image says. */
  created: number | null;
  /** JSON object of config labels. */
  labels: string;
  /** The config's `User`; named so because `user` is reserved in PostgreSQL. */
  config_user: string | null;
  /** JSON array of `os/arch[/variant]` strings. */
  platforms: string;
  base_digest: string | null;
  base_name: string | null;
  config_digest: string | null;
  /** OCI 1.1 `subject` of a referrer (signature, SBOM): the digest it is about. */
  subject_digest: string | null;
  first_seen: number;
  last_seen: number;
}

export interface ManifestChildrenTable {
  registry: string;
  index_digest: string;
  child_digest: string;
  /** `os/arch[/variant]`, null for artifacts without a platform. */
  platform: string | null;
}

export interface ManifestBlobsTable {
  registry: string;
  manifest_digest: string;
  blob_digest: string;
  size: number;
  media_type: string | null;
}

export interface TagsTable {
  registry: string;
  repository: string;
  tag: string;
  digest: string;
  updated_at: number;
}

export interface PullsTable {
  registry: string;
  repository: string;
  digest: string;
  /** UTC calendar day, YYYY-MM-DD. */
  day: string;
  count: number;
}

export interface EventsSeenTable {
  source: string;
  event_id: string;
  received_at: number;
}

export interface JobsTable {
  name: string;
  /** Exactly one of interval_ms and cron is set. */
  interval_ms: number | null;
  cron: string | null;
  next_run_at: number;
  lease_owner: string | null;
  lease_expires_at: number | null;
  last_run_at: number | null;
  /** JSON describing the last run's outcome. */
  last_result: string | null;
}

export interface ApiTokensTable {
  id: string;
  name: string;
  /** Hash of the token; the token itself is never stored. */
  token_hash: string;
  role: string;
  /** JSON array of team names. */
  teams: string;
  created_at: number;
  expires_at: number | null;
  revoked_at: number | null;
  last_used_at: number | null;
}

export interface AuditLogTable {
  seq: number;
  time: number;
  actor: string;
  action: string;
  target_repository: string | null;
  target_digest: string | null;
  target_tag: string | null;
  reason: string | null;
  result: string;
  /** Canonical JSON text (sorted keys, no whitespace), exactly as hashed. */
  details: string;
  prev_hash: string;
  hash: string;
}

/** One row (id = 1) naming the last appended record; appenders lock it to serialise. */
export interface AuditHeadTable {
  id: number;
  seq: number;
  hash: string;
}

export interface Tables {
  sluice_migrations: MigrationsTable;
  registries: RegistriesTable;
  repositories: RepositoriesTable;
  repository_manifests: RepositoryManifestsTable;
  manifests: ManifestsTable;
  manifest_children: ManifestChildrenTable;
  manifest_blobs: ManifestBlobsTable;
  tags: TagsTable;
  pulls: PullsTable;
  events_seen: EventsSeenTable;
  jobs: JobsTable;
  api_tokens: ApiTokensTable;
  audit_log: AuditLogTable;
  audit_head: AuditHeadTable;
  evidence: EvidenceTable;
  promotions: PromotionsTable;
  promotion_locks: PromotionLocksTable;
  holds: HoldsTable;
  trash: TrashTable;
  retention_notices: RetentionNoticesTable;
  retention_approvals: RetentionApprovalsTable;
  workload_usage: WorkloadUsageTable;
  operation_intents: OperationIntentsTable;
  vulndb_records: VulndbRecordsTable;
  vulndb_affected: VulndbAffectedTable;
  vulndb_aliases: VulndbAliasesTable;
  vulndb_imports: VulndbImportsTable;
  scans: ScansTable;
  findings: FindingsTable;
  waivers: WaiversTable;
  login_sessions: LoginSessionsTable;
  layer_analyses: LayerAnalysesTable;
}

export interface EvidenceTable {
  id: string;
  digest: string;
  type: string;
  /** passed | failed */
  status: string;
  stage: string | null;
  team: string | null;
  recorded_by: string;
  /** JSON array of the recorder's roles for the team when recorded. */
  recorded_roles: string;
  recorded_at: number;
  url: string | null;
  /** cli | api | servicenow | trivy | sluice */
  source: string;
  /** JSON object. */
  details: string;
}

export interface PromotionsTable {
  id: string;
  /** promotion | rollback */
  kind: string;
  team: string;
  repo: string;
  digest: string;
  from_stage: string | null;
  to_stage: string;
  source_registry: string;
  source_repository: string;
  target_registry: string;
  target_repository: string;
  version_tag: string | null;
  stage_tag: string;
  /** What the stage tag pointed to before: the rollback target. */
  previous_digest: string | null;
  /** scheduled | running | succeeded | failed | refused | abandoned (its process died) | cancelled */
  status: string;
  requested_by: string;
  requested_at: number;
  scheduled_for: number | null;
  started_at: number | null;
  finished_at: number | null;
  forced: number;
  /** JSON of the gate evaluation. */
  gate: string | null;
  error: string | null;
}

export interface PromotionLocksTable {
  target: string;
  owner: string;
  expires_at: number;
}

export interface HoldsTable {
  id: string;
  digest: string;
  /** quarantine | legal-hold */
  kind: string;
  reason: string;
  created_by: string;
  created_at: number;
  released_by: string | null;
  released_at: number | null;
}

export interface TrashTable {
  id: string;
  registry: string;
  repository: string;
  tag: string | null;
  digest: string;
  media_type: string;
  trash_repository: string;
  trash_tag: string;
  reason: string;
  trashed_by: string;
  trashed_at: number;
  purge_after: number;
  restored_at: number | null;
  restored_by: string | null;
  purged_at: number | null;
}

export interface RetentionNoticesTable {
  registry: string;
  repository: string;
  digest: string;
  tag: string;
  noticed_at: number;
  delete_after: number;
}

export interface RetentionApprovalsTable {
  fingerprint: string;
  approved_by: string;
  approved_at: number;
  scope: string;
}

export interface WorkloadUsageTable {
  cluster: string;
  digest: string;
  reported_at: number;
}

/** A destructive registry call about to be made or made and not yet recorded (see src/audit/intents.ts). */
export interface OperationIntentsTable {
  id: string;
  run_id: string;
  actor: string;
  action: string;
  registry: string;
  repository: string;
  /** `manifest` (deleted by digest) or `tag`. */
  target: string;
  digest: string | null;
  tag: string | null;
  /** JSON of the outcome record's repository, digest, tag, reason and details. */
  record: string;
  intent_seq: number;
  created_at: number;
}

/** One OSV record, whole, keyed by id; `modified` is the record's own text. */
export interface VulndbRecordsTable {
  id: string;
  modified: string;
  /** 0/1: the record carries `withdrawn`. */
  withdrawn: number;
  /** Compact JSON of the record. */
  record: string;
  source: string;
  imported_at: number;
}

/** A package an OSV record names: base ecosystem and (normalised) name. */
export interface VulndbAffectedTable {
  record_id: string;
  ecosystem: string;
  name: string;
}

export interface VulndbAliasesTable {
  alias: string;
  record_id: string;
}

export interface VulndbImportsTable {
  source: string;
  started_at: number;
  finished_at: number;
  added: number;
  updated: number;
  unchanged: number;
}

/** One scanner's report recorded for a digest (or the failure to get one). */
export interface ScansTable {
  id: string;
  digest: string;
  scanner: string;
  format: string;
  started_at: number;
  finished_at: number | null;
  /** ok | failed */
  status: string;
  error: string | null;
  finding_count: number;
  report_digest: string | null;
  actor: string;
}

/** A vulnerability in one package version of one digest, across scanners and rescans. */
export interface FindingsTable {
  digest: string;
  vuln_id: string;
  package_name: string;
  package_version: string;
  /** JSON array. */
  aliases: string;
  ecosystem: string | null;
  purl: string | null;
  fixed_version: string | null;
  severity: string;
  cvss_vector: string | null;
  cvss_score_tenths: number | null;
  /** JSON array, sorted. */
  scanners: string;
  detail: string | null;
  first_seen: number;
  last_seen: number;
  /** open | fixed | waived | not-affected */
  state: string;
  due_at: number;
  resolved_at: number | null;
  notified: string | null;
}

export interface WaiversTable {
  id: string;
  vuln_id: string;
  package_name: string | null;
  digest: string | null;
  /** `team/repo`. */
  repository: string | null;
  team: string;
  reason: string;
  created_by: string;
  created_at: number;
  expires_at: number;
  revoked_at: number | null;
  revoked_by: string | null;
}

/** A person's login: src/identity/sessions.ts. */
export interface LoginSessionsTable {
  id: string;
  /** Hash of the session token; the token itself is never stored. */
  token_hash: string;
  username: string;
  dn: string;
  display_name: string | null;
  /** JSON of the grants (`{ teams, platform }`) read at login or the last refresh. */
  grants: string;
  created_at: number;
  refreshed_at: number;
  expires_at: number;
  ended_at: number | null;
}

/** One layer's analysis, reused by every image holding the layer: src/analysis/records.ts. */
export interface LayerAnalysesTable {
  digest: string;
  /** Format version and reader names the row was made with. */
  analyser: string;
  /** JSON of the LayerAnalysis (Maps as entry arrays, file contents as base64). */
  analysis: string;
  analysed_at: number;
}
