/**
 * A Kyverno `ClusterPolicy` (kyverno.io/v1) whose `verifyImages` rules require, per stage,
 * a cosign signature by one of the stage's keys on every image from the stage's
 * repositories. Shape: kyverno/kyverno `config/crds/kyverno/kyverno.io_clusterpolicies.yaml`
 * and api/kyverno/v1 image_verification_types.go.
 *
 * Kyverno matches `imageReferences` with its wildcard package (`*` any run of characters,
 * including "/"; `?` one character) against the full reference, so a Sluice `*` segment
 * becomes `*` (which also reaches deeper paths: more images verified, never fewer) and a
 * literal repository gets `:*` and `@*` for its tags and digests. Sluice signs without a
 * transparency log, hence `rekor.ignoreTlog` and `ctlog.ignoreSCT`.
 */
import { policyName, referenceGlobs, signedStages, type StageTrust } from './stages.ts';

export interface KyvernoOptions {
  /** metadata.name (default "sluice-verify-images"). */
  name?: string;
  /** Enforce (deny) or Audit (report); default Enforce. */
  failureAction?: 'Enforce' | 'Audit';
  /** Let Kyverno pin tags to the verified digest (its default, true). */
  mutateDigest?: boolean;
}

export function kyvernoClusterPolicy(
  stages: readonly StageTrust[],
  options: KyvernoOptions = {},
): Record<string, unknown> {
  const signed = signedStages(stages, 'Kyverno');
  return {
    apiVersion: 'kyverno.io/v1',
    kind: 'ClusterPolicy',
    metadata: {
      name: options.name ?? 'sluice-verify-images',
      labels: { 'app.kubernetes.io/managed-by': 'sluice' },
      annotations: {
        'policies.kyverno.io/title': 'Sluice stage signatures',
        'policies.kyverno.io/description':
          'Images from a stage repository must carry a cosign signature by a key of that stage (exported by sluice policy export).',
      },
    },
    spec: {
      // Signatures are checked when workloads are admitted; background scans would only
      // re-report existing workloads.
      background: false,
      webhookTimeoutSeconds: 15,
      rules: signed.map((s) => ({
        name: `verify-${policyName(s.name)}`,
        match: { any: [{ resources: { kinds: ['Pod'] } }] },
        verifyImages: [
          {
            imageReferences: [
              ...new Set(
                s.repositories.flatMap((r) =>
                  r.patterns.flatMap((p) => referenceGlobs(r.registry, p.replace(/\*\*/g, '*'), '*')),
                ),
              ),
            ],
            failureAction: options.failureAction ?? 'Enforce',
            mutateDigest: options.mutateDigest ?? true,
            verifyDigest: true,
            required: true,
            attestors: [
              {
                count: 1,
                entries: s.publicKeys.map((publicKeys) => ({
                  keys: {
                    publicKeys,
                    signatureAlgorithm: 'sha256',
                    rekor: { ignoreTlog: true },
                    ctlog: { ignoreSCT: true },
                  },
                })),
              },
            ],
          },
        ],
      })),
    },
  };
}
