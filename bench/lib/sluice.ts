/**
 * Loads the Sluice library from a source tree: this repository, or another checkout given
 * with `--candidate DIR` (a tree with `src/` and `bin/`, e.g. a scratch copy with a change
 * to `src/oci/`), so a change can be measured side by side with the current code in one run.
 */
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import type { ReferrersMode } from '../../src/oci/client.ts';
import type * as CopyModule from '../../src/oci/copy.ts';
import type * as PoolModule from '../../src/oci/pool.ts';
import type * as ReferenceModule from '../../src/oci/reference.ts';
import { REPO_ROOT } from './processes.ts';

export interface SluiceBuild {
  /** `sluice` for this repository, `candidate` for `--candidate`. */
  name: string;
  /** Directory holding `src/` and `bin/`. */
  root: string;
  copy: typeof CopyModule;
  pool: typeof PoolModule;
  reference: typeof ReferenceModule;
}

const NO_CREDENTIALS = { lookup: async () => undefined };

export async function loadSluice(name: string, root: string = REPO_ROOT): Promise<SluiceBuild> {
  const src = (file: string): string => pathToFileURL(path.join(path.resolve(root), 'src', file)).href;
  const [copy, pool, reference] = await Promise.all([
    import(src('oci/copy.ts')) as Promise<typeof CopyModule>,
    import(src('oci/pool.ts')) as Promise<typeof PoolModule>,
    import(src('oci/reference.ts')) as Promise<typeof ReferenceModule>,
  ]);
  return { name, root: path.resolve(root), copy, pool, reference };
}

/** A pool with no credentials (like skopeo's empty auth file) and the given settings per registry. */
export function poolFor(
  build: SluiceBuild,
  hosts: readonly string[],
  referrers: ReferrersMode,
  concurrency: number,
): PoolModule.RegistryPool {
  return new build.pool.RegistryPool({
    credentials: NO_CREDENTIALS,
    registries: Object.fromEntries(hosts.map((h) => [h, { referrers, concurrency }])),
  });
}

/** `host/repo:tag` → `host/repo:tag` as a copy request. */
export function requestFor(build: SluiceBuild, source: string, target: string): CopyModule.CopyRequest {
  const dst = build.reference.parseReference(target);
  return {
    source: build.reference.parseReference(source),
    target: { registry: dst.registry, repository: dst.repository, ...(dst.tag ? { tag: dst.tag } : {}) },
  };
}
