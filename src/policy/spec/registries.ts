/**
 * `spec.registries`: where images live, and the bounds on what a registry's answers may make Sluice do.
 */
import { REFERRERS_MODES, REGISTRY_KINDS } from '../schema.ts';
import { SECRET_REF_FORMS } from '../secrets.ts';
import {
  boolean,
  defines,
  integer,
  object,
  oneOf,
  optional,
  required,
  withDefault,
  type Ctx,
  type ListItem,
  type Loc,
} from '../validate.ts';
import { duration, name, pathString, registryUrl, secretRef } from './scalars.ts';

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

export const registry = object(
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

export function registriesCheck(
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
