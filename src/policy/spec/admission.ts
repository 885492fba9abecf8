/**
 * `spec.admission`: which stage the Kubernetes admission webhook enforces in which namespaces.
 * The rules mirror admissionSettingsProblems in src/admission/decide.ts, reported here at the
 * offending node so that a mistake comes with file:line:column.
 */
import { ADMISSION_MODES } from '../schema.ts';
import { array, boolean, object, oneOf, refers, required, string, uniqueArray, withDefault } from '../validate.ts';

const namespacePattern = string({
  expected: 'a namespace name with "*" and "?" wildcards (lowercase letters, digits, "-"; at most 63 characters)',
  pattern: /^[a-z0-9*?-]{1,63}$/,
});

/** The webhook's namespaceSelector matches names exactly, so exclusions cannot be patterns. */
const namespaceName = string({
  expected: 'a namespace name (lowercase letters, digits and "-", at most 63 characters; no patterns)',
  pattern: /^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/,
});

const namespaceRule = object({
  pattern: required(namespacePattern),
  stage: required(refers('stage', 'stage')),
  mode: required(oneOf(ADMISSION_MODES)),
});

export const admission = object({
  namespaces: withDefault(
    array(namespaceRule, {
      check: (items, h) => {
        const seen = new Map<string, number>();
        let catchAll: number | undefined;
        for (const it of items) {
          const pattern = it.value.pattern;
          const first = seen.get(pattern);
          if (catchAll !== undefined) {
            h.ctx.report(
              it.loc,
              'no rule after the catch-all',
              `pattern "${pattern}"`,
              `comes after the catch-all admission.namespaces[${catchAll}]; it never matches (first match wins)`,
            );
          } else if (first !== undefined) {
            h.ctx.report(
              it.loc,
              'each pattern once',
              `pattern "${pattern}" again`,
              `repeats the pattern of admission.namespaces[${first}]; it never matches (first match wins)`,
            );
          }
          if (first === undefined) seen.set(pattern, it.index);
          if (catchAll === undefined && /^\*+$/.test(pattern)) catchAll = it.index;
        }
      },
    }),
    [],
  ),
  exclude: withDefault(uniqueArray(namespaceName, 'namespace'), []),
  mutate: withDefault(boolean(), false),
});
