/**
 * `/etc/containers/policy.json` and a `registries.d` file for CRI-O or Podman hosts, as
 * containers-policy.json(5) and containers-registries.d(5) define them (containers/image
 * `docs/`): every scope of a stage that requires signatures gets a `sigstoreSigned`
 * requirement with the stage's keys, and `use-sigstore-attachments` so the signatures are
 * read from the registry.
 *
 * The global default accepts anything unless asked to reject: a host also pulls images
 * Sluice does not manage (pause, system images), and a reject default written without them
 * stops the node. With `reject`, stages that do not require signatures are listed as
 * `insecureAcceptAnything` so their images still pull.
 */
import { exportInvalid, prefixScope, signedStages, checkStages, type StageTrust } from './stages.ts';

export interface ContainersPolicyOptions {
  default?: 'accept' | 'reject';
}

type Requirement = Record<string, unknown>;

export interface ContainersPolicyFiles {
  /** Content of /etc/containers/policy.json. */
  policy: { default: Requirement[]; transports: { docker: Record<string, Requirement[]> } };
  /** Content of /etc/containers/registries.d/sluice.yaml. */
  registriesD: { docker: Record<string, { 'use-sigstore-attachments': boolean }> };
}

export const POLICY_JSON_PATH = '/etc/containers/policy.json';
export const REGISTRIES_D_PATH = '/etc/containers/registries.d/sluice.yaml';

export function containersPolicy(
  stages: readonly StageTrust[],
  options: ContainersPolicyOptions = {},
): ContainersPolicyFiles {
  const signed = signedStages(stages, 'containers-policy.json');
  const reject = options.default === 'reject';
  const docker: Record<string, Requirement[]> = {};
  const owner = new Map<string, string>();
  const registriesD: ContainersPolicyFiles['registriesD'] = { docker: {} };

  const claim = (scope: string, stage: string) => {
    const other = owner.get(scope);
    if (other !== undefined && other !== stage) {
      // Requirements of one scope must all hold, so merging two stages' keys would demand both signatures.
      throw exportInvalid(`stages ${other} and ${stage} both cover ${scope}; a policy.json scope has one owner`, {
        scope,
      });
    }
    owner.set(scope, stage);
  };

  for (const s of signed) {
    const keys = s.publicKeys.map((pem) => Buffer.from(pem, 'utf8').toString('base64'));
    const requirement: Requirement = {
      type: 'sigstoreSigned',
      ...(keys.length === 1 ? { keyData: keys[0] } : { keyDatas: keys }),
      // cosign signatures name the repository only.
      signedIdentity: { type: 'matchRepository' },
    };
    for (const r of s.repositories) {
      for (const p of r.patterns) {
        const scope = prefixScope(s.name, r.registry, p, 'containers-policy.json');
        claim(scope, s.name);
        docker[scope] = [requirement];
        registriesD.docker[scope] = { 'use-sigstore-attachments': true };
      }
    }
  }
  if (reject) {
    for (const s of checkStages(stages).filter((x) => !x.requireSignature)) {
      for (const r of s.repositories) {
        for (const p of r.patterns) {
          const scope = prefixScope(s.name, r.registry, p, 'containers-policy.json');
          claim(scope, s.name);
          docker[scope] = [{ type: 'insecureAcceptAnything' }];
        }
      }
    }
  }
  const sorted = Object.fromEntries(Object.entries(docker).sort(([a], [b]) => (a < b ? -1 : 1)));
  return {
    policy: { default: [{ type: reject ? 'reject' : 'insecureAcceptAnything' }], transports: { docker: sorted } },
    registriesD,
  };
}
