/**
 * From the validated document to `LifecyclePolicy`: the defaults that depend on other parts
 * of the document (the default registry, the final stage, the stage's scan interval) are
 * applied here. Runs only on a document without problems, so nothing here can fail.
 */
import { nextRun } from './cron.ts';
import {
  API_VERSION,
  BUILTIN_EVIDENCE_TYPES,
  POLICY_KIND,
  type EvidenceType,
  type Gate,
  type LifecyclePolicy,
  type Registry,
  type RegistryLimitSettings,
  type RetentionOverride,
  type RetentionRules,
  type ScanPolicy,
  type Stage,
  type StageRetention,
} from './schema.ts';
import {
  DEFAULT_NOTICE_DAYS,
  RULE_KEYS,
  SCAN_KEYWORDS,
  wellKnownRetention,
  type RawPolicy,
  type RawRules,
  type RawStage,
} from './spec/index.ts';

const DAY = 24 * 3_600_000;

export const RETENTION_BASE = {
  keepLast: 10,
  catalogCap: 3,
  pullProtectionWindow: 7 * DAY,
  trashWindow: 14 * DAY,
} as const;

/** Scans of `onPush` stages are not repeated; a week is how long such a result is trusted. */
export const ON_PUSH_SCAN_MAX_AGE = 7 * DAY;

/** Longest gap between consecutive runs, sampled from a fixed date so the result is stable. */
export function cronInterval(cron: string): number {
  let t = nextRun(cron, new Date(Date.UTC(2025, 0, 1)));
  let longest = 0;
  for (let i = 0; i < 64; i++) {
    const n = nextRun(cron, t);
    longest = Math.max(longest, n.getTime() - t.getTime());
    t = n;
  }
  return longest;
}

export function resolveScan(schedule: string): ScanPolicy {
  if (schedule === 'onPush') return { schedule, onPush: true };
  const keyword = Object.hasOwn(SCAN_KEYWORDS, schedule) ? SCAN_KEYWORDS[schedule] : undefined;
  if (keyword) return { schedule, onPush: false, cron: keyword.cron, interval: keyword.interval };
  return { schedule, onPush: false, cron: schedule, interval: cronInterval(schedule) };
}

/** Drops keys whose value is undefined, so equal policies are deeply equal however built. */
export function compact<T>(value: T): T {
  if (Array.isArray(value)) return value.map(compact) as T;
  if (value !== null && typeof value === 'object') {
    // Entries, not assignments: a label key `__proto__` stays a key.
    return Object.fromEntries(
      Object.entries(value)
        .filter(([, v]) => v !== undefined)
        .map(([k, v]) => [k, compact(v)]),
    ) as T;
  }
  return value;
}

function resolveStageRetention(raw: RawStage, isFinal: boolean): StageRetention {
  const r = raw.retention;
  const wk = wellKnownRetention(raw.name);
  const mode = r.mode ?? wk?.mode ?? 'manual';
  const rules: RetentionRules = {
    mode,
    noticeDays: mode === 'notice' ? (r.noticeDays ?? wk?.noticeDays ?? DEFAULT_NOTICE_DAYS) : undefined,
    schedule: mode === 'scheduled' ? (r.schedule ?? wk?.schedule) : undefined,
    maxAge: r.maxAge ?? wk?.maxAge,
    keepLast: r.keepLast ?? RETENTION_BASE.keepLast,
    catalogCap: r.catalogCap ?? RETENTION_BASE.catalogCap,
    keepTags: r.keepTags ?? [],
    deleteTags: r.deleteTags ?? [],
    maxAgeSinceLastPull: r.maxAgeSinceLastPull,
    maxAgeSincePromotion: r.maxAgeSincePromotion,
    pullProtectionWindow: r.pullProtectionWindow ?? RETENTION_BASE.pullProtectionWindow,
    trash: {
      enabled: isFinal || (r.trash?.enabled ?? false),
      window: r.trash?.window ?? RETENTION_BASE.trashWindow,
    },
  };
  const overrides: RetentionOverride[] = r.overrides.map((o) => {
    const set: Partial<RetentionRules> = {};
    for (const k of RULE_KEYS) {
      const v = (o as Partial<RawRules>)[k];
      if (v === undefined) continue;
      if (k === 'trash') {
        const t = v as NonNullable<RawRules['trash']>;
        set.trash = { enabled: isFinal || (t.enabled ?? rules.trash.enabled), window: t.window ?? rules.trash.window };
      } else (set as Record<string, unknown>)[k] = v;
    }
    return { team: o.team, repository: o.repository, rules: set };
  });
  return { ...rules, overrides };
}

function resolveGate(raw: NonNullable<RawStage['gate']>, scan: ScanPolicy, evidence: EvidenceType[]): Gate {
  const require = raw.require;
  const maxAge: Record<string, number> = {};
  for (const type of require) {
    const explicit = Object.hasOwn(raw.evidenceMaxAge, type) ? raw.evidenceMaxAge[type] : undefined;
    const dflt =
      type === 'scan' ? (scan.interval ?? ON_PUSH_SCAN_MAX_AGE) : evidence.find((e) => e.name === type)?.maxAge;
    const v = explicit ?? dflt;
    if (v !== undefined) maxAge[type] = v;
  }
  return {
    require,
    scan: require.includes('scan')
      ? (raw.scan ?? { maxFindings: { critical: 0, high: 0 }, ignoreUnfixed: false })
      : undefined,
    approvals: raw.approvals,
    soak: raw.soak,
    signature: { required: require.includes('signature'), keys: raw.signature?.keys ?? [] },
    evidenceMaxAge: maxAge,
  };
}

function resolveRegistryLimits(raw: RawPolicy['spec']['registries'][number]['limits']): RegistryLimitSettings {
  const out: RegistryLimitSettings = {};
  if (!raw) return out;
  if (raw.listItems !== undefined) out.listItems = raw.listItems;
  if (raw.listMiB !== undefined) out.listBytes = raw.listMiB * 1024 * 1024;
  if (raw.indexDepth !== undefined) out.indexDepth = raw.indexDepth;
  if (raw.indexChildren !== undefined) out.indexChildren = raw.indexChildren;
  if (raw.retryBudget !== undefined) out.retryBudgetMs = raw.retryBudget;
  if (raw.syncTimeout !== undefined) out.syncTimeoutMs = raw.syncTimeout;
  return out;
}

export function resolvePolicy(raw: RawPolicy, baseDir: string): LifecyclePolicy {
  const spec = raw.spec;
  const registries: Registry[] = spec.registries.map((r) => ({
    name: r.name,
    url: r.url,
    host: new URL(r.url).host,
    kind: r.kind,
    credentials: r.credentials,
    insecure: r.insecure,
    caFile: r.caFile,
    concurrency: r.concurrency,
    referrers: r.referrers ?? (r.kind === 'distribution' ? 'tags' : 'auto'),
    limits: resolveRegistryLimits(r.limits),
    default: spec.registries.length === 1 || r.default === true,
  }));
  const defaultRegistry = registries.find((r) => r.default)!.name;
  const evidenceTypes: EvidenceType[] = [
    ...Object.entries(BUILTIN_EVIDENCE_TYPES).map(([name, description]) => ({ name, description, builtin: true })),
    ...spec.evidenceTypes.map((e) => ({ name: e.name, description: e.description, builtin: false, maxAge: e.maxAge })),
  ];
  const last = spec.stages.length - 1;
  const stages: Stage[] = spec.stages.map((s, index) => {
    const isFinal = index === last;
    const scan = resolveScan(s.scan.schedule);
    return {
      name: s.name,
      index,
      from: s.from ?? (index > 0 ? spec.stages[index - 1]!.name : undefined),
      registry: s.registry ?? defaultRegistry,
      repository: s.repository,
      stageTag: s.stageTag ?? s.name,
      alsoTag: s.alsoTag,
      immutableTags: s.immutableTags ?? isFinal,
      trigger: s.trigger!,
      responsibleRole: s.responsibleRole!,
      gate: resolveGate(s.gate!, scan, evidenceTypes),
      maintenanceWindows: s.maintenanceWindows.map((w) => ({
        cron: w.cron,
        duration: w.duration,
        timeZone: w.timeZone ?? spec.timeZone,
      })),
      retention: resolveStageRetention(s, isFinal),
      scan,
      sign: s.sign,
      dr: s.dr,
    };
  });
  const v = spec.vulnerabilities;
  return compact({
    apiVersion: API_VERSION,
    kind: POLICY_KIND,
    metadata: raw.metadata,
    baseDir,
    timeZone: spec.timeZone,
    registries,
    teams: spec.teams,
    categories: spec.categories,
    evidenceTypes,
    stages,
    vulnerabilities: {
      sla: v.sla,
      quarantine: { ...v.quarantine, removeFrom: v.quarantine.removeFrom ?? [stages[last]!.name] },
      scanner: v.scanner,
      waivers: v.waivers,
    },
    naming: spec.naming,
    requiredLabels: spec.requiredLabels,
    notifications: spec.notifications,
    changeManagement: spec.changeManagement,
    catalog: spec.catalog,
    server: { ...spec.server, webhooks: compact(spec.server.webhooks) },
    audit: spec.audit,
    admission: spec.admission,
    identity: spec.identity,
  } satisfies LifecyclePolicy);
}
