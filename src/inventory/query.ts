/** Read side of the inventory: what `sluice images ls/show` and the API report. */
import { SluiceError } from '../errors.ts';
import { isArtifactTag } from '../oci/cosign.ts';
import type { StoreHandle } from '../store/index.ts';

export interface ImageFilter {
  registry?: string;
  team?: string;
  stage?: string;
  category?: string;
  /** `key=value` (or just `key`: the label is present). */
  labels?: string[];
  repository?: string;
  /** Include untagged digests and signature/attestation artifacts. */
  all?: boolean;
}

export interface ImageRow {
  registry: string;
  repository: string;
  digest: string;
  tags: string[];
  team: string | null;
  stage: string | null;
  category: string | null;
  mediaType: string;
  platforms: string[];
  size: number;
  created: string | null;
  labels: Record<string, string>;
  user: string | null;
  baseDigest: string | null;
  baseName: string | null;
  firstSeen: string;
}

const CATEGORY_LABEL = 'sluice.dev/category';

function parseLabelFilters(labels: string[] = []): Array<[string, string | undefined]> {
  return labels.map((l) => {
    const eq = l.indexOf('=');
    if (eq === 0)
      throw new SluiceError('LABEL_FILTER_INVALID', 'invalid-input', `label filter "${l}" has no key (use key=value)`);
    return eq < 0 ? [l, undefined] : [l.slice(0, eq), l.slice(eq + 1)];
  });
}

export async function listImages(h: StoreHandle, filter: ImageFilter = {}): Promise<ImageRow[]> {
  const labelFilters = parseLabelFilters(filter.labels);
  const rows = await h.db
    .selectFrom('repository_manifests as rm')
    .innerJoin('manifests as m', (j) => j.onRef('m.registry', '=', 'rm.registry').onRef('m.digest', '=', 'rm.digest'))
    .innerJoin('repositories as r', (j) =>
      j.onRef('r.registry', '=', 'rm.registry').onRef('r.name', '=', 'rm.repository'),
    )
    .select([
      'rm.registry',
      'rm.repository',
      'rm.digest',
      'rm.first_seen',
      'r.team',
      'r.stage',
      'r.category',
      'm.media_type',
      'm.platforms',
      'm.size',
      'm.created',
      'm.labels',
      'm.config_user',
      'm.base_digest',
      'm.base_name',
    ])
    .$if(filter.registry !== undefined, (q) => q.where('rm.registry', '=', filter.registry!))
    .$if(filter.team !== undefined, (q) => q.where('r.team', '=', filter.team!))
    .$if(filter.stage !== undefined, (q) => q.where('r.stage', '=', filter.stage!))
    .$if(filter.repository !== undefined, (q) => q.where('rm.repository', '=', filter.repository!))
    .orderBy('rm.registry')
    .orderBy('rm.repository')
    .orderBy('m.created', 'desc')
    .orderBy('rm.digest')
    .execute();
  const tagRows = await h.db
    .selectFrom('tags')
    .select(['registry', 'repository', 'tag', 'digest'])
    .$if(filter.registry !== undefined, (q) => q.where('registry', '=', filter.registry!))
    .$if(filter.repository !== undefined, (q) => q.where('repository', '=', filter.repository!))
    .orderBy('tag')
    .execute();
  const tagsOf = new Map<string, string[]>();
  for (const t of tagRows) {
    const key = `${t.registry}\u0000${t.repository}\u0000${t.digest}`;
    const list = tagsOf.get(key) ?? [];
    list.push(t.tag);
    tagsOf.set(key, list);
  }
  const children = new Set(
    (await h.db.selectFrom('manifest_children').select(['registry', 'child_digest']).execute()).map(
      (c) => `${c.registry}\u0000${c.child_digest}`,
    ),
  );
  const out: ImageRow[] = [];
  for (const r of rows) {
    const tags = tagsOf.get(`${r.registry}\u0000${r.repository}\u0000${r.digest}`) ?? [];
    if (!filter.all) {
      // Children of an index, untagged digests and signature artifacts are parts, not images.
      if (tags.length === 0 || tags.every(isArtifactTag)) continue;
      if (children.has(`${r.registry}\u0000${r.digest}`) && tags.length === 0) continue;
    }
    const labels = JSON.parse(r.labels) as Record<string, string>;
    // Own labels only: `--label constructor` matches no image that lacks a label of that name.
    if (!labelFilters.every(([k, v]) => Object.hasOwn(labels, k) && (v === undefined || labels[k] === v))) continue;
    const category = labels[CATEGORY_LABEL] ?? r.category;
    if (filter.category !== undefined && category !== filter.category) continue;
    out.push({
      registry: r.registry,
      repository: r.repository,
      digest: r.digest,
      tags: tags.filter((t) => filter.all || !isArtifactTag(t)),
      team: r.team,
      stage: r.stage,
      category,
      mediaType: r.media_type,
      platforms: JSON.parse(r.platforms) as string[],
      size: r.size,
      created: r.created === null ? null : new Date(r.created).toISOString(),
      labels,
      user: r.config_user,
      baseDigest: r.base_digest,
      baseName: r.base_name,
      firstSeen: new Date(r.first_seen).toISOString(),
    });
  }
  return out;
}

export interface ImageLocation {
  registry: string;
  repository: string;
  team: string | null;
  stage: string | null;
  tags: string[];
}

export interface ImageDetail extends ImageRow {
  /** Every repository (in any configured registry) that holds the same digest. */
  locations: ImageLocation[];
  /** Stages whose repositories hold the digest, in policy order when known. */
  stagesReached: string[];
  children: Array<{ digest: string; platform: string | null }>;
  pulls: { total: number; last: string | null };
}

/** One image by (registry, repository, tag or digest), with everywhere the digest lives. */
export async function showImage(
  h: StoreHandle,
  where: { registry: string; repository: string; tag?: string; digest?: string },
  stageOrder: string[] = [],
): Promise<ImageDetail> {
  let digest = where.digest;
  if (!digest) {
    const t = await h.db
      .selectFrom('tags')
      .select('digest')
      .where('registry', '=', where.registry)
      .where('repository', '=', where.repository)
      .where('tag', '=', where.tag ?? 'latest')
      .executeTakeFirst();
    if (!t) {
      throw new SluiceError(
        'IMAGE_NOT_IN_INVENTORY',
        'not-found',
        `${where.repository}:${where.tag ?? 'latest'} is not in the inventory of ${where.registry} (run sluice sync?)`,
        { registry: where.registry, repository: where.repository, reference: where.tag },
      );
    }
    digest = t.digest;
  }
  const rows = await listImages(h, { registry: where.registry, repository: where.repository, all: true });
  const row = rows.find((r) => r.digest === digest);
  if (!row) {
    throw new SluiceError(
      'IMAGE_NOT_IN_INVENTORY',
      'not-found',
      `${where.repository}@${digest} is not in the inventory of ${where.registry}`,
      {
        registry: where.registry,
        repository: where.repository,
        digest,
      },
    );
  }
  const held = await h.db
    .selectFrom('repository_manifests as rm')
    .innerJoin('repositories as r', (j) =>
      j.onRef('r.registry', '=', 'rm.registry').onRef('r.name', '=', 'rm.repository'),
    )
    .select(['rm.registry', 'rm.repository', 'r.team', 'r.stage'])
    .where('rm.digest', '=', digest)
    .orderBy('rm.registry')
    .orderBy('rm.repository')
    .execute();
  const tags = await h.db
    .selectFrom('tags')
    .select(['registry', 'repository', 'tag'])
    .where('digest', '=', digest)
    .orderBy('tag')
    .execute();
  const locations = held.map((l) => ({
    registry: l.registry,
    repository: l.repository,
    team: l.team,
    stage: l.stage,
    tags: tags.filter((t) => t.registry === l.registry && t.repository === l.repository).map((t) => t.tag),
  }));
  const stages = [...new Set(locations.map((l) => l.stage).filter((s): s is string => !!s))];
  stages.sort((a, b) => (stageOrder.indexOf(a) + 1 || 1e9) - (stageOrder.indexOf(b) + 1 || 1e9));
  const children = await h.db
    .selectFrom('manifest_children')
    .select(['child_digest', 'platform'])
    .where('registry', '=', where.registry)
    .where('index_digest', '=', digest)
    .execute();
  const pullRows = await h.db.selectFrom('pulls').select(['day', 'count']).where('digest', '=', digest).execute();
  const total = pullRows.reduce((n, p) => n + p.count, 0);
  const last =
    pullRows
      .map((p) => p.day)
      .sort()
      .at(-1) ?? null;
  return {
    ...row,
    locations,
    stagesReached: stages,
    children: children.map((c) => ({ digest: c.child_digest, platform: c.platform })),
    pulls: { total, last },
  };
}
