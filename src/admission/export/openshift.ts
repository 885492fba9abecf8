/**
 * OpenShift `ClusterImagePolicy` / `ImagePolicy` (config.openshift.io/v1), one per stage that
 * requires signatures: CRI-O on every node then refuses to pull an image from the stage's
 * scopes unless a sigstore signature verifies with the stage's public key. Shape:
 * openshift/api config/v1 `0000_10_config-operator_01_clusterimagepolicies.crd.yaml`
 * (and `..._imagepolicies.crd.yaml` for the namespaced kind).
 *
 * Scopes are containers-policy.json(5) `docker` scopes: repository prefixes, no wildcards in
 * the path. The root of trust `PublicKey` holds exactly one key (`keyData`, base64 of the
 * PEM); policies for the same scope are combined as "all of", so a stage with two keys (a
 * rotation) cannot be expressed and is refused. cosign signatures carry only the
 * repository, hence `MatchRepository`.
 */
import { exportInvalid, policyName, prefixScope, signedStages, type StageTrust } from './stages.ts';

const MAX_SCOPES = 256;

export interface OpenShiftOptions {
  kind?: 'ClusterImagePolicy' | 'ImagePolicy';
  /** Required for ImagePolicy. */
  namespace?: string;
}

export function openshiftImagePolicies(
  stages: readonly StageTrust[],
  options: OpenShiftOptions = {},
): Array<Record<string, unknown>> {
  const kind = options.kind ?? 'ClusterImagePolicy';
  if (
    kind === 'ImagePolicy' &&
    (options.namespace === undefined || !/^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/.test(options.namespace))
  ) {
    throw exportInvalid('an OpenShift ImagePolicy is namespaced: give the namespace it applies to');
  }
  return signedStages(stages, 'OpenShift').map((s) => {
    if (s.publicKeys.length !== 1) {
      throw exportInvalid(
        `stage ${s.name} has ${s.publicKeys.length} keys; an OpenShift ${kind} verifies with exactly one public key (export after the key rotation, or use another format)`,
        { stage: s.name },
      );
    }
    const scopes = [
      ...new Set(s.repositories.flatMap((r) => r.patterns.map((p) => prefixScope(s.name, r.registry, p, 'OpenShift')))),
    ];
    if (scopes.length > MAX_SCOPES) {
      throw exportInvalid(
        `stage ${s.name} needs ${scopes.length} scopes; an OpenShift ${kind} takes at most ${MAX_SCOPES}`,
        {
          stage: s.name,
        },
      );
    }
    const metadata: Record<string, unknown> = {
      name: policyName(s.name),
      labels: { 'app.kubernetes.io/managed-by': 'sluice' },
    };
    if (kind === 'ImagePolicy') metadata.namespace = options.namespace;
    return {
      apiVersion: 'config.openshift.io/v1',
      kind,
      metadata,
      spec: {
        scopes,
        policy: {
          rootOfTrust: {
            policyType: 'PublicKey',
            publicKey: { keyData: Buffer.from(s.publicKeys[0]!, 'utf8').toString('base64') },
          },
          signedIdentity: { matchPolicy: 'MatchRepository' },
        },
      },
    };
  });
}
