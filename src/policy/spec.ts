/**
 * The shape of the `sluice.yaml` document, declared with the combinators of validate.ts.
 * This is the single place that says which keys exist, what they accept and what they
 * default to (as YAML-level values); resolve.ts turns the result into `LifecyclePolicy`.
 *
 * Stages named dev, staging, preprod or prod get the defaults of the product brief for
 * every key they leave out (a key given replaces the default as a whole, so a custom gate
 * never half-inherits a list). Retention is the exception, merged rule by rule in
 * resolve.ts, because its rules are independent: `retention: { keepLast: 5 }` on dev keeps
 * dev's 30-day maximum age.
 */
import { isMap, isScalar, type YAMLMap } from 'yaml';
import { SluiceError } from '../errors.ts';
import { isValidTag, parseRegistryHost } from '../oci/reference.ts';
import { isValidTimeZone, knownTimeZones, parseCron } from './cron.ts';
import { DURATION_EXAMPLES, parseDuration } from './duration.ts';
import {
  PATH_COMPONENT,
  compileTagPattern,
  parseTemplate,
  renderTemplate,
  repositoryPathProblem,
  type Placeholder,
} from './patterns.ts';
import { didYouMean } from './problems.ts';
import {
  API_VERSION,
  DEFAULT_CATEGORIES,
  DEFAULT_REPOSITORY_NAME,
  DEFAULT_REPOSITORY_TEMPLATE,
  DEFAULT_REQUIRED_LABELS,
  DEFAULT_VERSION_TAG,
  NOTIFICATION_EVENTS,
  NOTIFICATION_KINDS,
  POLICY_KIND,
  REFERRERS_MODES,
  REGISTRY_KINDS,
  RETENTION_MODES,
  ROLES,
  SCANNER_KINDS,
  SEVERITIES,
  SUPPORTED_API_VERSIONS,
  SYSLOG_PROTOCOLS,
  TRIGGERS,
  type RetentionMode,
} from './schema.ts';
import { SECRET_REF_FORMS, isSecretRef } from './secrets.ts';
import {
  array,
  boolean,
  defines,
  describe,
  either,
  fail,
  integer,
  object,
  oneOf,
  optional,
  parsed,
  record,
  refers,
  required,
  string,
  transform,
  uniqueArray,
  withDefault,
  type Ctx,
  type Failure,
  type Input,
  type ListItem,
  type Loc,
  type Validator,
} from './validate.ts';

// ---------------------------------------------------------------------------------------
// Well-known stages: the defaults of the product brief, applied when a stage has this name.

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

// ---------------------------------------------------------------------------------------
// Scalars of the policy language

const NAME = /^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$/;
const name = (what: string) =>
  string({ expected: `a ${what} name (lowercase letters, digits and "-", at most 63)`, pattern: NAME });

const stageName = string({
  expected: 'a stage name (lowercase letters and digits, "-" between them, at most 32)',
  pattern: /^[a-z0-9]+(?:-[a-z0-9]+)*$/,
  maxLength: 32,
});

const teamName = parsed('a team name usable as a repository path component, like acme or ki_poc', (s) => {
  if (s.includes('/')) return fail('a team name is one path component and cannot contain "/"');
  if (s.length > 63) return fail('longer than 63 characters');
  if (!PATH_COMPONENT.test(s)) {
    return fail(
      'it must be lowercase letters and digits, separated by ".", "_", "__" or "-", so that it can form a repository path',
    );
  }
  return s;
});

const userName = string({
  expected: 'a user name (letters, digits, ".", "_", "@", "-")',
  pattern: /^[A-Za-z0-9][A-Za-z0-9._@-]*$/,
  maxLength: 128,
});

const email = string({ expected: 'an email address', pattern: /^[^\s@]+@[^\s@]+\.[^\s@]+$/ });
const pathString = string({ expected: 'a file path', minLength: 1 });

function reason(err: unknown): string {
  if (err instanceof SluiceError && typeof err.context.reason === 'string') return err.context.reason;
  return err instanceof Error ? err.message : String(err);
}

export const duration = (opts: { allowZero?: boolean } = {}) =>
  parsed(`a duration like ${DURATION_EXAMPLES}`, (s) => {
    let ms: number;
    try {
      ms = parseDuration(s);
    } catch (err) {
      return fail(reason(err));
    }
    if (ms === 0 && !opts.allowZero) return fail('must be greater than zero');
    return ms;
  });

export const cron = parsed('a 5-field cron expression (minute hour day-of-month month day-of-week)', (s) => {
  try {
    parseCron(s);
    return s.trim();
  } catch (err) {
    return fail(reason(err));
  }
});

export const timeZone = parsed('an IANA time zone like Europe/Berlin or UTC', (s) =>
  isValidTimeZone(s) ? s : fail(`unknown time zone${didYouMean(s, knownTimeZones())}`),
);

/** Never echoes what it found unless it is visibly a reference: it may be a pasted secret. */
function secretFound(input: Input): string {
  const n = input.node;
  if (isScalar(n) && typeof n.value === 'string') {
    return /^(env|file):/.test(n.value) ? describe(n) : 'an inline value (not shown)';
  }
  if (isScalar(n) && n.value !== null) return `an inline ${typeof n.value} (not shown)`;
  return describe(n);
}

export const secretRef = parsed(
  `a secret reference (${SECRET_REF_FORMS})`,
  (s) => {
    if (isSecretRef(s)) return s;
    if (s.startsWith('env:'))
      return fail('environment variable names are letters, digits and "_", not starting with a digit');
    if (s.startsWith('file:')) return fail('the path is empty');
    return fail(
      `secrets must not be written into the policy file: put the value into an environment variable or a file and write ${SECRET_REF_FORMS}`,
    );
  },
  { found: secretFound },
);

const keyRef = (allowDir: boolean) => {
  const forms = `file:PATH, env:NAME, hashivault://KEY${allowDir ? ' or dir:PATH' : ''}`;
  return parsed(
    `a key reference (${forms})`,
    (s) => {
      if (s.includes('-----BEGIN'))
        return fail(
          `keys must not be written into the policy file; reference them (${forms})`,
          'an inline key (not shown)',
        );
      if (isSecretRef(s)) return s;
      if (/^hashivault:\/\/[A-Za-z0-9._/-]+$/.test(s)) return s;
      if (allowDir && /^dir:.+/.test(s)) return s;
      return fail(`expected ${forms}`);
    },
    {
      found: (input) =>
        isScalar(input.node) && typeof input.node.value === 'string' && input.node.value.includes('-----BEGIN')
          ? 'an inline key (not shown)'
          : describe(input.node),
    },
  );
};

function urlFound(input: Input): string {
  const v = isScalar(input.node) ? input.node.value : undefined;
  if (typeof v === 'string' && /^[a-z][a-z0-9+.-]*:\/\/[^/@]*@/i.test(v))
    return 'a URL with inline credentials (not shown)';
  return describe(input.node);
}

function checkUrl(s: string, root: boolean): URL | Failure {
  let u: URL;
  try {
    u = new URL(s);
  } catch {
    return fail('not a URL');
  }
  if (u.protocol !== 'https:' && u.protocol !== 'http:')
    return fail(`scheme "${u.protocol.slice(0, -1)}" is not supported; use https:// (or http://)`);
  if (u.username !== '' || u.password !== '') {
    return fail(
      'credentials in the URL are not allowed; use a secret reference (`credentials: env:NAME`)',
      'a URL with inline credentials (not shown)',
    );
  }
  if (u.hostname === '') return fail('the host is missing');
  if (root && (u.pathname !== '/' || u.search !== '' || u.hash !== '')) {
    return fail('a registry URL is the registry root, without a path (repositories come from the stage templates)');
  }
  if (u.search !== '' || u.hash !== '') return fail('query strings and fragments are not allowed');
  return u;
}

export const registryUrl = parsed(
  'an http(s) URL of the registry root, like https://quay.example.com or http://127.0.0.1:5000',
  (s) => {
    const u = checkUrl(s, true);
    if (!(u instanceof URL)) return u;
    try {
      parseRegistryHost(u.host);
    } catch (err) {
      return fail(err instanceof Error ? err.message : String(err));
    }
    return u.origin;
  },
  { found: urlFound },
);

const httpUrl = parsed(
  'an http(s) URL',
  (s) => {
    const u = checkUrl(s, false);
    return u instanceof URL ? s.replace(/\/+$/, '') : u;
  },
  { found: urlFound },
);

const hostPort = parsed('host:port, like 127.0.0.1:8080 or [::1]:514', (s) => {
  const m = /^(\[[0-9a-fA-F:.]+\]|[A-Za-z0-9](?:[A-Za-z0-9.-]*[A-Za-z0-9])?):(\d{1,5})$/.exec(s);
  if (!m) return fail('expected host:port');
  const port = Number(m[2]);
  if (port < 1 || port > 65535) return fail(`port ${port} is out of range 1-65535`);
  return s;
});

const regex = parsed('a regular expression', (s) => {
  try {
    new RegExp(s, 'u');
    return s;
  } catch (err) {
    return fail(err instanceof Error ? err.message : String(err));
  }
});

const tag = parsed('a tag (letters, digits, "_", "." and "-", at most 128)', (s) =>
  isValidTag(s) ? s : fail('not a valid OCI tag'),
);

const tagPattern = parsed('a tag pattern: a glob like v1.* or a regex written /^v1\\./', (s) => {
  if (s === '') return fail('empty pattern');
  try {
    compileTagPattern(s);
    return s;
  } catch (err) {
    return fail(err instanceof Error ? err.message : String(err));
  }
});

const repositoryGlob = string({
  expected: 'a repository glob over the {repo} part, like api, tools/* or **',
  pattern: /^[a-z0-9._/*?-]+$/,
});

const labelKey = string({
  expected: 'a label key (letters, digits, ".", "_", "/" and "-")',
  pattern: /^[A-Za-z0-9](?:[A-Za-z0-9._/-]*[A-Za-z0-9])?$/,
  maxLength: 253,
});

function template(allowed: readonly Placeholder[], mustHave: readonly Placeholder[]): Validator<string> {
  const names = allowed.map((p) => `{${p}}`).join(', ');
  return parsed(`a repository template using ${names}`, (s) => {
    let parts;
    try {
      parts = parseTemplate(s, allowed);
    } catch (err) {
      return fail((err as Error).message);
    }
    for (const p of mustHave) {
      if (!parts.some((x) => 'placeholder' in x && x.placeholder === p)) return fail(`{${p}} is missing`);
    }
    const sample = renderTemplate(parts, { team: 'team', stage: 'stage', repo: 'repo' });
    const why = repositoryPathProblem(sample);
    if (why) return fail(`it renders to "${sample}", which is not a valid repository path: ${why}`);
    return s;
  });
}

const SCAN_WORDS = Object.keys(SCAN_KEYWORDS);
const scanSchedule = parsed(`${SCAN_WORDS.join(', ')} or a cron expression`, (s) => {
  if (SCAN_WORDS.includes(s)) return s;
  if (/^[A-Za-z]+$/.test(s)) return fail(`unknown schedule${didYouMean(s, SCAN_WORDS)}`);
  try {
    parseCron(s);
    return s.trim();
  } catch (err) {
    return fail(reason(err));
  }
});

const nextCycleNotAllowed = parsed<never>('a duration like 24h', () =>
  fail('`nextCycle` is only allowed for low and negligible findings; give a duration'),
);

const slaTarget = (allowNextCycle: boolean) =>
  either(
    allowNextCycle ? transform(oneOf(['nextCycle'] as const), (v) => v as 'nextCycle') : nextCycleNotAllowed,
    duration(),
    (input) => isScalar(input.node) && input.node.value === 'nextCycle',
    allowNextCycle ? 'a duration like 24h, or nextCycle' : 'a duration like 24h',
  );

// ---------------------------------------------------------------------------------------
// Sections

const LOOPBACK = /^(localhost|.*\.localhost|127(?:\.\d{1,3}){3}|\[::1\])(?::\d+)?$/;

// Bounds on what a registry's answers may make Sluice do (docs/operations.md#limits); each
// key left out keeps its default, which lives with the code that enforces it.
const registryLimits = object({
  listItems: optional(integer({ min: 1, max: 100_000_000 })),
  listMiB: optional(integer({ min: 1, max: 4096 })),
  indexDepth: optional(integer({ min: 1, max: 64 })),
  indexChildren: optional(integer({ min: 1, max: 1_000_000 })),
  retryBudget: optional(duration({ allowZero: true })),
  syncTimeout: optional(duration()),
});

const registry = object(
  {
    name: required(defines('registry', 'registry', name('registry'))),
    url: required(registryUrl),
    kind: required(oneOf(REGISTRY_KINDS)),
    credentials: optional(secretRef),
    insecure: withDefault(boolean(), false),
    caFile: optional(pathString),
    concurrency: withDefault(integer({ min: 1, max: 256 }), 8),
    referrers: optional(oneOf(REFERRERS_MODES)),
    default: optional(boolean()),
    limits: optional(registryLimits),
  },
  {
    hints: {
      username: `inline credentials are not allowed; write \`credentials: ${SECRET_REF_FORMS}\``,
      password: `inline credentials are not allowed; write \`credentials: ${SECRET_REF_FORMS}\``,
      token: `inline credentials are not allowed; write \`credentials: ${SECRET_REF_FORMS}\``,
      auth: `inline credentials are not allowed; write \`credentials: ${SECRET_REF_FORMS}\``,
    },
    check: (r, h) => {
      if (r.url === undefined || r.insecure === undefined) return;
      const u = new URL(r.url);
      if (u.protocol === 'http:' && !LOOPBACK.test(u.host) && !r.insecure) {
        h.report(
          'url',
          'https, or insecure: true for plain http',
          r.url,
          `plain http to ${u.host} (not a loopback address) needs \`insecure: true\``,
        );
      }
      if (u.protocol === 'http:' && r.caFile !== undefined) {
        h.report('caFile', 'an https URL', r.url, '`caFile` has no effect with a plain http URL');
      }
    },
  },
);

const member = object(
  {
    user: required(userName),
    roles: required(uniqueArray(oneOf(ROLES), 'role', { min: 1 })),
  },
  {
    check: (m, h) => {
      // Approval groups check their users against these facts.
      if (m.user === undefined || m.roles === undefined) return;
      const user = m.user;
      h.ctx.builtin(
        'member-role',
        m.roles.map((r) => `${user}/${r}`),
      );
    },
  },
);

const team = object(
  {
    name: required(defines('team', 'team', teamName)),
    contact: required(email),
    category: withDefault(refers('category', 'category'), 'application'),
    members: withDefault(
      array(member, {
        check: (items, h) => {
          const seen = new Set<string>();
          for (const it of items) {
            if (seen.has(it.value.user)) {
              h.ctx.report(
                h.ctx.locOf(it.value, 'user'),
                'each user once per team (list all roles in one entry)',
                `\`${it.value.user}\` again`,
                `user \`${it.value.user}\` is listed twice in this team; give one entry with all roles`,
              );
            }
            seen.add(it.value.user);
          }
        },
      }),
      [],
    ),
  },
  { hints: { owner: 'teams own images; to name a category owner, set `owner` on the category' } },
);

const category = object({
  name: required(defines('category', 'category', name('category'))),
  owner: optional(refers('team', 'team')),
  description: optional(string()),
});

const evidenceType = object({
  name: required(defines('evidence', 'evidence type', name('evidence type'))),
  description: required(string({ minLength: 1 })),
  maxAge: optional(duration()),
});

const evidenceRef = refers('evidence', 'evidence type', string({ expected: 'an evidence type name' }));

const approval = object(
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

const gate = object(
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

const retention = object(
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

const stage = object(
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

const quarantine = object({
  enabled: withDefault(boolean(), true),
  onSeverity: withDefault(oneOf(SEVERITIES), 'critical'),
  tag: withDefault(tag, 'quarantine'),
  removeFrom: optional(uniqueArray(refers('stage', 'stage', stageName), 'stage')),
});

const scanner = object(
  {
    kind: withDefault(oneOf(SCANNER_KINDS), 'builtin'),
    command: optional(string({ minLength: 1 })),
    url: optional(httpUrl),
  },
  {
    check: (s, h) => {
      if (s.kind === undefined) return;
      if (s.kind === 'clair' && s.url === undefined)
        h.report('url', 'the Clair (or Quay) API URL', 'nothing', 'scanner `clair` needs `url`');
      if (s.command !== undefined && s.kind !== 'trivy')
        h.report('command', 'kind: trivy', `kind: ${s.kind}`, '`command` only applies to the `trivy` scanner');
      if (s.url !== undefined && s.kind === 'builtin')
        h.report('url', 'kind: trivy or clair', 'kind: builtin', '`url` does not apply to the built-in scanner');
    },
  },
);

const vulnerabilities = object({
  sla: withDefault(
    object({
      critical: withDefault(slaTarget(false), '24h'),
      high: withDefault(slaTarget(false), '7d'),
      medium: withDefault(slaTarget(false), '30d'),
      low: withDefault(slaTarget(true), 'nextCycle'),
      negligible: withDefault(slaTarget(true), 'nextCycle'),
      unknown: withDefault(slaTarget(false), '30d'),
    }),
    {},
  ),
  quarantine: withDefault(quarantine, {}),
  scanner: withDefault(scanner, {}),
  waivers: withDefault(object({ maxDuration: withDefault(duration(), '90d') }), {}),
});

const naming = object({
  repository: withDefault(regex, DEFAULT_REPOSITORY_NAME),
  versionTag: withDefault(regex, DEFAULT_VERSION_TAG),
});

const notification = object(
  {
    name: required(defines('notification', 'notification', name('notification'))),
    kind: required(oneOf(NOTIFICATION_KINDS)),
    url: required(secretRef),
    secret: optional(secretRef),
    events: required(uniqueArray(oneOf(NOTIFICATION_EVENTS), 'event', { min: 1 })),
  },
  {
    check: (n, h) => {
      // Reported even when the value itself is faulty (an inline secret): both need fixing.
      if (n.kind === 'slack' && h.has('secret')) {
        h.report(
          'secret',
          'no `secret` on a slack channel',
          'kind: slack',
          '`secret` (the HMAC key that signs the body) only applies to `webhook` channels; Slack incoming webhooks are authenticated by their URL',
        );
      }
    },
  },
);

const changeManagement = object({
  kind: required(oneOf(['servicenow'] as const)),
  url: required(httpUrl),
  credentials: required(secretRef),
});

const catalog = object({
  enabled: withDefault(boolean(), false),
  repository: withDefault(template(['repo'], ['repo']), 'catalog/{repo}'),
});

const webhookSecret = object({ secret: required(secretRef) });
const server = object({
  listen: withDefault(hostPort, '127.0.0.1:8080'),
  webhooks: withDefault(
    object({ distribution: optional(webhookSecret), quay: optional(webhookSecret), harbor: optional(webhookSecret) }),
    {},
  ),
  syncInterval: withDefault(duration(), '15m'),
  tls: optional(object({ certFile: required(pathString), keyFile: required(pathString) })),
});

const audit = object({
  syslog: optional(
    object({
      address: required(hostPort),
      appName: withDefault(
        string({ expected: 'an app name (letters, digits, "-", "_", ".")', pattern: /^[A-Za-z0-9._-]{1,48}$/ }),
        'sluice',
      ),
      protocol: withDefault(oneOf(SYSLOG_PROTOCOLS), 'tcp'),
    }),
  ),
});

// ---------------------------------------------------------------------------------------
// Collection-wide rules

function registriesCheck(
  items: ListItem<Exclude<ReturnType<typeof registry>, symbol>>[],
  h: { ctx: Ctx; loc: Loc; complete: boolean; total: number },
): void {
  const defaults = items.filter((i) => i.value.default === true);
  if (h.total === 1 && items.length === 1) {
    const only = items[0]!;
    if (only.value.default === false) {
      h.ctx.report(
        h.ctx.locOf(only.value, 'default'),
        'default: true (or nothing)',
        'default: false',
        'the only registry is the default one; remove `default: false`',
      );
    } else h.ctx.builtin('default-registry', [only.value.name]);
    return;
  }
  if (defaults.length > 1) {
    for (const d of defaults.slice(1)) {
      h.ctx.report(
        h.ctx.locOf(d.value, 'default'),
        'exactly one registry with default: true',
        `also ${defaults[0]!.value.name}`,
        `more than one default registry (\`${defaults[0]!.value.name}\` is already the default)`,
      );
    }
  } else if (defaults.length === 0 && h.complete && h.total > 1) {
    h.ctx.report(
      h.loc,
      'exactly one registry with default: true',
      'none',
      'with several registries, mark the one team repositories live in with `default: true`',
    );
  }
  if (defaults.length >= 1) h.ctx.builtin('default-registry', [defaults[0]!.value.name]);
}

type StageValue = Exclude<ReturnType<typeof stage>, symbol>;

function stagesCheck(
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

const metadata = object({
  name: withDefault(
    string({
      expected: 'a name (lowercase letters, digits, "-" and ".")',
      pattern: /^[a-z0-9](?:[a-z0-9.-]{0,251}[a-z0-9])?$/,
    }),
    'default',
  ),
  labels: withDefault(record(labelKey, string({ expected: 'a string (quote numbers and booleans)' })), {}),
  annotations: withDefault(record(labelKey, string({ expected: 'a string (quote numbers and booleans)' })), {}),
});

const spec = object(
  {
    timeZone: withDefault(timeZone, 'UTC'),
    registries: required(array(registry, { min: 1, check: registriesCheck })),
    teams: withDefault(array(team), []),
    categories: withDefault(
      array(category, { min: 1 }),
      DEFAULT_CATEGORIES.map((c) => ({ name: c })),
    ),
    evidenceTypes: withDefault(array(evidenceType), []),
    stages: required(array(stage, { min: 1, check: stagesCheck })),
    vulnerabilities: withDefault(vulnerabilities, {}),
    naming: withDefault(naming, {}),
    requiredLabels: withDefault(uniqueArray(labelKey, 'label'), DEFAULT_REQUIRED_LABELS),
    notifications: withDefault(array(notification), []),
    changeManagement: optional(changeManagement),
    catalog: withDefault(catalog, {}),
    server: withDefault(server, {}),
    audit: withDefault(audit, {}),
  },
  {
    hints: {
      database: 'the database is configured by the SLUICE_DATABASE_URL environment variable, not in the policy file',
      stage: 'stages are a list: `stages: [{ name: dev, ... }]`',
      registry: 'registries are a list: `registries: [{ name: ..., url: ..., kind: ... }]`',
    },
  },
);

export const policyDocument = object(
  {
    apiVersion: required(oneOf(SUPPORTED_API_VERSIONS, { expected: `apiVersion ${API_VERSION}` })),
    kind: required(oneOf([POLICY_KIND] as const, { expected: `kind ${POLICY_KIND}` })),
    metadata: withDefault(metadata, {}),
    spec: required(spec),
  },
  { hints: { status: '`status` is reported by Sluice, not read from the file' } },
);

export type RawPolicy = Exclude<ReturnType<typeof policyDocument>, symbol>;
export type RawStage = StageValue;

/** Whether a node looks like a document of some kind (for multi-document files). */
export function kindOf(node: unknown): string | undefined {
  if (!isMap(node)) return undefined;
  const k = node.get('kind');
  return typeof k === 'string' ? k : undefined;
}
