/**
 * Scalars of the policy language: names, durations, schedules, secrets, URLs, patterns.
 */
import { isScalar } from 'yaml';
import { SluiceError } from '../../errors.ts';
import { isValidTag, parseRegistryHost } from '../../oci/reference.ts';
import { isValidTimeZone, knownTimeZones, parseCron } from '../cron.ts';
import { DURATION_EXAMPLES, parseDuration } from '../duration.ts';
import {
  PATH_COMPONENT,
  compileTagPattern,
  linearRegExp,
  parseTemplate,
  renderTemplate,
  repositoryPathProblem,
  type Placeholder,
} from '../patterns.ts';
import { didYouMean } from '../problems.ts';
import { SECRET_REF_FORMS, isSecretRef } from '../secrets.ts';
import {
  describe,
  either,
  fail,
  oneOf,
  parsed,
  string,
  transform,
  type Failure,
  type Input,
  type Validator,
} from '../validate.ts';

import { SCAN_KEYWORDS } from './well-known.ts';

const NAME = /^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$/;

export const name = (what: string) =>
  string({ expected: `a ${what} name (lowercase letters, digits and "-", at most 63)`, pattern: NAME });

export const stageName = string({
  expected: 'a stage name (lowercase letters and digits, "-" between them, at most 32)',
  pattern: /^[a-z0-9]+(?:-[a-z0-9]+)*$/,
  maxLength: 32,
});

export const teamName = parsed('a team name usable as a repository path component, like acme or ki_poc', (s) => {
  if (s.includes('/')) return fail('a team name is one path component and cannot contain "/"');
  if (s.length > 63) return fail('longer than 63 characters');
  if (!PATH_COMPONENT.test(s)) {
    return fail(
      'it must be lowercase letters and digits, separated by ".", "_", "__" or "-", so that it can form a repository path',
    );
  }
  return s;
});

export const userName = string({
  expected: 'a user name (letters, digits, ".", "_", "@", "-")',
  pattern: /^[A-Za-z0-9][A-Za-z0-9._@-]*$/,
  maxLength: 128,
});

export const email = string({ expected: 'an email address', pattern: /^[^\s@]+@[^\s@]+\.[^\s@]+$/ });

export const pathString = string({ expected: 'a file path', minLength: 1 });

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

export const keyRef = (allowDir: boolean) => {
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

export const httpUrl = parsed(
  'an http(s) URL',
  (s) => {
    const u = checkUrl(s, false);
    return u instanceof URL ? s.replace(/\/+$/, '') : u;
  },
  { found: urlFound },
);

export const hostPort = parsed('host:port, like 127.0.0.1:8080 or [::1]:514', (s) => {
  const m = /^(\[[0-9a-fA-F:.]+\]|[A-Za-z0-9](?:[A-Za-z0-9.-]*[A-Za-z0-9])?):(\d{1,5})$/.exec(s);
  if (!m) return fail('expected host:port');
  const port = Number(m[2]);
  if (port < 1 || port > 65535) return fail(`port ${port} is out of range 1-65535`);
  return s;
});

export const regex = parsed('a regular expression', (s) => {
  try {
    new RegExp(s, 'u');
    // Matched by RE2 at run time (naming.versionTag, naming.repository): refuse here what it cannot run.
    linearRegExp(s);
    return s;
  } catch (err) {
    return fail(err instanceof Error ? err.message : String(err));
  }
});

export const tag = parsed('a tag (letters, digits, "_", "." and "-", at most 128)', (s) =>
  isValidTag(s) ? s : fail('not a valid OCI tag'),
);

export const tagPattern = parsed('a tag pattern: a glob like v1.* or a regex written /^v1\\./', (s) => {
  if (s === '') return fail('empty pattern');
  try {
    compileTagPattern(s);
    return s;
  } catch (err) {
    return fail(err instanceof Error ? err.message : String(err));
  }
});

export const repositoryGlob = string({
  expected: 'a repository glob over the {repo} part, like api, tools/* or **',
  pattern: /^[a-z0-9._/*?-]+$/,
});

export const labelKey = string({
  expected: 'a label key (letters, digits, ".", "_", "/" and "-")',
  pattern: /^[A-Za-z0-9](?:[A-Za-z0-9._/-]*[A-Za-z0-9])?$/,
  maxLength: 253,
});

export function template(allowed: readonly Placeholder[], mustHave: readonly Placeholder[]): Validator<string> {
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

export const scanSchedule = parsed(`${SCAN_WORDS.join(', ')} or a cron expression`, (s) => {
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

export const slaTarget = (allowNextCycle: boolean) =>
  either(
    allowNextCycle ? transform(oneOf(['nextCycle'] as const), (v) => v as 'nextCycle') : nextCycleNotAllowed,
    duration(),
    (input) => isScalar(input.node) && input.node.value === 'nextCycle',
    allowNextCycle ? 'a duration like 24h, or nextCycle' : 'a duration like 24h',
  );
