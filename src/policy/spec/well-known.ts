/**
 * Well-known stages: the defaults of the product brief, applied when a stage has this name.
 * Stages named dev, staging, preprod or prod get them for every key they leave out (a key given
 * replaces the default as a whole, so a custom gate never half-inherits a list). Retention is
 * the exception, merged rule by rule in resolve.ts, because its rules are independent:
 * `retention: { keepLast: 5 }` on dev keeps dev's 30-day maximum age.
 */
import { type RetentionMode } from '../schema.ts';

export const WELL_KNOWN_STAGES: Record<string, Record<string, unknown>> = {
  dev: {
    trigger: 'automatic',
    responsibleRole: 'developer',
    immutableTags: false,
    gate: { require: ['build', 'unit-tests', 'code-quality'] },
    scan: { schedule: 'onPush' },
  },
  staging: {
    trigger: 'automatic',
    responsibleRole: 'qa',
    immutableTags: false,
    gate: {
      require: ['scan', 'integration-tests', 'performance-tests'],
      scan: { maxFindings: { critical: 0, high: 0 } },
    },
    scan: { schedule: 'weekly' },
  },
  preprod: {
    trigger: 'manual',
    responsibleRole: 'release-manager',
    immutableTags: true,
    gate: {
      require: ['qa-approval', 'change-approval', 'smoke-tests', 'rollback-plan'],
      approvals: [{ type: 'qa-approval', role: 'qa', quorum: 1, fourEyes: true }],
    },
    scan: { schedule: 'weekly' },
  },
  prod: {
    trigger: 'scheduled',
    responsibleRole: 'operations',
    immutableTags: true,
    gate: {
      require: ['maintenance-window', 'monitoring-alerts', 'rollback-verified', 'signature'],
      signature: { keys: ['file:cosign.pub'] },
    },
    maintenanceWindows: [{ cron: '0 22 * * 6', duration: '4h' }],
    scan: { schedule: 'daily' },
  },
};

export interface WellKnownRetention {
  mode: RetentionMode;
  maxAge: number;
  noticeDays?: number;
  schedule?: string;
}

const DAY = 24 * 3_600_000;

export const WELL_KNOWN_RETENTION: Record<string, WellKnownRetention> = {
  dev: { mode: 'automatic', maxAge: 30 * DAY },
  staging: { mode: 'notice', noticeDays: 7, maxAge: 90 * DAY },
  preprod: { mode: 'manual', maxAge: 180 * DAY },
  prod: { mode: 'scheduled', schedule: '0 3 * * 0', maxAge: 2 * 365 * DAY },
};

export const DEFAULT_NOTICE_DAYS = 7;

/** The defaults of a well-known stage name; `constructor` or `toString` are no stage's. */
export function wellKnownStage(name: string): Record<string, unknown> | undefined {
  return Object.hasOwn(WELL_KNOWN_STAGES, name) ? WELL_KNOWN_STAGES[name] : undefined;
}

export function wellKnownRetention(name: string): WellKnownRetention | undefined {
  return Object.hasOwn(WELL_KNOWN_RETENTION, name) ? WELL_KNOWN_RETENTION[name] : undefined;
}

/** Resolved schedules for the scan keywords. */
export const SCAN_KEYWORDS: Record<string, { cron: string; interval: number } | undefined> = {
  onPush: undefined,
  daily: { cron: '0 2 * * *', interval: 24 * 3_600_000 },
  weekly: { cron: '0 2 * * 0', interval: 7 * 24 * 3_600_000 },
};
