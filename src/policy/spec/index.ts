/**
 * The shape of the `sluice.yaml` document, declared with the combinators of validate.ts, one
 * file per section of the policy. This is the single place that says which keys exist, what they
 * accept and what they default to (as YAML-level values); resolve.ts turns the result into
 * `LifecyclePolicy`.
 */
export { kindOf, policyDocument, type RawPolicy, type RawStage } from './document.ts';
export { RULE_KEYS, type RawRules } from './retention.ts';
export { cron, duration, registryUrl, secretRef, timeZone } from './scalars.ts';
export {
  DEFAULT_NOTICE_DAYS,
  SCAN_KEYWORDS,
  WELL_KNOWN_RETENTION,
  WELL_KNOWN_STAGES,
  type WellKnownRetention,
  wellKnownRetention,
  wellKnownStage,
} from './well-known.ts';
