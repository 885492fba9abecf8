/**
 * Sigstore policy-controller `ClusterImagePolicy` (policy.sigstore.dev/v1beta1), one per
 * stage that requires signatures: the stage's repositories as `images[].glob`, one `key`
 * authority per stage key (an image passes when any authority verifies). Shape:
 * sigstore/policy-controller `config/300-clusterimagepolicy.yaml`.
 *
 * Globs (pkg/apis/glob/glob.go) match the full reference: `*` any run without "/", `**`
 * anything, no `?`; Docker Hub is `index.docker.io`. Without a `ctlog` the controller skips
 * transparency-log verification for key authorities, which is how Sluice signs. The
 * controller only enforces in namespaces labelled `policy.sigstore.dev/include=true`.
 */
import { exportInvalid, policyName, referenceGlobs, signedStages, type StageTrust } from './stages.ts';

export interface PolicyControllerOptions {
  /** enforce (deny, the default) or warn. */
  mode?: 'enforce' | 'warn';
}

export function policyControllerPolicies(
  stages: readonly StageTrust[],
  options: PolicyControllerOptions = {},
): Array<Record<string, unknown>> {
  return signedStages(stages, 'policy-controller').map((s) => {
    const globs = s.repositories.flatMap((r) =>
      r.patterns.flatMap((p) => {
        if (p.includes('?')) {
          throw exportInvalid(
            `stage ${s.name}: repository pattern "${p}" uses "?", which policy-controller globs do not have`,
            { stage: s.name, pattern: p },
          );
        }
        return referenceGlobs(r.registry === 'docker.io' ? 'index.docker.io' : r.registry, p, '**');
      }),
    );
    return {
      apiVersion: 'policy.sigstore.dev/v1beta1',
      kind: 'ClusterImagePolicy',
      metadata: { name: policyName(s.name), labels: { 'app.kubernetes.io/managed-by': 'sluice' } },
      spec: {
        images: [...new Set(globs)].map((glob) => ({ glob })),
        authorities: s.publicKeys.map((data, i) => ({
          name: `${s.name}-key-${i + 1}`,
          key: { data, hashAlgorithm: 'sha256' },
        })),
        mode: options.mode ?? 'enforce',
      },
    };
  });
}
