/** The lifecycle policy (`sluice.yaml`): schema, loader with diagnostics, defaults, queries. */
export * from './schema.ts';
export type { Problem } from './problems.ts';
export { formatProblem } from './problems.ts';
export {
  loadPolicy,
  parsePolicy,
  policyError,
  validatePolicyFile,
  validatePolicyText,
  type ParseOptions,
  type ValidationResult,
} from './load.ts';
export { defaultPolicy } from './defaults.ts';
export { renderInitFile } from './init.ts';
export {
  catalogRepositoryFor,
  defaultRegistry,
  nextStage,
  parseRepositoryPath,
  previousStage,
  registryByName,
  repositoryFor,
  resolveRetention,
  stageByName,
  teamByName,
  type RepositoryLocation,
  type RepositoryOwner,
} from './query.ts';
export { formatDuration, parseDuration } from './duration.ts';
export { activeWindow, isValidTimeZone, nextRun, parseCron, type CronSchedule, type ScheduledWindow } from './cron.ts';
export {
  isSecretRef,
  parseCredentialSecret,
  parseSecretRef,
  resolveCredential,
  resolveSecretRef,
  type SecretRef,
} from './secrets.ts';
export { compileTagPattern, globToRegExp, linearRegExp, tagMatcher } from './patterns.ts';
