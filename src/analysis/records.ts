/**
 * The per-layer analysis cache in the store: a layer shared by many images is read once, and
 * every later image (or a rescan) takes its packages, secrets and facts from here.
 *
 * The row is JSON: Maps become entry arrays, file contents base64. Nested layer references are
 * not stored (every file, package and note of a layer belongs to that layer), so a row cannot
 * contradict its own digest. A row too large to store is not written, which only costs a
 * re-read; a row that does not decode is a miss, never an error in the analysis.
 */
import type { StoreHandle } from '../store/index.ts';
import type { LayerCache } from './analyse.ts';
import type { AnalysisNote, InstalledPackage, LayerFile, LayerRef, PackageReader } from './model.ts';
import type { LayerAnalysis } from './walker.ts';

/** Bumped whenever the encoding below or the meaning of a LayerAnalysis changes. */
const FORMAT = 1;

/** Larger rows are not cached: a layer analysis of this size is already rare (dpkg status ~ 4 MB). */
export const DEFAULT_MAX_ROW_CHARS = 32 * 1024 * 1024;

type Stored<T> = Omit<T, 'layer'>;

interface StoredFile extends Omit<Stored<LayerFile>, 'content'> {
  content: string;
}

interface StoredAnalysis {
  format: number;
  layer: LayerRef;
  files: Array<[string, Array<[string, StoredFile]>]>;
  scanned: Array<[string, Array<[string, Array<Stored<InstalledPackage>>]>]>;
  whiteouts: string[];
  opaqueDirs: string[];
  secrets: LayerAnalysis['secrets'];
  notes: Array<Stored<AnalysisNote>>;
  facts: LayerAnalysis['facts'];
}

function withoutLayer<T extends { layer?: LayerRef }>(value: T): Stored<T> {
  const { layer: _layer, ...rest } = value;
  return rest;
}

export function encodeLayerAnalysis(analysis: LayerAnalysis): string {
  const stored: StoredAnalysis = {
    format: FORMAT,
    layer: analysis.layer,
    files: [...analysis.files].map(([reader, byPath]) => [
      reader,
      [...byPath].map(([path, f]) => {
        const { content, ...entry } = withoutLayer(f);
        return [path, { ...entry, content: content.toString('base64') }];
      }),
    ]),
    scanned: [...analysis.scanned].map(([reader, byPath]) => [
      reader,
      [...byPath].map(([path, pkgs]) => [path, pkgs.map(withoutLayer)]),
    ]),
    whiteouts: analysis.whiteouts,
    opaqueDirs: analysis.opaqueDirs,
    secrets: analysis.secrets,
    notes: analysis.notes.map(withoutLayer),
    facts: analysis.facts,
  };
  // JSON escapes NUL and lone surrogates, so the text is storable unchanged on both engines.
  return JSON.stringify(stored);
}

/** The analysis a row holds, or undefined when it is not one this version wrote. */
export function decodeLayerAnalysis(text: string, digest: string): LayerAnalysis | undefined {
  let stored: StoredAnalysis;
  try {
    stored = JSON.parse(text) as StoredAnalysis;
  } catch {
    return undefined;
  }
  if (
    stored?.format !== FORMAT ||
    stored.layer?.digest !== digest ||
    !Array.isArray(stored.files) ||
    !Array.isArray(stored.scanned) ||
    !Array.isArray(stored.notes)
  ) {
    return undefined;
  }
  const layer = stored.layer;
  return {
    layer,
    files: new Map(
      stored.files.map(([reader, byPath]) => [
        reader,
        new Map(
          byPath.map(([path, f]) => [path, { ...f, layer, content: Buffer.from(f.content, 'base64') } as LayerFile]),
        ),
      ]),
    ),
    scanned: new Map(
      stored.scanned.map(([reader, byPath]) => [
        reader,
        new Map(byPath.map(([path, pkgs]) => [path, pkgs.map((p) => ({ ...p, layer }))])),
      ]),
    ),
    whiteouts: stored.whiteouts,
    opaqueDirs: stored.opaqueDirs,
    secrets: stored.secrets,
    notes: stored.notes.map((n) => ({ ...n, layer })),
    facts: stored.facts,
  };
}

export interface StoreLayerCacheOptions {
  /** The readers the analysis runs with: results made by another set are not reused. */
  readers: readonly PackageReader[];
  maxRowChars?: number;
}

/** Which analyser made a row: the format and the reader names, order-independent. */
export function analyserKey(readers: readonly PackageReader[]): string {
  return `${FORMAT}:${[...new Set(readers.map((r) => r.name))].sort().join(',')}`;
}

export function storeLayerCache(store: StoreHandle, options: StoreLayerCacheOptions): LayerCache {
  const analyser = analyserKey(options.readers);
  const maxRowChars = options.maxRowChars ?? DEFAULT_MAX_ROW_CHARS;
  return {
    async get(digest) {
      const row = await store.db
        .selectFrom('layer_analyses')
        .select(['analyser', 'analysis'])
        .where('digest', '=', digest)
        .executeTakeFirst();
      if (!row || row.analyser !== analyser) return undefined;
      return decodeLayerAnalysis(row.analysis, digest);
    },
    async put(analysis) {
      const text = encodeLayerAnalysis(analysis);
      if (text.length > maxRowChars) return;
      const analysedAt = store.clock().getTime();
      await store.db
        .insertInto('layer_analyses')
        .values({ digest: analysis.layer.digest, analyser, analysis: text, analysed_at: analysedAt })
        .onConflict((oc) => oc.column('digest').doUpdateSet({ analyser, analysis: text, analysed_at: analysedAt }))
        .execute();
    },
  };
}
