/**
 * `spec.stages`: the stages, their gates, approvals and maintenance windows, and the rules across stages.
 */
import { type YAMLMap } from 'yaml';
import { parseTemplate, renderTemplate, repositoryPathProblem } from '../patterns.ts';
import { didYouMean } from '../problems.ts';
import { DEFAULT_REPOSITORY_TEMPLATE, ROLES, SEVERITIES, TRIGGERS } from '../schema.ts';
import {
  array,
  boolean,
  defines,
  integer,
  object,
  oneOf,
  optional,
  record,
  refers,
  required,
  string,
  uniqueArray,
  withDefault,
  type Ctx,
  type ListItem,
  type Loc,
} from '../validate.ts';
import { evidenceRef } from './evidence.ts';
import { retention } from './retention.ts';
import { cron, duration, keyRef, scanSchedule, stageName, tag, template, timeZone, userName } from './scalars.ts';
import { WELL_KNOWN_STAGES, wellKnownStage } from './well-known.ts';

export const approval = object(
  {
    type: required(evidenceRef),
    role: required(oneOf(ROLES)),
    quorum: withDefault(integer({ min: 1, max: 100 }), 1),
    group: optional(uniqueArray(userName, 'user', { min: 1 })),
    fourEyes: withDefault(boolean(), false),
  },
  {
    check: (a, h) => {
      if (a.group && a.quorum !== undefined && a.quorum > a.group.length) {
        h.report(
          'quorum',
          `at most ${a.group.length} (the size of the group)`,
          String(a.quorum),
          `quorum ${a.quorum} can never be reached by a group of ${a.group.length}`,
        );
      }
      const loc = h.loc('group');
      const { ctx } = h;
      if (a.role === undefined) return;
      ctx.defer(() => {
        for (const user of a.group ?? []) {
          if (!ctx.isDefined('member-role', `${user}/${a.role}`)) {
            ctx.report(
              loc,
              `members of a team with role ${a.role}`,
              `\`${user}\``,
              `user \`${user}\` in the approval group does not hold role \`${a.role}\` in any team`,
            );
          }
        }
      });
    },
  },
);

export const gate = object(
  {
    require: required(uniqueArray(evidenceRef, 'evidence type')),
    scan: optional(
      object({
        maxFindings: withDefault(record(oneOf(SEVERITIES), integer({ min: 0 })), { critical: 0, high: 0 }),
        ignoreUnfixed: withDefault(boolean(), false),
      }),
    ),
    approvals: withDefault(array(approval), []),
    soak: withDefault(duration({ allowZero: true }), '0s'),
    signature: optional(
      object({
        required: optional(boolean()),
        keys: withDefault(uniqueArray(keyRef(true), 'key'), []),
      }),
    ),
    evidenceMaxAge: withDefault(record(string({ expected: 'an evidence type name' }), duration()), {}),
  },
  {
    check: (g, h) => {
      if (g.require === undefined) return;
      const require = g.require;
      const required = new Set(require);
      const seen = new Set<string>();
      for (const a of g.approvals ?? []) {
        const loc = h.ctx.locOf(a, 'type');
        if (!required.has(a.type)) {
          h.ctx.report(
            loc,
            `an evidence type listed in require (${require.join(', ')})`,
            `\`${a.type}\``,
            `approval type \`${a.type}\` is not in this gate's \`require\`; add it there or remove the approval`,
          );
        }
        if (seen.has(a.type))
          h.ctx.report(
            loc,
            'one approval rule per evidence type',
            `\`${a.type}\` again`,
            `duplicate approval rule for \`${a.type}\``,
          );
        seen.add(a.type);
      }
      if (g.scan && !required.has('scan')) {
        h.report(
          'scan',
          '`scan` in require',
          'scan thresholds without the requirement',
          'scan thresholds are set but `scan` is not in `require`, so they would never be checked',
        );
      }
      const sig = g.signature;
      if (sig?.required === true && !required.has('signature')) {
        h.report(
          'signature',
          '`signature` in require',
          'required: true',
          '`signature.required: true` but `signature` is not in `require`; add it there',
        );
      }
      if (sig?.required === false && required.has('signature')) {
        h.report(
          'signature',
          '`signature` not in require',
          'required: false',
          '`signature.required: false` contradicts `signature` in `require`',
        );
      }
      if (required.has('signature') && (sig?.keys.length ?? 0) === 0) {
        h.report(
          sig ? 'signature' : 'require',
          'at least one verification key in signature.keys',
          'no keys',
          'the gate requires a signature but names no key to verify it with (`signature.keys`)',
        );
      }
      if (sig && sig.keys.length > 0 && !required.has('signature')) {
        h.report(
          'signature',
          '`signature` in require',
          'keys without the requirement',
          'signature keys are set but `signature` is not in `require`, so they would never be checked',
        );
      }
      for (const type of Object.keys(g.evidenceMaxAge ?? {})) {
        if (!required.has(type)) {
          h.report(
            'evidenceMaxAge',
            `an evidence type listed in require (${require.join(', ')})`,
            `\`${type}\``,
            `evidenceMaxAge for \`${type}\`, which this gate does not require${didYouMean(type, require)}`,
          );
        }
      }
    },
  },
);

const maintenanceWindow = object({
  cron: required(cron),
  duration: required(duration()),
  timeZone: optional(timeZone),
});

export const stage = object(
  {
    name: required(defines('stage', 'stage', stageName)),
    from: optional(refers('stage', 'stage', stageName)),
    registry: optional(refers('registry', 'registry')),
    dr: optional(object({ registry: required(refers('registry', 'registry')), rpo: withDefault(duration(), '24h') })),
    repository: withDefault(template(['team', 'stage', 'repo'], ['team', 'repo']), DEFAULT_REPOSITORY_TEMPLATE),
    stageTag: optional(tag),
    alsoTag: withDefault(uniqueArray(tag, 'tag'), []),
    immutableTags: optional(boolean()),
    trigger: optional(oneOf(TRIGGERS)),
    responsibleRole: optional(oneOf(ROLES)),
    gate: optional(gate),
    maintenanceWindows: withDefault(array(maintenanceWindow), []),
    retention: withDefault(retention, {}),
    scan: withDefault(object({ schedule: required(scanSchedule) }), { schedule: 'weekly' }),
    sign: optional(object({ key: required(keyRef(false)) })),
  },
  {
    defaults: (node: YAMLMap) => {
      const n = node.get('name');
      return typeof n === 'string' ? wellKnownStage(n) : undefined;
    },
    scope: (node: YAMLMap) => ({ stage: node.get('name') }),
    check: (s, h) => {
      if (s.name === undefined) return;
      const name = s.name;
      if (wellKnownStage(name) === undefined) {
        for (const key of ['trigger', 'responsibleRole', 'gate'] as const) {
          if (!h.has(key)) {
            h.report(
              undefined,
              `\`${key}\` for stage ${name}`,
              'nothing',
              `stage \`${name}\` is not one of the well-known stages (${Object.keys(WELL_KNOWN_STAGES).join(', ')}), so \`${key}\` must be given`,
            );
          }
        }
      }
      if (s.from !== undefined) {
        const from = s.from;
        const loc = h.loc('from');
        // Stage names are defined in list order, so definition order is promotion order.
        h.ctx.defer(() => {
          const own = h.ctx.indexOf('stage', name);
          if (own === 0) {
            h.ctx.report(
              loc,
              'no `from` on the first stage',
              from,
              'the first stage is where images enter; it has no previous stage',
            );
          } else if (h.ctx.isDefined('stage', from) && h.ctx.indexOf('stage', from) >= own) {
            h.ctx.report(
              loc,
              'a stage listed before this one',
              '`' + from + '`',
              '`from` must name an earlier stage (stages are listed in promotion order)',
            );
          }
        });
      }
      const stageTag = s.stageTag ?? (h.has('stageTag') ? undefined : name);
      if (stageTag !== undefined && s.alsoTag?.includes(stageTag)) {
        h.report(
          'alsoTag',
          'tags other than the stage tag',
          stageTag,
          `\`alsoTag\` repeats the stage tag \`${stageTag}\``,
        );
      }
      if (s.trigger === 'scheduled' && s.maintenanceWindows?.length === 0) {
        h.report(
          'trigger',
          'at least one entry in maintenanceWindows',
          'none',
          'a `scheduled` stage needs `maintenanceWindows` to schedule promotions in',
        );
      }
    },
  },
);

export type StageValue = Exclude<ReturnType<typeof stage>, symbol>;

export function stagesCheck(
  items: ListItem<StageValue>[],
  h: { ctx: Ctx; path: string; loc: Loc; complete: boolean; total: number },
): void {
  const { ctx } = h;
  // Deleted prod images must stay recoverable: the final stage's trash cannot be switched off.
  const finalStage = `${h.path}[${h.total - 1}].`;
  for (const loc of ctx.noted('trash-disabled')) {
    if (!loc.path.startsWith(finalStage)) continue;
    const name = ctx.names('stage').at(-1) ?? 'the final stage';
    ctx.report(
      loc,
      'trash enabled (always on for the final stage)',
      'enabled: false',
      `the trash cannot be disabled for the final stage \`${name}\``,
    );
  }
  ctx.defer(() => checkRepositories(ctx, items));
}

/** Every (team, stage) pair must give a valid repository, and no two pairs the same one. */
function checkRepositories(ctx: Ctx, items: ListItem<StageValue>[]): void {
  const defaultRegistry = ctx.names('default-registry')[0] ?? '';
  const teams = ctx.names('team');
  const owners = new Map<string, string>();
  for (const it of items) {
    const s = it.value;
    const registryName = s.registry ?? defaultRegistry;
    if (s.dr && s.dr.registry === registryName) {
      ctx.report(
        ctx.locOf(s.dr, 'registry'),
        'a registry other than the stage registry',
        s.dr.registry,
        'the disaster-recovery replica must live in another registry than the stage',
      );
    }
    const parts = parseTemplate(s.repository);
    for (const t of teams) {
      const repo = renderTemplate(parts, { team: t, stage: s.name, repo: 'x' });
      const why = repositoryPathProblem(repo);
      if (why) {
        ctx.report(
          ctx.locOf(s, 'repository'),
          'a valid repository path for every team',
          repo,
          `team \`${t}\` in stage \`${s.name}\` gives repository "${repo}", which is invalid: ${why}`,
        );
        continue;
      }
      const key = `${registryName}/${repo}`;
      const owner = owners.get(key);
      if (owner !== undefined) {
        ctx.report(
          ctx.locOf(s, 'repository'),
          'a distinct repository per team and stage',
          repo,
          `team \`${t}\` in stage \`${s.name}\` gets the same repositories as ${owner}; add {stage} to the template or use another registry`,
        );
      } else owners.set(key, `team \`${t}\` in stage \`${s.name}\``);
    }
  }
}
