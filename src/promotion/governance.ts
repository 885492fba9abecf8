/**
 * The governance rule on version tags: in a stage with `immutableTags`, a version tag (the
 * policy's `naming.versionTag`) that moves or disappears outside Sluice is a compliance
 * violation. Inventory sync detects the change and asks these rules; the composition root only
 * plugs them in.
 */
import type { RegistryRef } from '../oci/registry-ref.ts';
import { linearRegExp, type LifecyclePolicy } from '../policy/index.ts';
import type { LifecycleEvents } from '../events/index.ts';

/** A tag change inventory sync saw that broke the rule. */
export interface TagViolation {
  repository: string;
  tag: string;
  change: string;
  digest: string;
  previous: string | null;
  reason: string;
}

/** Why changing `tag` in `repository` breaks the rule, or undefined when it may change. */
export function immutableVersionTagRule(
  policy: LifecyclePolicy,
  classify: (repository: string) => { stage: string | null },
): (repository: string, tag: string) => string | undefined {
  // A user-written pattern: matched in linear time, never by backtracking.
  const versionTag = linearRegExp(policy.naming.versionTag);
  return (repository, tag) => {
    const stage = policy.stages.find((s) => s.name === classify(repository).stage);
    return stage?.immutableTags && versionTag.test(tag) ? `version tags in ${stage.name} are immutable` : undefined;
  };
}

/** The `compliance.violation` event announcing a violation. */
export function tagChangeNotice(reg: RegistryRef, v: TagViolation): LifecycleEvents['compliance.violation'] {
  return {
    subject: `${reg.host}/${v.repository}:${v.tag}`,
    summary: `version tag ${v.repository}:${v.tag} was ${v.change} outside Sluice (${v.reason})`,
    data: { ...v },
  };
}
