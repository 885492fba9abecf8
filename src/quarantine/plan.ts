/**
 * What quarantining a digest takes, decided from the state of the registries and the
 * promotion history alone. The plan only names steps still to do, so computing it again after
 * a crash and applying it finishes the job: a quarantined digest never stays tagged in a
 * stage it must leave.
 */

/** One stage repository as it is now. */
export interface StageView {
  stage: string;
  /** `host/path` of the stage repository. */
  repository: string;
  /** The moving tags of the stage (`stageTag` and `alsoTag`) and the digest each points at now. */
  tags: Record<string, string | undefined>;
  /** Digests promoted into this stage, newest first (succeeded promotions and rollbacks). */
  history: string[];
}

export interface QuarantineInput {
  digest: string;
  /** Stages the policy takes quarantined images out of (`quarantine.removeFrom`). */
  removeFrom: readonly string[];
  stages: readonly StageView[];
  /** Digests under a hold (quarantine or legal hold): never a rollback target. */
  held: ReadonlySet<string>;
  /** Digests the registry no longer has in that stage repository, keyed by repository. */
  missing?: ReadonlyMap<string, ReadonlySet<string>>;
  /** Where the evidence copy goes, and whether it is already there. */
  quarantineCopy: { repository: string; tag: string; present: boolean };
  holdPresent: boolean;
  /**
   * Whether the registry can remove one tag and keep the image (Quay and Harbor can; the
   * Distribution API can only delete the manifest, which would break what runs it).
   */
  untagSupported: boolean;
}

export type StageStep =
  | { kind: 'rollback'; stage: string; repository: string; tag: string; from: string; to: string }
  | { kind: 'untag'; stage: string; repository: string; tag: string; from: string; why: string };

/** A tag that must leave the digest but cannot here: admission and verify-deployable block it. */
export interface Unresolved {
  stage: string;
  repository: string;
  tag: string;
  why: string;
}

export interface QuarantinePlan {
  hold: boolean;
  stageSteps: StageStep[];
  unresolved: Unresolved[];
  copy?: { repository: string; tag: string };
  /** Nothing left to do (tags in `unresolved` aside). */
  complete: boolean;
}

/** The newest digest promoted before `digest` that may run in its place. */
export function rollbackTarget(
  view: StageView,
  digest: string,
  held: ReadonlySet<string>,
  missing?: ReadonlySet<string>,
): string | undefined {
  return view.history.find((d) => d !== digest && !held.has(d) && !missing?.has(d));
}

export function planQuarantine(input: QuarantineInput): QuarantinePlan {
  const stageSteps: StageStep[] = [];
  const unresolved: Unresolved[] = [];
  for (const view of input.stages) {
    if (!input.removeFrom.includes(view.stage)) continue;
    // One target for every moving tag of the stage, so they keep agreeing after the rollback.
    const to = rollbackTarget(view, input.digest, input.held, input.missing?.get(view.repository));
    for (const tag of Object.keys(view.tags).sort()) {
      if (view.tags[tag] !== input.digest) continue;
      if (to !== undefined) {
        stageSteps.push({
          kind: 'rollback',
          stage: view.stage,
          repository: view.repository,
          tag,
          from: input.digest,
          to,
        });
        continue;
      }
      const why = view.history.some((d) => d !== input.digest)
        ? 'every digest promoted before it is held or gone'
        : 'no digest was promoted into the stage before it';
      if (input.untagSupported) {
        stageSteps.push({
          kind: 'untag',
          stage: view.stage,
          repository: view.repository,
          tag,
          from: input.digest,
          why,
        });
      } else {
        unresolved.push({
          stage: view.stage,
          repository: view.repository,
          tag,
          why: `${why}, and this registry cannot remove a tag without deleting the image`,
        });
      }
    }
  }
  const copy = input.quarantineCopy.present
    ? undefined
    : { repository: input.quarantineCopy.repository, tag: input.quarantineCopy.tag };
  const hold = !input.holdPresent;
  // Unresolved tags do not keep the plan open: nothing more can be done about them here.
  return { hold, stageSteps, unresolved, copy, complete: !hold && stageSteps.length === 0 && copy === undefined };
}

/** `quarantine/{team}/{repo}` with the placeholders of stage repositories filled in. */
export function quarantineRepository(template: string, vars: { team: string; repo: string }): string {
  return template.replace(/\{(team|repo)\}/g, (_, k: 'team' | 'repo') => vars[k]);
}
