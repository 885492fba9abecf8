/**
 * Registry notifications from CNCF Distribution, Quay and Harbor, normalised into one event
 * shape. Events are hints, not truth: deliveries are duplicated, reordered, lost, and could be
 * forged, so the inventory re-reads the registry for every push/delete hint (ADR 0004). Only
 * pulls are taken as reported, and only from authenticated senders.
 */
import { SluiceError } from '../errors.ts';
import { isDigest } from '../oci/digest.ts';
import { MANIFEST_TYPES } from '../oci/mediatypes.ts';
import { isValidTag } from '../oci/reference.ts';

export type EventSource = 'distribution' | 'quay' | 'harbor';

export interface RegistryEvent {
  source: EventSource;
  /** Delivery-independent identity used to drop duplicates. */
  id: string;
  action: 'push' | 'delete' | 'pull' | 'mount' | 'scan';
  repository: string;
  digest?: string;
  tag?: string;
  mediaType?: string;
  /** Registry host as the sender names it, when it does. */
  host?: string;
  at: Date;
  actor?: string;
  /** For scan events: severity counts as the registry's scanner reported them. */
  scan?: { severity?: string; counts?: Record<string, number>; status?: string };
}

export const MAX_EVENT_BODY_BYTES = 1024 * 1024;
const MAX_EVENTS_PER_DELIVERY = 1000;

export const DISTRIBUTION_CONTENT_TYPES = [
  'application/vnd.docker.distribution.events.v1+json',
  'application/vnd.docker.distribution.events.v2+json',
  'application/json',
];

function invalid(source: EventSource, message: string): SluiceError {
  return new SluiceError('EVENT_INVALID', 'invalid-input', `${source} notification: ${message}`, { source });
}

function obj(v: unknown): Record<string, unknown> | undefined {
  return typeof v === 'object' && v !== null && !Array.isArray(v) ? (v as Record<string, unknown>) : undefined;
}

function str(v: unknown): string | undefined {
  return typeof v === 'string' && v !== '' ? v : undefined;
}

function date(v: unknown, fallback: Date): Date {
  // A finite number can still be beyond the range of a Date (1e20 s), which would make an
  // invalid Date that fails later, far from the payload, when its day is computed.
  const t = typeof v === 'number' ? v * 1000 : typeof v === 'string' ? Date.parse(v) : NaN;
  const d = new Date(t);
  return Number.isNaN(d.getTime()) ? fallback : d;
}

/** A tag the event names; it is looked up and stored, so it must be one a registry could hold. */
function checkTag(source: EventSource, tag: string | undefined, where: string): string | undefined {
  if (tag === undefined) return undefined;
  if (!isValidTag(tag)) throw invalid(source, `${where} ${JSON.stringify(tag.slice(0, 80))} is not a valid tag`);
  return tag;
}

function checkDigest(source: EventSource, digest: string | undefined, where: string): string | undefined {
  if (digest === undefined) return undefined;
  if (!isDigest(digest)) throw invalid(source, `${where} "${digest.slice(0, 80)}" is not a valid digest`);
  return digest;
}

function checkRepository(source: EventSource, repo: unknown, where: string): string {
  const r = str(repo);
  if (!r) throw invalid(source, `${where} is missing`);
  if (
    r.length > 255 ||
    !/^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*(?:\/[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*)*$/.test(r)
  ) {
    throw invalid(source, `${where} "${r.slice(0, 80)}" is not a valid repository name`);
  }
  return r;
}

/** CNCF Distribution's `{"events":[…]}` envelope (v1 and v2 media types). Blob events are dropped. */
export function parseDistributionEnvelope(body: unknown, now = new Date()): RegistryEvent[] {
  const env = obj(body);
  if (!env || !Array.isArray(env.events)) throw invalid('distribution', 'body must be {"events": [...]}');
  if (env.events.length > MAX_EVENTS_PER_DELIVERY) {
    throw invalid('distribution', `${env.events.length} events in one delivery (at most ${MAX_EVENTS_PER_DELIVERY})`);
  }
  const out: RegistryEvent[] = [];
  env.events.forEach((raw, i) => {
    const e = obj(raw);
    if (!e) throw invalid('distribution', `events[${i}] must be an object`);
    const id = str(e.id);
    if (!id) throw invalid('distribution', `events[${i}].id is missing`);
    const action = str(e.action);
    if (action !== 'push' && action !== 'pull' && action !== 'delete' && action !== 'mount') {
      throw invalid('distribution', `events[${i}].action "${String(e.action)}" is not push, pull, mount or delete`);
    }
    const target = obj(e.target);
    if (!target) throw invalid('distribution', `events[${i}].target is missing`);
    const mediaType = str(target.mediaType);
    // Manifest events carry a manifest media type; blob events a layer/config type. Deletes
    // carry none, and are kept: re-reading the registry tells what went.
    if (mediaType && !MANIFEST_TYPES.includes(mediaType)) return;
    const request = obj(e.request) ?? {};
    // Sluice's own reads (HEAD during reconciliation) must not count as pulls.
    if (action === 'pull' && (str(request.method) === 'HEAD' || /\bsluice\//.test(str(request.useragent) ?? '')))
      return;
    const ev: RegistryEvent = {
      source: 'distribution',
      id,
      action,
      repository: checkRepository('distribution', target.repository, `events[${i}].target.repository`),
      at: date(e.timestamp, now),
    };
    const digest = checkDigest('distribution', str(target.digest), `events[${i}].target.digest`);
    if (digest) ev.digest = digest;
    const tag = checkTag('distribution', str(target.tag), `events[${i}].target.tag`);
    if (tag) ev.tag = tag;
    if (mediaType) ev.mediaType = mediaType;
    const host = str(request.host);
    if (host) ev.host = host;
    const actor = str(obj(e.actor)?.name);
    if (actor) ev.actor = actor;
    out.push(ev);
  });
  return out;
}

/**
 * Quay repository notifications. `repo_push` lists tag names only (no digest): the receiver
 * resolves them. Old payloads had `updated_tags` as a tag→image map; both are accepted.
 */
export function parseQuayNotification(body: unknown, now = new Date()): RegistryEvent[] {
  const b = obj(body);
  if (!b) throw invalid('quay', 'body must be a JSON object');
  const repository = checkRepository('quay', b.repository, 'repository');
  const updated = b.updated_tags;
  let tags: string[];
  if (Array.isArray(updated)) tags = updated.filter((t): t is string => typeof t === 'string');
  else if (obj(updated)) tags = Object.keys(updated as object);
  else if (b.vulnerability !== undefined || b.vulnerabilities !== undefined) tags = [];
  else
    throw invalid(
      'quay',
      'neither updated_tags nor vulnerability present (only repo_push and vulnerability_found are handled)',
    );
  if (tags.length > MAX_EVENTS_PER_DELIVERY) throw invalid('quay', `${tags.length} tags in one delivery`);
  tags.forEach((t, i) => checkTag('quay', t, `updated_tags[${i}]`));
  const host = str(b.docker_url)?.split('/')[0];
  // Quay sends no event id; tag + time bucket makes retries of the same push collapse.
  const minute = Math.floor(now.getTime() / 60_000);
  if (tags.length === 0) {
    const vuln = obj(b.vulnerability);
    return [
      {
        source: 'quay',
        id: `quay:${repository}:vuln:${str(vuln?.id) ?? 'batch'}:${minute}`,
        action: 'scan',
        repository,
        at: now,
        ...(host ? { host } : {}),
        scan: { severity: str(vuln?.priority) },
      },
    ];
  }
  return tags.map((tag) => ({
    source: 'quay' as const,
    id: `quay:${repository}:${tag}:${minute}`,
    action: 'push' as const,
    repository,
    tag,
    at: now,
    ...(host ? { host } : {}),
  }));
}

/** A Map: a sender's `type` is looked up, and `constructor` must be as unknown as any other. */
const HARBOR_TYPES = new Map<string, RegistryEvent['action']>(
  Object.entries({
    PUSH_ARTIFACT: 'push',
    PULL_ARTIFACT: 'pull',
    DELETE_ARTIFACT: 'delete',
    CREATE_TAG: 'push',
    DELETE_TAG: 'delete',
    SCANNING_COMPLETED: 'scan',
    SCANNING_FAILED: 'scan',
    'harbor.artifact.pushed': 'push',
    'harbor.artifact.pulled': 'pull',
    'harbor.artifact.deleted': 'delete',
    'harbor.tag.created': 'push',
    'harbor.tag.deleted': 'delete',
    'harbor.scan.completed': 'scan',
    'harbor.scan.failed': 'scan',
  } satisfies Record<string, RegistryEvent['action']>),
);

/** Harbor webhooks, Default and CloudEvents (structured) formats. Unhandled types yield no events. */
export function parseHarborWebhook(body: unknown, now = new Date()): RegistryEvent[] {
  const b = obj(body);
  if (!b) throw invalid('harbor', 'body must be a JSON object');
  const cloud = b.specversion !== undefined;
  const type = str(b.type);
  if (!type) throw invalid('harbor', '"type" is missing');
  const action = HARBOR_TYPES.get(type);
  if (!action) return [];
  const data = obj(cloud ? b.data : b.event_data);
  if (!data) throw invalid('harbor', `${cloud ? 'data' : 'event_data'} is missing`);
  const repo = obj(data.repository);
  if (!repo) throw invalid('harbor', 'repository is missing');
  const repository = checkRepository(
    'harbor',
    repo.repo_full_name ?? (repo.namespace && repo.name ? `${String(repo.namespace)}/${String(repo.name)}` : undefined),
    'repository.repo_full_name',
  );
  const resources = Array.isArray(data.resources) ? data.resources : [];
  if (resources.length > MAX_EVENTS_PER_DELIVERY)
    throw invalid('harbor', `${resources.length} resources in one delivery`);
  const at = cloud ? date(b.time, now) : date(b.occur_at, now);
  const actor = str(cloud ? b.operator : b.operator);
  const baseId = str(b.id) ?? `${type}:${at.getTime()}`;
  return resources.map((raw, i) => {
    const r = obj(raw) ?? {};
    const ev: RegistryEvent = { source: 'harbor', id: `harbor:${baseId}:${i}`, action, repository, at };
    const digest = checkDigest('harbor', str(r.digest), `resources[${i}].digest`);
    if (digest) ev.digest = digest;
    const tag = str(r.tag);
    // For pulls by digest Harbor puts the digest in `tag`.
    if (tag && !isDigest(tag)) ev.tag = checkTag('harbor', tag, `resources[${i}].tag`);
    const url = str(r.resource_url);
    if (url) ev.host = url.split('/')[0];
    if (actor) ev.actor = actor;
    if (action === 'scan') {
      const overview = obj(r.scan_overview);
      const report = overview ? obj(Object.values(overview)[0]) : undefined;
      const summary = obj(obj(report?.summary)?.summary);
      const counts: Record<string, number> = Object.fromEntries(
        Object.entries(summary ?? {})
          .filter((e): e is [string, number] => typeof e[1] === 'number')
          .map(([k, v]) => [k.toLowerCase(), v]),
      );
      ev.scan = { severity: str(report?.severity), status: str(report?.scan_status), counts };
    }
    return ev;
  });
}
