/**
 * The policy `sluice init` starts from: the product brief's lifecycle (4 stages, their
 * gates, triggers, retention, scan schedule, SLAs, labels) with one local registry and one
 * example team, so that a fresh checkout works out of the box.
 *
 * Built here in code, independently of the parser, so that the test "the init file parses
 * to defaultPolicy()" checks the parser, the defaults and the template against each other.
 */
import { RETENTION_BASE } from './resolve.ts';
import {
  API_VERSION,
  BUILTIN_EVIDENCE_TYPES,
  DEFAULT_REPOSITORY_NAME,
  DEFAULT_REPOSITORY_TEMPLATE,
  DEFAULT_REQUIRED_LABELS,
  DEFAULT_VERSION_TAG,
  POLICY_KIND,
  type Gate,
  type LifecyclePolicy,
  type RetentionMode,
  type Role,
  type ScanPolicy,
  type Stage,
  type StageRetention,
  type Trigger,
} from './schema.ts';

const H = 3_600_000;
const D = 24 * H;
const Y = 365 * D;

export const DEFAULT_REGISTRY = { name: 'local', url: 'http://127.0.0.1:5000', host: '127.0.0.1:5000' };
export const EXAMPLE_TEAM = 'acme';
/** One example member per role, so every approval path can be tried out. */
export const EXAMPLE_MEMBERS: Array<{ user: string; role: Role }> = [
  { user: 'alice', role: 'developer' },
  { user: 'bob', role: 'qa' },
  { user: 'carol', role: 'release-manager' },
  { user: 'dave', role: 'operations' },
  { user: 'erin', role: 'security' },
  { user: 'frank', role: 'platform-admin' },
  { user: 'grace', role: 'auditor' },
];

export const CATEGORY_DESCRIPTIONS: Record<string, string> = {
  base: 'Operating system base images',
  runtime: 'Language runtimes built on a base image',
  application: 'Team applications built on a runtime image',
  tool: 'Build and operations tooling',
};

function retention(mode: RetentionMode, maxAge: number, extra: Partial<StageRetention> = {}): StageRetention {
  return {
    mode,
    maxAge,
    keepLast: RETENTION_BASE.keepLast,
    catalogCap: RETENTION_BASE.catalogCap,
    keepTags: [],
    deleteTags: [],
    pullProtectionWindow: RETENTION_BASE.pullProtectionWindow,
    trash: { enabled: false, window: RETENTION_BASE.trashWindow },
    overrides: [],
    ...extra,
  };
}

function gate(require: string[], extra: Partial<Gate> = {}): Gate {
  return {
    require,
    approvals: [],
    soak: 0,
    signature: { required: false, keys: [] },
    evidenceMaxAge: {},
    ...extra,
  };
}

const ON_PUSH: ScanPolicy = { schedule: 'onPush', onPush: true };
const WEEKLY: ScanPolicy = { schedule: 'weekly', onPush: false, cron: '0 2 * * 0', interval: 7 * D };
const DAILY: ScanPolicy = { schedule: 'daily', onPush: false, cron: '0 2 * * *', interval: D };

function stage(
  index: number,
  name: string,
  trigger: Trigger,
  responsibleRole: Role,
  immutableTags: boolean,
  g: Gate,
  scan: ScanPolicy,
  r: StageRetention,
  extra: Partial<Stage> = {},
): Stage {
  const s: Stage = {
    name,
    index,
    registry: DEFAULT_REGISTRY.name,
    repository: DEFAULT_REPOSITORY_TEMPLATE,
    stageTag: name,
    alsoTag: [],
    immutableTags,
    trigger,
    responsibleRole,
    gate: g,
    maintenanceWindows: [],
    retention: r,
    scan,
    ...extra,
  };
  return s;
}

export function defaultPolicy(): LifecyclePolicy {
  const stages: Stage[] = [
    stage(
      0,
      'dev',
      'automatic',
      'developer',
      false,
      gate(['build', 'unit-tests', 'code-quality']),
      ON_PUSH,
      retention('automatic', 30 * D),
    ),
    stage(
      1,
      'staging',
      'automatic',
      'qa',
      false,
      gate(['scan', 'integration-tests', 'performance-tests'], {
        scan: { maxFindings: { critical: 0, high: 0 }, ignoreUnfixed: false },
        evidenceMaxAge: { scan: WEEKLY.interval! },
      }),
      WEEKLY,
      retention('notice', 90 * D, { noticeDays: 7 }),
      { from: 'dev' },
    ),
    stage(
      2,
      'preprod',
      'manual',
      'release-manager',
      true,
      gate(['qa-approval', 'change-approval', 'smoke-tests', 'rollback-plan'], {
        approvals: [{ type: 'qa-approval', role: 'qa', quorum: 1, fourEyes: true }],
      }),
      WEEKLY,
      retention('manual', 180 * D),
      { from: 'staging' },
    ),
    stage(
      3,
      'prod',
      'scheduled',
      'operations',
      true,
      gate(['maintenance-window', 'monitoring-alerts', 'rollback-verified', 'signature'], {
        signature: { required: true, keys: ['file:cosign.pub'] },
      }),
      DAILY,
      retention('scheduled', 2 * Y, {
        schedule: '0 3 * * 0',
        trash: { enabled: true, window: RETENTION_BASE.trashWindow },
      }),
      {
        from: 'preprod',
        maintenanceWindows: [{ cron: '0 22 * * 6', duration: 4 * H, timeZone: 'Europe/Berlin' }],
      },
    ),
  ];
  return {
    apiVersion: API_VERSION,
    kind: POLICY_KIND,
    metadata: { name: 'default', labels: {}, annotations: {} },
    baseDir: '.',
    timeZone: 'UTC',
    registries: [
      {
        ...DEFAULT_REGISTRY,
        kind: 'distribution',
        insecure: false,
        concurrency: 8,
        referrers: 'tags',
        limits: {},
        default: true,
      },
    ],
    teams: [
      {
        name: EXAMPLE_TEAM,
        contact: 'acme-platform@example.com',
        category: 'application',
        members: EXAMPLE_MEMBERS.map((m) => ({ user: m.user, roles: [m.role] })),
      },
    ],
    categories: Object.entries(CATEGORY_DESCRIPTIONS).map(([name, description]) => ({ name, description })),
    evidenceTypes: Object.entries(BUILTIN_EVIDENCE_TYPES).map(([name, description]) => ({
      name,
      description,
      builtin: true,
    })),
    stages,
    vulnerabilities: {
      sla: {
        critical: 24 * H,
        high: 7 * D,
        medium: 30 * D,
        low: 'nextCycle',
        negligible: 'nextCycle',
        unknown: 30 * D,
      },
      quarantine: { enabled: true, onSeverity: 'critical', tag: 'quarantine', removeFrom: ['prod'] },
      scanner: { kind: 'builtin' },
      waivers: { maxDuration: 90 * D },
    },
    naming: { repository: DEFAULT_REPOSITORY_NAME, versionTag: DEFAULT_VERSION_TAG },
    requiredLabels: [...DEFAULT_REQUIRED_LABELS],
    notifications: [],
    catalog: { enabled: false, repository: 'catalog/{repo}' },
    server: { listen: '127.0.0.1:8080', webhooks: {}, syncInterval: 15 * 60_000 },
    audit: {},
    admission: { namespaces: [], exclude: [], mutate: false },
    identity: {},
  };
}
