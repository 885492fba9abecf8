/**
 * Which images to scan now, and when each may start: the decision behind the scheduled
 * rescans of every stage's `scan.schedule`. Pure: the scheduler job gathers what is tagged
 * where and when each digest was last scanned, and runs what this returns.
 *
 * An image tagged in several stages follows the most demanding of their schedules (a digest
 * in prod is rescanned daily even if staging, holding it too, says weekly). Work is spread per
 * registry at a steady rate, so a daily rescan of thousands of prod images never arrives at a
 * registry all at once; the images that matter most (latest stage, longest unscanned) go first.
 */
import type { ScanPolicy } from '../policy/index.ts';

export interface TaggedImage {
  digest: string;
  /** Registry name: work is spread per registry. */
  registry: string;
  /** Stages where the digest is tagged now. */
  stages: readonly string[];
}

export interface ScanHistory {
  /** Last successful scan (epoch ms). */
  lastOk?: number;
  /** Last attempt, successful or not. */
  lastAttempt?: number;
  /** Failed attempts since the last success. */
  failures: number;
}

export interface RescanOptions {
  /** Stage order, earliest first; later stages go first. */
  stageOrder: readonly string[];
  /** Scans started per registry per minute. */
  perRegistryPerMinute: number;
  /** First retry after a failure; doubles per failure up to `maxBackoffMs`. */
  backoffMs?: number;
  maxBackoffMs?: number;
  /** At most this many scans in one plan (the rest are due next time). */
  limit?: number;
}

export type RescanReason = 'never-scanned' | 'interval-elapsed' | 'retry';

export interface PlannedScan {
  digest: string;
  registry: string;
  reason: RescanReason;
  /** When it may start (epoch ms): `now`, or later to keep the registry's rate. */
  startAt: number;
  /** The stage whose schedule made it due. */
  stage: string;
}

/** Delay before retrying after `failures` failures in a row. */
export function retryDelay(failures: number, backoffMs = 5 * 60_000, maxBackoffMs = 6 * 3_600_000): number {
  if (failures <= 0) return 0;
  return Math.min(maxBackoffMs, backoffMs * 2 ** Math.min(failures - 1, 30));
}

interface Due {
  image: TaggedImage;
  reason: RescanReason;
  stage: string;
  rank: number;
  since: number;
}

export function planRescans(
  images: readonly TaggedImage[],
  history: ReadonlyMap<string, ScanHistory>,
  schedules: ReadonlyMap<string, ScanPolicy>,
  now: number,
  o: RescanOptions,
): PlannedScan[] {
  const rankOf = new Map(o.stageOrder.map((s, i) => [s, i]));
  const due: Due[] = [];
  for (const image of images) {
    // The most demanding schedule among the stages holding it, and the latest such stage.
    let interval: number | undefined;
    let stage: string | undefined;
    let rank = -1;
    for (const s of image.stages) {
      const policy = schedules.get(s);
      if (!policy) continue;
      const r = rankOf.get(s) ?? -1;
      if (policy.interval !== undefined && (interval === undefined || policy.interval < interval))
        interval = policy.interval;
      if (r > rank) {
        rank = r;
        stage = s;
      }
    }
    if (stage === undefined) continue;
    const h = history.get(image.digest) ?? { failures: 0 };
    let reason: RescanReason | undefined;
    if (h.failures > 0 && h.lastAttempt !== undefined) {
      if (now >= h.lastAttempt + retryDelay(h.failures, o.backoffMs, o.maxBackoffMs)) reason = 'retry';
    } else if (h.lastOk === undefined) reason = 'never-scanned';
    else if (interval !== undefined && now - h.lastOk >= interval) reason = 'interval-elapsed';
    if (reason) due.push({ image, reason, stage, rank, since: h.lastOk ?? -Infinity });
  }
  due.sort((a, b) => b.rank - a.rank || a.since - b.since || (a.image.digest < b.image.digest ? -1 : 1));
  const chosen = due.slice(0, o.limit ?? due.length);
  const perRegistry = new Map<string, number>();
  const spacing = 60_000 / Math.max(1, o.perRegistryPerMinute);
  return chosen.map((d) => {
    const k = perRegistry.get(d.image.registry) ?? 0;
    perRegistry.set(d.image.registry, k + 1);
    return {
      digest: d.image.digest,
      registry: d.image.registry,
      reason: d.reason,
      stage: d.stage,
      startAt: now + Math.floor(k * spacing),
    };
  });
}
