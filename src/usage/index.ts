/**
 * What runs where: clusters (an agent, a CronJob running `kubectl get pods` and
 * `sluice usage report`) report the digests their workloads run. Each report replaces the
 * cluster's previous one; a digest counts as in use while a report younger than the window
 * names it. Retention never deletes a digest in use.
 */
import { SluiceError } from '../errors.ts';
import type { Store, StoreHandle } from '../store/index.ts';

/** How long a report counts: a cluster that stops reporting does not protect forever. */
export const USAGE_WINDOW_MS = 7 * 86_400_000;
const DIGEST = /(sha256:[0-9a-f]{64}|sha512:[0-9a-f]{128})/;
const MAX_IMAGES = 100_000;
/** A report file: MAX_IMAGES references of some 300 bytes each fit. */
export const MAX_USAGE_REPORT_BYTES = 32 * 1024 * 1024;

/** Digests in image references as Kubernetes reports them (`imageID`: `docker-pullable://r/x@sha256:…`, `r/x@sha256:…`). */
export function digestsIn(lines: Iterable<string>, where = 'input'): string[] {
  const out = new Set<string>();
  let n = 0;
  for (const raw of lines) {
    n++;
    const line = raw.trim();
    if (line === '' || line.startsWith('#')) continue;
    const m = DIGEST.exec(line);
    if (!m) {
      throw new SluiceError(
        'USAGE_REPORT_INVALID',
        'invalid-input',
        `${where}:${n}: "${line.slice(0, 120)}" names no digest (expected …@sha256:<64 hex>)`,
        {
          location: `${where}:${n}`,
        },
      );
    }
    out.add(m[1]!);
  }
  if (out.size > MAX_IMAGES)
    throw new SluiceError(
      'USAGE_REPORT_INVALID',
      'invalid-input',
      `${where}: more than ${MAX_IMAGES} digests in one report`,
    );
  return [...out].sort();
}

export async function reportUsage(
  store: Store,
  cluster: string,
  digests: string[],
  now: number,
): Promise<{ cluster: string; digests: number }> {
  if (!/^[a-z0-9]([a-z0-9.-]{0,61}[a-z0-9])?$/.test(cluster)) {
    throw new SluiceError(
      'USAGE_REPORT_INVALID',
      'invalid-input',
      `cluster name "${cluster.slice(0, 80)}" must be a DNS label (lowercase letters, digits, "-", ".")`,
    );
  }
  await store.transaction(async (tx) => {
    await tx.db.deleteFrom('workload_usage').where('cluster', '=', cluster).execute();
    for (const digest of digests)
      await tx.db.insertInto('workload_usage').values({ cluster, digest, reported_at: now }).execute();
  });
  return { cluster, digests: digests.length };
}

/** Digests a recent report names. */
export async function digestsInUse(h: StoreHandle, now: number, windowMs = USAGE_WINDOW_MS): Promise<Set<string>> {
  const rows = await h.db
    .selectFrom('workload_usage')
    .select('digest')
    .where('reported_at', '>', now - windowMs)
    .execute();
  return new Set(rows.map((r) => r.digest));
}
