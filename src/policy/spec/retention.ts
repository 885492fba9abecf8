/**
 * `spec.stages[].retention`: the retention rules of a stage and their overrides.
 */
import { type YAMLMap } from 'yaml';
import { RETENTION_MODES } from '../schema.ts';
import {
  array,
  boolean,
  integer,
  object,
  oneOf,
  optional,
  refers,
  uniqueArray,
  withDefault,
  type Ctx,
} from '../validate.ts';

import { cron, duration, repositoryGlob, tagPattern } from './scalars.ts';
import { wellKnownRetention } from './well-known.ts';

const RULES = {
  mode: optional(oneOf(RETENTION_MODES)),
  noticeDays: optional(integer({ min: 1, max: 365 })),
  schedule: optional(cron),
  maxAge: optional(duration()),
  keepLast: optional(integer({ min: 0, max: 100_000 })),
  catalogCap: optional(integer({ min: 1, max: 1000 })),
  keepTags: optional(uniqueArray(tagPattern, 'pattern')),
  deleteTags: optional(uniqueArray(tagPattern, 'pattern')),
  maxAgeSinceLastPull: optional(duration()),
  maxAgeSincePromotion: optional(duration()),
  pullProtectionWindow: optional(duration({ allowZero: true })),
  trash: optional(
    object(
      { enabled: optional(boolean()), window: optional(duration()) },
      { check: (t, h) => (t.enabled === false ? h.ctx.note('trash-disabled', h.loc('enabled')) : undefined) },
    ),
  ),
};

export const RULE_KEYS = Object.keys(RULES) as Array<keyof typeof RULES>;

const retentionOverride = object(
  {
    team: optional(refers('team', 'team')),
    repository: optional(repositoryGlob),
    ...RULES,
  },
  {
    check: (o, h) => {
      const mode = o.mode ?? (h.ctx.scoped('retentionMode') as string);
      checkRuleConsistency(h.ctx, o, mode, h.ctx.scoped('retentionSchedule') as string | undefined);
      if (!h.has('team') && !h.has('repository')) {
        h.report(
          undefined,
          '`team` and/or `repository`',
          'neither',
          'an override must say what it applies to: `team`, `repository` or both',
        );
      }
      if (!RULE_KEYS.some((k) => h.has(k))) {
        h.report(
          undefined,
          `at least one rule (${RULE_KEYS.join(', ')})`,
          'none',
          'an override without rules changes nothing',
        );
      }
    },
  },
);

/** The stage's effective mode and schedule, for its own checks and those of its overrides. */
function retentionScope(node: YAMLMap, ctx: Ctx): Record<string, unknown> {
  const wk = wellKnownRetention(String(ctx.scoped('stage')));
  const written = node.get('mode');
  const mode = typeof written === 'string' ? written : (wk?.mode ?? 'manual');
  const schedule = node.get('schedule');
  return {
    retentionMode: mode,
    retentionSchedule: typeof schedule === 'string' ? schedule : mode === 'scheduled' ? wk?.schedule : undefined,
  };
}

export const retention = object(
  { ...RULES, overrides: withDefault(array(retentionOverride), []) },
  {
    scope: retentionScope,
    check: (r, h) => {
      const mode = h.ctx.scoped('retentionMode') as string;
      checkRuleConsistency(h.ctx, r, mode, h.ctx.scoped('retentionSchedule') as string | undefined);
    },
  },
);

export type RawRules = {
  [K in keyof typeof RULES]: ReturnType<(typeof RULES)[K]['v']> extends infer R ? Exclude<R, symbol> : never;
};

/** Mode-specific rules must match the mode in effect (inherited from the stage for overrides). */
function checkRuleConsistency(
  ctx: Ctx,
  rules: Partial<RawRules> & object,
  mode: string,
  inheritedSchedule: string | undefined,
): void {
  if (rules.noticeDays !== undefined && mode !== 'notice') {
    ctx.report(
      ctx.locOf(rules, 'noticeDays'),
      'mode: notice',
      `mode: ${mode}`,
      `\`noticeDays\` only applies to mode \`notice\` (this mode is \`${mode}\`)`,
    );
  }
  if (rules.schedule !== undefined && mode !== 'scheduled') {
    ctx.report(
      ctx.locOf(rules, 'schedule'),
      'mode: scheduled',
      `mode: ${mode}`,
      `\`schedule\` only applies to mode \`scheduled\` (this mode is \`${mode}\`)`,
    );
  }
  if (mode === 'scheduled' && rules.schedule === undefined && inheritedSchedule === undefined) {
    ctx.report(
      ctx.locOf(rules, 'mode'),
      'a `schedule` (cron) for mode scheduled',
      'no schedule',
      'mode `scheduled` needs a `schedule` (cron expression)',
    );
  }
}
