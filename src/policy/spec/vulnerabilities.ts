/**
 * `spec.vulnerabilities`: scanners, quarantine and SLA targets.
 */
import { SCANNER_KINDS, SEVERITIES } from '../schema.ts';
import { boolean, object, oneOf, optional, refers, string, uniqueArray, withDefault } from '../validate.ts';
import { duration, httpUrl, slaTarget, stageName, tag } from './scalars.ts';

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

export const vulnerabilities = object({
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
