/**
 * What the exported cluster policies say, in one plain shape: per stage, its repositories
 * (patterns per registry host), its verification keys and whether it requires signatures.
 * Each exporter turns the patterns into its engine's own matching language; the helpers
 * here do the conversions and refuse what an engine cannot express, rather than emit a
 * policy that silently covers less than the stage.
 *
 * Repository patterns are Sluice's globs over the repository path: `*` within one path
 * segment, `**` across segments, `?` one character (src/policy/patterns.ts).
 */
import { SluiceError } from '../../errors.ts';
import { parseRegistryHost } from '../../oci/reference.ts';
import { publicKeyPem, publicKeysFromPem } from '../../signing/keys.ts';

export interface StageRepositories {
  /** Registry host[:port] as image references spell it. */
  registry: string;
  patterns: readonly string[];
}

export interface StageTrust {
  name: string;
  repositories: readonly StageRepositories[];
  /** `PUBLIC KEY` (SPKI) PEM, ECDSA P-256 as cosign makes them. */
  publicKeys: readonly string[];
  requireSignature: boolean;
}

/** A stage after checking: hosts normalised, one PEM per key, duplicates gone. */
export interface CheckedStage {
  name: string;
  repositories: Array<{ registry: string; patterns: string[] }>;
  publicKeys: string[];
  requireSignature: boolean;
}

const STAGE_NAME = /^[a-z0-9]([a-z0-9-]{0,30}[a-z0-9])?$/;
const SEGMENT = /^(?:\*\*|[a-z0-9._*?-]+)$/;
const LITERAL_SEGMENT = /^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*$/;
const MAX_KEYS = 16;
const MAX_PATTERNS = 256;

export function exportInvalid(message: string, context: Record<string, unknown> = {}): SluiceError {
  return new SluiceError('POLICY_EXPORT_INVALID', 'invalid-input', message, { operation: 'policy-export', ...context });
}

function checkPattern(stage: string, registry: string, pattern: string): void {
  const segments = pattern.split('/');
  const bad = segments.find((s) => !SEGMENT.test(s) || (s.includes('**') && s !== '**'));
  if (pattern === '' || bad !== undefined) {
    throw exportInvalid(
      `stage ${stage}: repository pattern "${pattern}" on ${registry} is not a repository glob (lowercase path segments, "*", "?", and "**" as a whole segment)`,
      { stage, registry, pattern },
    );
  }
}

/** Checks and normalises the stages; throws POLICY_EXPORT_INVALID naming the stage. */
export function checkStages(stages: readonly StageTrust[]): CheckedStage[] {
  const seen = new Set<string>();
  return stages.map((s) => {
    if (!STAGE_NAME.test(s.name)) throw exportInvalid(`stage name "${s.name}" is not a stage name`, { stage: s.name });
    if (seen.has(s.name)) throw exportInvalid(`stage ${s.name} is listed twice`, { stage: s.name });
    seen.add(s.name);
    const repositories = s.repositories.map((r) => {
      const registry = parseRegistryHost(r.registry);
      if (r.patterns.length > MAX_PATTERNS) {
        throw exportInvalid(`stage ${s.name}: more than ${MAX_PATTERNS} repository patterns on ${registry}`, {
          stage: s.name,
        });
      }
      for (const p of r.patterns) checkPattern(s.name, registry, p);
      return { registry, patterns: [...new Set(r.patterns)] };
    });
    if (s.publicKeys.length > MAX_KEYS) {
      throw exportInvalid(`stage ${s.name} has more than ${MAX_KEYS} keys`, { stage: s.name });
    }
    const keys = new Map<string, string>();
    s.publicKeys.forEach((pem, i) => {
      for (const k of publicKeysFromPem(pem, `stage ${s.name} key ${i + 1}`)) keys.set(k.keyId, publicKeyPem(k.key));
    });
    if (s.requireSignature && keys.size === 0) {
      throw exportInvalid(`stage ${s.name} requires signatures but has no key to verify them with`, { stage: s.name });
    }
    if (s.requireSignature && repositories.every((r) => r.patterns.length === 0)) {
      throw exportInvalid(`stage ${s.name} requires signatures but lists no repository`, { stage: s.name });
    }
    return { name: s.name, repositories, publicKeys: [...keys.values()], requireSignature: s.requireSignature };
  });
}

/** The checked stages that require signatures; refuses an export that would enforce nothing. */
export function signedStages(stages: readonly StageTrust[], format: string): CheckedStage[] {
  const checked = checkStages(stages).filter((s) => s.requireSignature);
  if (checked.length === 0) {
    throw new SluiceError(
      'POLICY_EXPORT_EMPTY',
      'invalid-input',
      `no stage requires signatures, so there is no ${format} policy to export`,
      { operation: 'policy-export' },
    );
  }
  return checked;
}

/**
 * The repository prefix a containers-policy.json / OpenShift scope can say for a pattern:
 * a literal path, or a literal prefix followed by `/*` or `/**` (a scope also covers
 * deeper paths, which only widens where a signature is required). Anything with a wildcard
 * elsewhere is refused.
 */
export function prefixScope(stage: string, registry: string, pattern: string, format: string): string {
  const segments = pattern.split('/');
  const last = segments.at(-1);
  const prefix = last === '*' || last === '**' ? segments.slice(0, -1) : segments;
  if (prefix.some((s) => !LITERAL_SEGMENT.test(s))) {
    throw exportInvalid(
      `stage ${stage}: repository pattern "${pattern}" on ${registry} cannot be written as a ${format} scope (scopes are repository prefixes); use a literal path, optionally ending in /* or /**`,
      { stage, registry, pattern, format },
    );
  }
  return prefix.length === 0 ? registry : `${registry}/${prefix.join('/')}`;
}

/**
 * References that match every tag and digest of the pattern's repositories, for engines
 * that match the whole reference (`repo:tag`, `repo@sha256:…`) with a glob:
 * `anyTail` is the engine's "anything" (Kyverno `*`, policy-controller `**`).
 */
export function referenceGlobs(registry: string, pattern: string, anyTail: string): string[] {
  // A pattern ending in a wildcard already covers the ":tag" or "@digest" after it.
  if (pattern.endsWith('*')) return [`${registry}/${pattern}`];
  return [`${registry}/${pattern}:${anyTail}`, `${registry}/${pattern}@${anyTail}`];
}

/** The policy object name for a stage (`sluice-<stage>`), a valid Kubernetes name. */
export function policyName(stage: string): string {
  return `sluice-${stage}`;
}
