/**
 * Questions the rest of Sluice asks of a loaded policy: which stage comes next, where a
 * team's repository lives, which team and stage a repository belongs to, which retention
 * rules apply to it.
 */
import { SluiceError } from '../errors.ts';
import {
  globToRegExp,
  parseTemplate,
  renderTemplate,
  repositoryPathProblem,
  templateMatcher,
  type TemplatePart,
} from './patterns.ts';
import { DEFAULT_NOTICE_DAYS } from './spec/index.ts';
import type {
  LifecyclePolicy,
  Registry,
  RetentionMode,
  RetentionOverride,
  RetentionRules,
  Stage,
  Team,
} from './schema.ts';

export function stageByName(policy: LifecyclePolicy, name: string): Stage | undefined {
  return policy.stages.find((s) => s.name === name);
}

export function teamByName(policy: LifecyclePolicy, name: string): Team | undefined {
  return policy.teams.find((t) => t.name === name);
}

export function registryByName(policy: LifecyclePolicy, name: string): Registry | undefined {
  return policy.registries.find((r) => r.name === name);
}

export function defaultRegistry(policy: LifecyclePolicy): Registry {
  return policy.registries.find((r) => r.default)!;
}

function requireStage(policy: LifecyclePolicy, stage: Stage | string): Stage {
  if (typeof stage !== 'string') return stage;
  const s = stageByName(policy, stage);
  if (!s) {
    throw new SluiceError(
      'STAGE_UNKNOWN',
      'invalid-input',
      `unknown stage "${stage}"; the policy has ${policy.stages.map((x) => x.name).join(', ')}`,
      {
        stage,
      },
    );
  }
  return s;
}

/**
 * The stage images go to from `stage`: the first later stage whose `from` is it. Stages
 * usually form a chain; with `from` skipping ahead, the first in list order wins.
 */
export function nextStage(policy: LifecyclePolicy, stage: Stage | string): Stage | undefined {
  const s = requireStage(policy, stage);
  return policy.stages.find((x) => x.index > s.index && x.from === s.name);
}

/** The stage images come from; undefined for the first stage. */
export function previousStage(policy: LifecyclePolicy, stage: Stage | string): Stage | undefined {
  const s = requireStage(policy, stage);
  return s.from === undefined ? undefined : stageByName(policy, s.from);
}

export interface RepositoryLocation {
  registry: Registry;
  /** Path inside the registry, e.g. `acme-dev/api`. */
  repository: string;
  /** `host/path`, as in an image reference. */
  name: string;
}

const parsedTemplates = new Map<string, TemplatePart[]>();
function partsOf(template: string): TemplatePart[] {
  let p = parsedTemplates.get(template);
  if (!p) {
    p = parseTemplate(template);
    parsedTemplates.set(template, p);
  }
  return p;
}

/** Where `repo` of `team` lives in `stage`. Throws for an unknown stage or team, or a bad name. */
export function repositoryFor(
  policy: LifecyclePolicy,
  where: { team: string; stage: Stage | string; repo: string },
): RepositoryLocation {
  const stage = requireStage(policy, where.stage);
  if (!teamByName(policy, where.team)) {
    throw new SluiceError(
      'TEAM_UNKNOWN',
      'invalid-input',
      `unknown team "${where.team}"; declare it under spec.teams`,
      {
        team: where.team,
      },
    );
  }
  const bad = repositoryPathProblem(where.repo);
  if (bad) {
    throw new SluiceError('REPOSITORY_INVALID', 'invalid-input', `invalid repository name "${where.repo}": ${bad}`, {
      repository: where.repo,
    });
  }
  const repository = renderTemplate(partsOf(stage.repository), {
    team: where.team,
    stage: stage.name,
    repo: where.repo,
  });
  const whole = repositoryPathProblem(repository);
  if (whole) {
    throw new SluiceError('REPOSITORY_INVALID', 'invalid-input', `repository "${repository}" is invalid: ${whole}`, {
      repository,
    });
  }
  const registry = registryByName(policy, stage.registry)!;
  return { registry, repository, name: `${registry.host}/${repository}` };
}

export interface RepositoryOwner {
  team: string;
  stage: string;
  repo: string;
}

const matchers = new WeakMap<LifecyclePolicy, Array<{ stage: Stage; re: RegExp }>>();

/**
 * The inverse of the stage templates: `acme-dev/api` → { team: acme, stage: dev, repo: api }.
 * Only declared teams are recognised (an undeclared team has no owner to act for). Pass the
 * registry (name or host) when stages share a template and differ only by registry.
 */
export function parseRepositoryPath(
  policy: LifecyclePolicy,
  path: string,
  options: { registry?: string } = {},
): RepositoryOwner | undefined {
  let list = matchers.get(policy);
  if (!list) {
    const teams = policy.teams.map((t) => t.name);
    list = policy.stages.map((stage) => ({
      stage,
      re: templateMatcher(partsOf(stage.repository), teams, [stage.name]),
    }));
    matchers.set(policy, list);
  }
  for (const { stage, re } of list) {
    if (options.registry !== undefined) {
      const reg = registryByName(policy, stage.registry)!;
      if (options.registry !== reg.name && options.registry.toLowerCase() !== reg.host) continue;
    }
    const m = re.exec(path);
    if (m?.groups) return { team: m.groups.team!, stage: stage.name, repo: m.groups.repo! };
  }
  return undefined;
}

/** Where a curated catalog image lives (default registry). */
export function catalogRepositoryFor(policy: LifecyclePolicy, repo: string): RepositoryLocation {
  const bad = repositoryPathProblem(repo);
  if (bad)
    throw new SluiceError('REPOSITORY_INVALID', 'invalid-input', `invalid repository name "${repo}": ${bad}`, {
      repository: repo,
    });
  const registry = defaultRegistry(policy);
  const repository = renderTemplate(partsOf(policy.catalog.repository), { repo });
  return { registry, repository, name: `${registry.host}/${repository}` };
}

// ---------------------------------------------------------------------------------------
// Retention

/** Higher keeps more: a conflict between overrides of equal rank resolves to the higher. */
const MODE_CAUTION: Record<RetentionMode, number> = { automatic: 0, notice: 1, scheduled: 2, manual: 3 };

const max = (a: number, b: number) => Math.max(a, b);

/** Two overrides of equal specificity that both match: whichever keeps more wins, field by field. */
function keepWins(a: Partial<RetentionRules>, b: Partial<RetentionRules>): Partial<RetentionRules> {
  const out: Partial<RetentionRules> = { ...a };
  const both = <K extends keyof RetentionRules>(
    k: K,
    f: (x: RetentionRules[K], y: RetentionRules[K]) => RetentionRules[K],
  ) => {
    const x = a[k];
    const y = b[k];
    if (y === undefined) return;
    out[k] = x === undefined ? y : f(x, y);
  };
  both('mode', (x, y) => (MODE_CAUTION[y] > MODE_CAUTION[x] ? y : x));
  both('noticeDays', (x, y) => max(x!, y!));
  both('schedule', (x) => x);
  both('maxAge', (x, y) => max(x!, y!));
  both('keepLast', max);
  both('catalogCap', max);
  both('keepTags', (x, y) => [...new Set([...x, ...y])]);
  both('deleteTags', (x, y) => x.filter((t) => y.includes(t)));
  both('maxAgeSinceLastPull', (x, y) => max(x!, y!));
  both('maxAgeSincePromotion', (x, y) => max(x!, y!));
  both('pullProtectionWindow', max);
  both('trash', (x, y) => ({ enabled: x.enabled || y.enabled, window: max(x.window, y.window) }));
  return out;
}

function specificity(o: RetentionOverride): number {
  return (o.team !== undefined ? 1 : 0) + (o.repository !== undefined ? 2 : 0);
}

/**
 * The retention rules for one repository: the stage's rules, then team overrides, then
 * repository overrides, then overrides naming both; a more specific override replaces the
 * fields it sets. Overrides of equal specificity that both match are combined so that the
 * one keeping more wins, and keep-patterns accumulate across every level: an override can
 * shorten retention, but never un-protect a tag another rule protects.
 *
 * `repository` is the `{repo}` part (e.g. `api`), as matched by override globs.
 */
export function resolveRetention(
  policy: LifecyclePolicy,
  where: { team?: string; stage: Stage | string; repository?: string },
): RetentionRules {
  const stage = requireStage(policy, where.stage);
  const { overrides, ...base } = stage.retention;
  const matching = overrides.filter(
    (o) =>
      (o.team === undefined || o.team === where.team) &&
      (o.repository === undefined ||
        (where.repository !== undefined && globToRegExp(o.repository).test(where.repository))),
  );
  let rules: RetentionRules = { ...base, keepTags: [...base.keepTags] };
  const keep = new Set(base.keepTags);
  for (const level of [1, 2, 3]) {
    const atLevel = matching.filter((o) => specificity(o) === level);
    if (atLevel.length === 0) continue;
    const combined = atLevel.map((o) => o.rules).reduce(keepWins);
    for (const t of combined.keepTags ?? []) keep.add(t);
    rules = { ...rules, ...combined };
  }
  rules.keepTags = [...keep];
  if (rules.mode === 'notice') rules.noticeDays ??= base.noticeDays ?? DEFAULT_NOTICE_DAYS;
  else delete rules.noticeDays;
  if (rules.mode === 'scheduled') rules.schedule ??= base.schedule;
  else delete rules.schedule;
  if (stage.index === policy.stages.length - 1) rules.trash = { ...rules.trash, enabled: true };
  return rules;
}
