/**
 * The lifecycle policy as the rest of Sluice reads it: every default applied, every name
 * cross-checked, durations in milliseconds. Nothing here is optional unless "absent" means
 * something (no age limit, no DR replica). The YAML document that produces it is described
 * in docs/policy.md; `spec/` declares its shape.
 */

export const API_VERSION = 'sluice.dev/v1alpha1';
export const POLICY_KIND = 'LifecyclePolicy';
export const SUPPORTED_API_VERSIONS = [API_VERSION] as const;
export const DEFAULT_POLICY_FILE = 'sluice.yaml';

export const REGISTRY_KINDS = ['distribution', 'quay', 'harbor', 'generic'] as const;
export type RegistryKind = (typeof REGISTRY_KINDS)[number];

/** How OCI referrers (signatures, SBOMs) are listed: the referrers API, cosign-style tags, or probe. */
export const REFERRERS_MODES = ['auto', 'api', 'tags'] as const;
export type ReferrersMode = (typeof REFERRERS_MODES)[number];

export const ROLES = [
  'developer',
  'qa',
  'release-manager',
  'operations',
  'security',
  'platform-admin',
  'auditor',
] as const;
export type Role = (typeof ROLES)[number];

export const TRIGGERS = ['automatic', 'manual', 'scheduled'] as const;
export type Trigger = (typeof TRIGGERS)[number];

export const BUILTIN_EVIDENCE_TYPES = {
  build: 'the image was built by the pipeline',
  'unit-tests': 'unit tests passed',
  'code-quality': 'the code-quality gate passed',
  scan: 'a vulnerability scan within the gate thresholds',
  'integration-tests': 'integration tests passed',
  'performance-tests': 'performance tests passed',
  'qa-approval': 'QA approved the image',
  'change-approval': 'the change was approved (e.g. ServiceNow)',
  'smoke-tests': 'smoke tests passed in a production-like environment',
  'rollback-plan': 'a rollback plan is documented',
  'maintenance-window': 'the promotion falls in an approved maintenance window',
  'monitoring-alerts': 'monitoring alerts are configured',
  'rollback-verified': 'the rollback was verified',
  signature: 'a valid signature by one of the gate keys',
} as const;
export type BuiltinEvidenceType = keyof typeof BUILTIN_EVIDENCE_TYPES;
export const BUILTIN_EVIDENCE_NAMES = Object.keys(BUILTIN_EVIDENCE_TYPES) as BuiltinEvidenceType[];

export const SEVERITIES = ['critical', 'high', 'medium', 'low', 'negligible', 'unknown'] as const;
export type Severity = (typeof SEVERITIES)[number];

export const RETENTION_MODES = ['automatic', 'notice', 'manual', 'scheduled'] as const;
export type RetentionMode = (typeof RETENTION_MODES)[number];

export const DEFAULT_CATEGORIES = ['base', 'runtime', 'application', 'tool'] as const;

export const SCANNER_KINDS = ['builtin', 'trivy', 'clair'] as const;
export type ScannerKind = (typeof SCANNER_KINDS)[number];

export const NOTIFICATION_KINDS = ['slack', 'webhook'] as const;
export type NotificationKind = (typeof NOTIFICATION_KINDS)[number];

/** Events a notification channel can subscribe to; `*` means all. */
export const NOTIFICATION_EVENTS = [
  '*',
  'promotion.succeeded',
  'promotion.failed',
  'gate.failed',
  'rollback.succeeded',
  'scan.failed',
  'vulnerability.found',
  'sla.breached',
  'quarantine.applied',
  'retention.notice',
  'retention.applied',
  'signature.invalid',
  'quota.exceeded',
  'deprecated.in-use',
  'compliance.violation',
  'audit.chain-broken',
] as const;
export type NotificationEvent = (typeof NOTIFICATION_EVENTS)[number];

export const WEBHOOK_SOURCES = ['distribution', 'quay', 'harbor'] as const;
export type WebhookSource = (typeof WEBHOOK_SOURCES)[number];

// Audit records go over TCP with octet-counting framing (RFC 6587): UDP would drop them silently.
export const SYSLOG_PROTOCOLS = ['tcp'] as const;

/** `enforce` denies; `warn` admits with warnings (for rolling enforcement out). */
export const ADMISSION_MODES = ['enforce', 'warn'] as const;
export type AdmissionModeName = (typeof ADMISSION_MODES)[number];

export const TEMPLATE_PLACEHOLDERS = ['team', 'stage', 'repo'] as const;
export const DEFAULT_REPOSITORY_TEMPLATE = '{team}-{stage}/{repo}';
export const DEFAULT_VERSION_TAG = '^\\d+\\.\\d+\\.\\d+-\\d+$';
export const DEFAULT_REPOSITORY_NAME = '^[a-z0-9]+(?:[._-][a-z0-9]+)*(?:/[a-z0-9]+(?:[._-][a-z0-9]+)*)*$';
export const DEFAULT_REQUIRED_LABELS = ['version', 'build-date', 'git-commit', 'maintainer', 'security-scan'];

/** A secret reference as written: `env:NAME` or `file:PATH`. Resolve with `resolveSecretRef`. */
export type SecretRefString = string;
/** A signing or verification key: `file:PATH`, `env:NAME`, `hashivault://KEY`, or `dir:PATH` (verification). */
export type KeyRefString = string;

export interface Registry {
  name: string;
  /** Origin of the registry API: `https://quay.example.com`, `http://127.0.0.1:5000` (host lower-cased, default port dropped). */
  url: string;
  /** host[:port], as it appears in image references. */
  host: string;
  kind: RegistryKind;
  credentials?: SecretRefString;
  /** Plain http or unverified TLS to a non-loopback host. */
  insecure: boolean;
  caFile?: string;
  /** Maximum parallel requests to this registry. */
  concurrency: number;
  referrers: ReferrersMode;
  /** Only the limits the policy sets; the rest keep the defaults of the code that enforces them. */
  limits: RegistryLimitSettings;
  /** The registry `{team}-{stage}/{repo}` repositories live in unless a stage says otherwise. */
  default: boolean;
}

export interface RegistryLimitSettings {
  /** Names one listing (tags of a repository, the catalog) may hold. */
  listItems?: number;
  /** Bytes of one listing's pages together. */
  listBytes?: number;
  /** Indexes on a path from a tagged manifest down to an image. */
  indexDepth?: number;
  /** Manifests one index may list. */
  indexChildren?: number;
  /** Time one request may spend waiting for its retries. */
  retryBudgetMs?: number;
  /** Time one sync of this registry may take. */
  syncTimeoutMs?: number;
}

export interface TeamMember {
  user: string;
  roles: Role[];
}

export interface Team {
  name: string;
  contact: string;
  /** Category of the team's images unless an image says otherwise. */
  category: string;
  members: TeamMember[];
}

export interface Category {
  name: string;
  owner?: string;
  description?: string;
}

export interface EvidenceType {
  name: string;
  description: string;
  builtin: boolean;
  /** Evidence older than this does not count (ms). */
  maxAge?: number;
}

export interface Approval {
  /** The evidence type this approval produces (listed in the gate's `require`). */
  type: string;
  role: Role;
  quorum: number;
  /** Only these users may approve (each must also hold `role`). */
  group?: string[];
  /** The approver must not be the one who requested or built the promotion, and approvers must differ. */
  fourEyes: boolean;
}

export interface ScanThresholds {
  /** Highest number of findings per severity that still passes; absent = no limit. */
  maxFindings: Partial<Record<Severity, number>>;
  ignoreUnfixed: boolean;
}

export interface Gate {
  /** Evidence types required for promotion into the stage. */
  require: string[];
  /** Present when `scan` is required. */
  scan?: ScanThresholds;
  approvals: Approval[];
  /** Minimum time in the previous stage (ms); 0 = none. */
  soak: number;
  signature: { required: boolean; keys: KeyRefString[] };
  /** Per evidence type, the age after which evidence no longer counts (ms). */
  evidenceMaxAge: Record<string, number>;
}

export interface MaintenanceWindow {
  cron: string;
  /** ms */
  duration: number;
  timeZone: string;
}

export interface ScanPolicy {
  /** As written: `onPush`, `daily`, `weekly` or a cron expression. */
  schedule: string;
  /** Scan each new digest when it is pushed. */
  onPush: boolean;
  /** Periodic rescans, in the policy time zone; absent for `onPush`. */
  cron?: string;
  /** Longest gap between periodic scans (ms); absent for `onPush`. */
  interval?: number;
}

export interface RetentionRules {
  mode: RetentionMode;
  /** Days between the notice and the deletion (mode `notice`). */
  noticeDays?: number;
  /** When deletions run (mode `scheduled`), cron in the policy time zone. */
  schedule?: string;
  /** Versions older than this are candidates (ms); absent = no age limit. */
  maxAge?: number;
  /** The newest N versions per repository are always kept. */
  keepLast: number;
  /** At most N versions of a curated catalog image (only when `catalog.enabled`). */
  catalogCap: number;
  /** Tags never deleted: globs, or regexes written as `/.../`. Keep wins over delete. */
  keepTags: string[];
  /** Tags deleted regardless of age (still subject to keepTags and protections). */
  deleteTags: string[];
  maxAgeSinceLastPull?: number;
  maxAgeSincePromotion?: number;
  /** An image pulled within this window is never deleted (ms). */
  pullProtectionWindow: number;
  /** Deleted manifests are kept recoverable for `window` ms. Always on for the final stage. */
  trash: { enabled: boolean; window: number };
}

export interface RetentionOverride {
  team?: string;
  /** Glob over the `{repo}` part: `*` within a path segment, `**` across. */
  repository?: string;
  /** Only the rules the override sets. */
  rules: Partial<RetentionRules>;
}

export interface StageRetention extends RetentionRules {
  overrides: RetentionOverride[];
}

export interface DisasterRecovery {
  /** Registry holding the replica. */
  registry: string;
  /** Maximum replication lag (ms). */
  rpo: number;
}

export interface Stage {
  name: string;
  /** Position in promotion order, 0-based. */
  index: number;
  /** The stage images are promoted from; absent for the first stage. */
  from?: string;
  /** Registry name; the default registry unless overridden. */
  registry: string;
  /** Template with `{team}`, `{stage}`, `{repo}`. */
  repository: string;
  /** Moving tag pointing at the current digest of the stage (default: the stage name). */
  stageTag: string;
  /** More moving tags (e.g. `latest`). */
  alsoTag: string[];
  /** Version tags in this stage are never moved or overwritten. */
  immutableTags: boolean;
  trigger: Trigger;
  responsibleRole: Role;
  gate: Gate;
  /** Promotions into the stage happen only inside one of these (when any are given). */
  maintenanceWindows: MaintenanceWindow[];
  retention: StageRetention;
  scan: ScanPolicy;
  /** Sign automatically on promotion into this stage. */
  sign?: { key: KeyRefString };
  dr?: DisasterRecovery;
}

/** `nextCycle`: no fixed date; due with the next scheduled rebuild of the image. */
export type SlaTarget = number | 'nextCycle';

export interface VulnerabilityPolicy {
  sla: Record<Severity, SlaTarget>;
  quarantine: {
    enabled: boolean;
    /** Findings of this severity or worse quarantine the image. */
    onSeverity: Severity;
    tag: string;
    /** Stages whose repositories lose the image (stage tags removed). */
    removeFrom: string[];
  };
  scanner: { kind: ScannerKind; command?: string; url?: string };
  waivers: { maxDuration: number };
}

export interface Naming {
  /** Regex the `{repo}` part must match. */
  repository: string;
  /** Regex immutable version tags must match (`<semver core>-<build>`). */
  versionTag: string;
}

export interface Notification {
  name: string;
  kind: NotificationKind;
  /** The webhook URL is a secret (it carries the token). */
  url: SecretRefString;
  /** `webhook` channels only: the HMAC-SHA256 key the body is signed with (`X-Signature-256`). */
  secret?: SecretRefString;
  events: NotificationEvent[];
}

export interface ChangeManagement {
  kind: 'servicenow';
  url: string;
  credentials: SecretRefString;
}

export interface Catalog {
  enabled: boolean;
  /** Template with `{repo}` only: where curated images live in the default registry. */
  repository: string;
}

export interface ServerConfig {
  listen: string;
  webhooks: Partial<Record<WebhookSource, { secret: SecretRefString }>>;
  syncInterval: number;
  tls?: { certFile: string; keyFile: string };
}

export interface AuditConfig {
  syslog?: { address: string; appName: string; protocol: (typeof SYSLOG_PROTOCOLS)[number] };
}

/** `spec.admission`: the admission webhook's namespace → stage mapping. */
export interface AdmissionConfig {
  /** First match wins. */
  namespaces: { pattern: string; stage: string; mode: AdmissionModeName }[];
  /** Namespace names never sent to the webhook (its namespaceSelector). */
  exclude: string[];
  /** Also serve /admission/mutate, which pins tags to digests. */
  mutate: boolean;
}

/** `spec.identity`: where people log in (src/identity/). */
export interface IdentityConfig {
  ldap?: LdapConfig;
}

export interface LdapConfig {
  url: string;
  startTLS: boolean;
  caFile?: string;
  bindDN: string;
  /** A secret reference (`env:NAME`, `file:PATH`, …), resolved when the server starts. */
  bindPassword: SecretRefString;
  userSearch: { base: string; filter: string; attributes: { displayName?: string; mail?: string } };
  groupSearch?: { base: string; filter: string };
  groups: { dn: string; team?: string; roles: Role[] }[];
}

export interface PolicyMetadata {
  name: string;
  labels: Record<string, string>;
  annotations: Record<string, string>;
}

export interface LifecyclePolicy {
  apiVersion: typeof API_VERSION;
  kind: typeof POLICY_KIND;
  metadata: PolicyMetadata;
  /** Directory relative `file:` references and paths resolve against (the policy file's). */
  baseDir: string;
  /** Default IANA time zone for cron schedules. */
  timeZone: string;
  registries: Registry[];
  teams: Team[];
  categories: Category[];
  /** Built-in and custom, built-ins first. */
  evidenceTypes: EvidenceType[];
  /** In promotion order. */
  stages: Stage[];
  vulnerabilities: VulnerabilityPolicy;
  naming: Naming;
  requiredLabels: string[];
  notifications: Notification[];
  changeManagement?: ChangeManagement;
  catalog: Catalog;
  server: ServerConfig;
  audit: AuditConfig;
  admission: AdmissionConfig;
  identity: IdentityConfig;
}
