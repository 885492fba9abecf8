/**
 * Registry client settings from the policy's registry list. Kept apart from the runtime so the
 * registry commands (inspect, copy) can use a policy's registries without opening the store.
 */
import { isAbsolute, resolve } from 'node:path';
import { SluiceError } from '../errors.ts';
import { MAX_CERTIFICATE_FILE_BYTES, readInputText } from '../files.ts';
import type { Credential } from '../oci/credentials.ts';
import type { RegistrySettings } from '../oci/pool.ts';
import { resolveCredential, type LifecyclePolicy } from '../policy/index.ts';

/** Client settings for each policy registry, keyed by host[:port] as references name them. */
export async function registrySettings(
  policy: LifecyclePolicy,
  env: NodeJS.ProcessEnv,
): Promise<{ settings: Record<string, RegistrySettings>; credentials: Record<string, Credential> }> {
  const settings: Record<string, RegistrySettings> = {};
  const credentials: Record<string, Credential> = {};
  for (const r of policy.registries) {
    const s: RegistrySettings = {
      url: r.url,
      insecure: r.insecure,
      concurrency: r.concurrency,
      referrers: r.referrers,
    };
    // The sync timeout is the inventory's; the rest bound what the client does.
    const { listItems, listBytes, indexDepth, indexChildren, retryBudgetMs } = r.limits;
    const limits = Object.fromEntries(
      Object.entries({ listItems, listBytes, indexDepth, indexChildren }).filter(([, v]) => v !== undefined),
    );
    if (Object.keys(limits).length) s.limits = limits;
    if (retryBudgetMs !== undefined) s.retry = { budgetMs: retryBudgetMs };
    if (r.caFile) {
      const path = isAbsolute(r.caFile) ? r.caFile : resolve(policy.baseDir, r.caFile);
      s.caPem = await readInputText(path, {
        what: `caFile of registry ${r.name}`,
        limit: MAX_CERTIFICATE_FILE_BYTES,
        unreadable: (errno) =>
          new SluiceError(
            'CA_FILE_UNREADABLE',
            'invalid-input',
            `registry ${r.name}: cannot read caFile ${path}: ${errno}`,
            {
              registry: r.name,
            },
          ),
      });
    }
    settings[r.host] = s;
    if (r.credentials) credentials[r.host] = await resolveCredential(r.credentials, { baseDir: policy.baseDir, env });
  }
  return { settings, credentials };
}
