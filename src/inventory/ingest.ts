/**
 * Reads one manifest (and, for an index, its children) from a registry into inventory rows.
 * Only digests the store has never seen are fetched: a digest's content never changes, so a
 * known digest needs no second look.
 */
import { SluiceError } from '../errors.ts';
import type { RegistryClient } from '../oci/client.ts';
import { mapLimit } from '../util/concurrency.ts';
import { checkIndexFanOut } from '../oci/limits.ts';
import { blobsOf, formatPlatform, parseImageConfig, type Manifest } from '../oci/manifest.ts';
import { isDigest } from '../oci/digest.ts';
import { storableText, type StoreHandle } from '../store/index.ts';

const MAX_CONFIG_BYTES = 8 * 1024 * 1024;
const BASE_DIGEST = 'org.opencontainers.image.base.digest';
const BASE_NAME = 'org.opencontainers.image.base.name';

export interface ManifestRecord {
  digest: string;
  mediaType: string;
  size: number;
  created: number | null;
  labels: Record<string, string>;
  user: string | null;
  platforms: string[];
  baseDigest: string | null;
  baseName: string | null;
  configDigest: string | null;
  subjectDigest: string | null;
  children: Array<{ digest: string; platform: string | null }>;
  blobs: Array<{ digest: string; size: number; mediaType: string }>;
}

function isImageConfig(mediaType: string): boolean {
  return (
    mediaType === 'application/vnd.oci.image.config.v1+json' ||
    mediaType === 'application/vnd.docker.container.image.v1+json'
  );
}

/** Fetches `digest` (already known to exist) and everything below it that the store lacks. */
export async function readManifestTree(
  client: RegistryClient,
  repository: string,
  digest: string,
  known: (digest: string) => Promise<ManifestRecord | undefined>,
  signal?: AbortSignal,
): Promise<ManifestRecord[]> {
  const manifest = await client.getManifest(repository, digest, signal);
  return describe(client, repository, manifest, known, 0, signal);
}

/** Each declared size is a safe integer; their sum may not be, and would not read back exactly. */
function checkedSize(total: number, repository: string, digest: string): number {
  if (Number.isSafeInteger(total)) return total;
  throw new SluiceError(
    'SIZE_INVALID',
    'integrity',
    `${repository}@${digest}: the sizes its manifest declares add up to more than ${Number.MAX_SAFE_INTEGER} bytes`,
    { repository, digest },
  );
}

async function describe(
  client: RegistryClient,
  repository: string,
  m: Manifest,
  known: (digest: string) => Promise<ManifestRecord | undefined>,
  parents: number,
  signal: AbortSignal | undefined,
): Promise<ManifestRecord[]> {
  checkIndexFanOut(m, parents, client.limits, { registry: client.registry, repository });
  const annotations = m.annotations;
  const rec: ManifestRecord = {
    digest: m.digest,
    mediaType: m.mediaType,
    size: m.size,
    created: null,
    labels: {},
    user: null,
    platforms: [],
    baseDigest: annotations[BASE_DIGEST] ?? null,
    baseName: annotations[BASE_NAME] ?? null,
    configDigest: null,
    subjectDigest: m.subject?.digest ?? null,
    children: [],
    blobs: [],
  };
  if (m.kind === 'image') {
    rec.blobs = blobsOf(m).map((b) => ({ digest: b.digest, size: b.size, mediaType: b.mediaType }));
    rec.size = checkedSize(rec.size + rec.blobs.reduce((n, b) => n + b.size, 0), repository, m.digest);
    if (m.config) {
      rec.configDigest = m.config.digest;
      if (isImageConfig(m.config.mediaType)) {
        const bytes = await client.fetchBlob(repository, m.config.digest, MAX_CONFIG_BYTES, m.config.size, signal);
        const cfg = parseImageConfig(bytes, { repository, digest: m.config.digest });
        rec.labels = cfg.labels;
        rec.user = cfg.user ?? null;
        const created = cfg.created ? Date.parse(cfg.created) : NaN;
        rec.created = Number.isNaN(created) ? null : created;
        if (cfg.os && cfg.architecture) {
          rec.platforms = [
            formatPlatform({
              os: cfg.os,
              architecture: cfg.architecture,
              ...(cfg.variant ? { variant: cfg.variant } : {}),
            }),
          ];
        }
        rec.baseDigest ??= cfg.labels[BASE_DIGEST] ?? null;
        rec.baseName ??= cfg.labels[BASE_NAME] ?? null;
      }
    }
    return [rec];
  }
  const records: ManifestRecord[] = [];
  const children = await mapLimit(m.manifests, 4, async (d) => {
    const have = await known(d.digest);
    if (have) return { descriptor: d, record: have, fresh: [] as ManifestRecord[] };
    const child = await client.getManifest(repository, d.digest, signal);
    const fresh = await describe(client, repository, child, known, parents + 1, signal);
    return { descriptor: d, record: fresh[0]!, fresh };
  });
  for (const c of children) {
    records.push(...c.fresh);
    rec.children.push({
      digest: c.descriptor.digest,
      platform: c.descriptor.platform ? formatPlatform(c.descriptor.platform) : null,
    });
    rec.size = checkedSize(rec.size + c.record.size, repository, m.digest);
    if (c.descriptor.platform) rec.platforms.push(formatPlatform(c.descriptor.platform));
  }
  // An index has no config of its own; it reads as its linux/amd64 (else first) image.
  const representative =
    children.find((c) => c.descriptor.platform?.os === 'linux' && c.descriptor.platform.architecture === 'amd64') ??
    children[0];
  if (representative) {
    rec.labels = representative.record.labels;
    rec.user = representative.record.user;
    rec.created = representative.record.created;
    rec.baseDigest ??= representative.record.baseDigest;
    rec.baseName ??= representative.record.baseName;
  }
  return [rec, ...records];
}

/** Registry-supplied text that is only shown; NUL and unpaired surrogates would not store. */
function shown(text: string | null): string | null {
  return text === null ? null : storableText(text);
}

/** An annotation or label that claims to be a digest is kept only when it is one. */
function digestOrNull(text: string | null): string | null {
  return text !== null && isDigest(text) ? text : null;
}

/** Stores manifest records (idempotent: a digest's rows are written once). */
export async function saveManifests(
  h: StoreHandle,
  registry: string,
  records: ManifestRecord[],
  now: number,
): Promise<void> {
  for (const r of records) {
    const exists = await h.db
      .selectFrom('manifests')
      .select('digest')
      .where('registry', '=', registry)
      .where('digest', '=', r.digest)
      .executeTakeFirst();
    if (exists) {
      await h.db
        .updateTable('manifests')
        .set({ last_seen: now })
        .where('registry', '=', registry)
        .where('digest', '=', r.digest)
        .execute();
      continue;
    }
    const inserted = await h.db
      .insertInto('manifests')
      .values({
        registry,
        digest: r.digest,
        media_type: r.mediaType,
        size: r.size,
        created: r.created,
        // JSON text escapes NUL and unpaired surrogates itself, so labels read back exactly.
        labels: JSON.stringify(r.labels),
        config_user: shown(r.user),
        platforms: JSON.stringify(r.platforms),
        base_digest: digestOrNull(r.baseDigest),
        base_name: shown(r.baseName),
        config_digest: r.configDigest,
        subject_digest: r.subjectDigest,
        first_seen: now,
        last_seen: now,
      })
      .onConflict((oc) => oc.doNothing())
      .executeTakeFirst();
    // Someone else stored this digest meanwhile; its rows are theirs, and identical.
    if (Number(inserted.numInsertedOrUpdatedRows ?? 0) === 0) continue;
    for (const c of r.children) {
      await h.db
        .insertInto('manifest_children')
        .values({ registry, index_digest: r.digest, child_digest: c.digest, platform: shown(c.platform) })
        .onConflict((oc) => oc.doNothing())
        .execute();
    }
    for (const b of r.blobs) {
      await h.db
        .insertInto('manifest_blobs')
        .values({
          registry,
          manifest_digest: r.digest,
          blob_digest: b.digest,
          size: b.size,
          media_type: shown(b.mediaType),
        })
        .onConflict((oc) => oc.doNothing())
        .execute();
    }
  }
}

export async function loadManifest(
  h: StoreHandle,
  registry: string,
  digest: string,
): Promise<ManifestRecord | undefined> {
  const row = await h.db
    .selectFrom('manifests')
    .selectAll()
    .where('registry', '=', registry)
    .where('digest', '=', digest)
    .executeTakeFirst();
  if (!row) return undefined;
  const children = await h.db
    .selectFrom('manifest_children')
    .select(['child_digest', 'platform'])
    .where('registry', '=', registry)
    .where('index_digest', '=', digest)
    .execute();
  return {
    digest: row.digest,
    mediaType: row.media_type,
    size: row.size,
    created: row.created,
    labels: JSON.parse(row.labels) as Record<string, string>,
    user: row.config_user,
    platforms: JSON.parse(row.platforms) as string[],
    baseDigest: row.base_digest,
    baseName: row.base_name,
    configDigest: row.config_digest,
    subjectDigest: row.subject_digest,
    children: children.map((c) => ({ digest: c.child_digest, platform: c.platform })),
    blobs: [],
  };
}
