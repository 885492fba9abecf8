/**
 * Gathering what the admission decision needs about one image, within the API server's
 * timeout. Sources are interfaces the composition root fills (inventory, holds, registry,
 * signature verification); this module owns the caching and the deadline, so that a slow or
 * unreachable registry yields the last known facts instead of a late answer.
 */
import { asSluiceError } from '../errors.ts';
import { parseReference, type Reference } from '../oci/reference.ts';
import type { GatheredFacts, Hold, ImageFacts, Resolution, SignatureCheck } from './decide.ts';

export interface FactSources {
  /** Check 1: the reference's registry and repository are ones the policy allows. */
  allowedSource(ref: Reference): { allowed: true } | { allowed: false; reason: string };
  /** The digest Sluice recorded for the tag, if it has one. */
  recordedDigest(ref: Reference): Promise<string | undefined>;
  /** The digest the registry serves for the tag now; undefined when it has no such tag. */
  registryDigest(ref: Reference, signal: AbortSignal): Promise<string | undefined>;
  known(digest: string): Promise<boolean>;
  stagesReached(digest: string): Promise<readonly string[]>;
  holds(digest: string): Promise<readonly Hold[]>;
  verifySignature(ref: Reference, digest: string, stage: string, signal: AbortSignal): Promise<SignatureCheck>;
  deprecation(digest: string): Promise<ImageFacts['deprecation']>;
}

export interface FactsCacheOptions {
  now?: () => number;
  /** How long a registry's tag → digest answer is reused. */
  resolutionTtlMs?: number;
  /** How long a signature verdict for (digest, stage) is reused; keys change rarely. */
  signatureTtlMs?: number;
  /** How long the last complete facts for (image, stage) may stand in when sources fail. */
  staleTtlMs?: number;
  maxEntries?: number;
}

interface Entry<T> {
  value: T;
  expires: number;
}

/** A bounded map whose oldest entries go first; Map keeps insertion order. */
class BoundedCache<T> {
  readonly #entries = new Map<string, Entry<T>>();
  readonly max: number;
  readonly now: () => number;
  constructor(max: number, now: () => number) {
    this.max = max;
    this.now = now;
  }
  get(key: string): T | undefined {
    const e = this.#entries.get(key);
    if (!e) return undefined;
    if (e.expires <= this.now()) {
      this.#entries.delete(key);
      return undefined;
    }
    return e.value;
  }
  set(key: string, value: T, ttlMs: number): void {
    this.#entries.delete(key);
    this.#entries.set(key, { value, expires: this.now() + ttlMs });
    while (this.#entries.size > this.max) this.#entries.delete(this.#entries.keys().next().value!);
  }
  get size(): number {
    return this.#entries.size;
  }
}

export class FactsCache {
  readonly now: () => number;
  readonly resolutionTtlMs: number;
  readonly signatureTtlMs: number;
  readonly staleTtlMs: number;
  /** The registry's answer per tag; `digest: undefined` caches "no such tag" too. */
  readonly resolutions: BoundedCache<{ digest: string | undefined }>;
  readonly signatures: BoundedCache<SignatureCheck>;
  readonly lastGood: BoundedCache<ImageFacts>;

  constructor(o: FactsCacheOptions = {}) {
    this.now = o.now ?? Date.now;
    this.resolutionTtlMs = o.resolutionTtlMs ?? 30_000;
    this.signatureTtlMs = o.signatureTtlMs ?? 10 * 60_000;
    this.staleTtlMs = o.staleTtlMs ?? 60 * 60_000;
    const max = o.maxEntries ?? 10_000;
    this.resolutions = new BoundedCache(max, this.now);
    this.signatures = new BoundedCache(max, this.now);
    this.lastGood = new BoundedCache(max, this.now);
  }
}

export interface FactsRequest {
  image: string;
  stage: string;
  requireSignature: boolean;
  /** Time left before the answer must go out (the API server's `?timeout=` minus a margin). */
  budgetMs: number;
}

class DeadlinePassed extends Error {}

/** Denial messages are clipped: a short digest keeps both sides of a "moved" readable. */
const short = (digest: string) => `${digest.slice(0, digest.indexOf(':') + 13)}…`;

async function resolve(
  sources: FactSources,
  cache: FactsCache,
  ref: Reference,
  signal: AbortSignal,
): Promise<Resolution> {
  if (ref.digest) return { digest: ref.digest, source: 'reference' };
  const image = `${ref.registry}/${ref.repository}:${ref.tag ?? 'latest'}`;
  const recorded = await sources.recordedDigest(ref);
  let served: string | undefined;
  const cached = cache.resolutions.get(image);
  const fromCache = cached !== undefined;
  if (cached) served = cached.digest;
  else {
    try {
      served = await sources.registryDigest(ref, signal);
      cache.resolutions.set(image, { digest: served }, cache.resolutionTtlMs);
    } catch (err) {
      if (signal.aborted) throw new DeadlinePassed();
      // The registry could not be asked: what Sluice recorded is the best answer there is.
      if (recorded) return { digest: recorded, source: 'inventory' };
      return {
        failure: 'unavailable',
        message: `${image}: the registry could not be asked (${asSluiceError(err).message})`,
      };
    }
  }
  if (served === undefined) {
    return recorded
      ? {
          failure: 'moved',
          message: `${image} is recorded at ${short(recorded)} but the registry no longer has the tag`,
        }
      : { failure: 'not-found', message: `${image} is known neither to Sluice nor to the registry` };
  }
  if (recorded && recorded !== served) {
    return {
      failure: 'moved',
      message: `${image} moved: Sluice recorded ${short(recorded)}, the registry now serves ${short(served)}`,
    };
  }
  return { digest: served, source: recorded ? 'inventory' : fromCache ? 'cache' : 'registry' };
}

async function fresh(
  sources: FactSources,
  cache: FactsCache,
  ref: Reference,
  req: FactsRequest,
  signal: AbortSignal,
): Promise<ImageFacts> {
  const source = sources.allowedSource(ref);
  const resolution = source.allowed
    ? await resolve(sources, cache, ref, signal)
    : { failure: 'not-found' as const, message: source.reason };
  if (!source.allowed || 'failure' in resolution)
    return { source, resolution, known: false, stagesReached: [], holds: [] };
  const digest = resolution.digest;
  const [known, stagesReached, holds, deprecation] = await Promise.all([
    sources.known(digest),
    sources.stagesReached(digest),
    sources.holds(digest),
    sources.deprecation(digest),
  ]);
  const facts: ImageFacts = { source, resolution, known, stagesReached, holds };
  if (deprecation) facts.deprecation = deprecation;
  if (req.requireSignature && known && stagesReached.includes(req.stage) && holds.length === 0) {
    const key = `${digest}\u0000${req.stage}`;
    let signature = cache.signatures.get(key);
    if (!signature) {
      signature = await sources.verifySignature(ref, digest, req.stage, signal);
      if (signal.aborted) throw new DeadlinePassed();
      // A verdict is worth keeping; "could not verify" is not.
      if (signature.status !== 'unavailable') cache.signatures.set(key, signature, cache.signatureTtlMs);
    }
    facts.signature = signature;
  }
  return facts;
}

/**
 * The facts for one image in one stage, answered within `budgetMs`: fresh when the sources
 * answer in time, else the last complete facts for it (if still within the stale TTL), else
 * `unavailable` — which the decision turns into a denial in enforcing namespaces.
 */
export async function gatherFacts(sources: FactSources, cache: FactsCache, req: FactsRequest): Promise<GatheredFacts> {
  let ref: Reference;
  try {
    ref = parseReference(req.image);
  } catch (err) {
    return {
      source: { allowed: false, reason: asSluiceError(err).message },
      resolution: { failure: 'not-found', message: asSluiceError(err).message },
      known: false,
      stagesReached: [],
      holds: [],
    };
  }
  const key = `${req.image}\u0000${req.stage}\u0000${req.requireSignature ? 1 : 0}`;
  const controller = new AbortController();
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () => {
        controller.abort(new DeadlinePassed());
        reject(new DeadlinePassed());
      },
      Math.max(0, req.budgetMs),
    );
  });
  try {
    const facts = await Promise.race([fresh(sources, cache, ref, req, controller.signal), deadline]);
    const incomplete = 'failure' in facts.resolution && facts.resolution.failure === 'unavailable';
    if (!incomplete && facts.signature?.status !== 'unavailable') cache.lastGood.set(key, facts, cache.staleTtlMs);
    else {
      const stale = cache.lastGood.get(key);
      if (stale) return stale;
    }
    return facts;
  } catch (err) {
    const stale = cache.lastGood.get(key);
    if (stale) return stale;
    if (err instanceof DeadlinePassed) {
      return {
        unavailable: `the facts for ${req.image} could not be gathered within ${req.budgetMs} ms and none are cached`,
      };
    }
    return { unavailable: `the facts for ${req.image} could not be gathered: ${asSluiceError(err).message}` };
  } finally {
    clearTimeout(timer);
  }
}
