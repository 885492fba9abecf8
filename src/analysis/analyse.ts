/**
 * `analyseImage`: resolves an image (the platform manifest of an index), walks each layer once,
 * or takes it from the per-layer cache, and returns packages, notes, secrets and the hardening
 * facts the governance gates judge.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SluiceError } from '../errors.ts';
import type { RegistryClient } from '../oci/client.ts';
import type { Manifest } from '../oci/manifest.ts';
import { isForeignLayer } from '../oci/mediatypes.ts';
import { mergeLayers } from './merge.ts';
import type { AnalysisNote, InstalledPackage, LayerRef, PackageReader, ReadContext } from './model.ts';
import { SECRET_RULES, fingerprintOf, scanText, type SecretFinding } from './secrets.ts';
import { walkLayer, type LayerAnalysis, type LayerLimits } from './walker.ts';

/** Per-layer results by digest; a store-backed implementation makes shared base layers free. */
export interface LayerCache {
  get(digest: string): Promise<LayerAnalysis | undefined>;
  put(analysis: LayerAnalysis): Promise<void>;
}

export interface AnalyseDeps {
  client: RegistryClient;
  readers: readonly PackageReader[];
  cache?: LayerCache;
  limits?: Partial<LayerLimits>;
  /** Platform to pick from an index; default linux/amd64. */
  platform?: { os: string; architecture: string; variant?: string };
  signal?: AbortSignal;
}

export interface HardeningFacts {
  user: string;
  runsAsRoot: boolean;
  exposedPorts: string[];
  setuidFiles: string[];
  setgidFiles: string[];
  worldWritableDirs: string[];
  shells: string[];
  packageManagers: string[];
  packageCount: number;
  /** Compressed bytes of all layers (what a pull moves). */
  imageSize: number;
  uncompressedSize: number;
}

export interface ImageAnalysis {
  digest: string;
  layers: LayerRef[];
  packages: InstalledPackage[];
  secrets: SecretFinding[];
  notes: AnalysisNote[];
  hardening: HardeningFacts;
  /** Layers read from the registry in this run (the rest came from the cache). */
  layersDownloaded: number;
}

const MAX_CONFIG_BYTES = 4 * 1024 * 1024;
const SHELLS = new Set(['sh', 'bash', 'ash', 'dash', 'zsh', 'busybox']);
const ENV_SECRET_NAME = /(password|passwd|secret|token|api_?key|access_?key|credential)/i;

export function isRootUser(user: string | undefined): boolean {
  const name = (user ?? '').split(':')[0]!.trim();
  return name === '' || name === '0' || name === 'root';
}

async function resolveImage(deps: AnalyseDeps, repository: string, reference: string): Promise<Manifest> {
  const top = await deps.client.getManifest(repository, reference, deps.signal);
  if (top.kind === 'image') return top;
  const want = deps.platform ?? { os: 'linux', architecture: 'amd64' };
  const child = top.manifests.find(
    (d) =>
      d.platform?.os === want.os &&
      d.platform.architecture === want.architecture &&
      (want.variant === undefined || d.platform.variant === want.variant),
  );
  if (!child) {
    throw new SluiceError(
      'PLATFORM_NOT_FOUND',
      'not-found',
      `${repository}@${top.digest} has no ${want.os}/${want.architecture} image`,
      { repository, reference },
    );
  }
  return deps.client.getManifest(repository, child.digest, deps.signal);
}

function configSecrets(config: Record<string, unknown>): SecretFinding[] {
  const out: SecretFinding[] = [];
  const cfg = (config.config ?? {}) as { Env?: unknown };
  const env = Array.isArray(cfg.Env) ? cfg.Env.filter((e): e is string => typeof e === 'string') : [];
  env.forEach((entry, i) => {
    const eq = entry.indexOf('=');
    const name = eq < 0 ? entry : entry.slice(0, eq);
    const value = eq < 0 ? '' : entry.slice(eq + 1);
    const hits = scanText(entry, SECRET_RULES);
    for (const h of hits) out.push({ rule: h.rule, source: 'config.env', line: i + 1, fingerprint: h.fingerprint });
    if (hits.length === 0 && ENV_SECRET_NAME.test(name) && value.length >= 8) {
      out.push({
        rule: 'config-env-secret-name',
        source: 'config.env',
        line: i + 1,
        fingerprint: fingerprintOf('config-env-secret-name', value),
      });
    }
  });
  const history = Array.isArray(config.history) ? (config.history as { created_by?: unknown }[]) : [];
  history.forEach((h, i) => {
    if (typeof h?.created_by !== 'string') return;
    for (const hit of scanText(h.created_by)) {
      out.push({ rule: hit.rule, source: 'config.history', line: i + 1, fingerprint: hit.fingerprint });
    }
  });
  return out;
}

export async function analyseImage(
  deps: AnalyseDeps,
  ref: { repository: string; reference: string },
): Promise<ImageAnalysis> {
  const manifest = await resolveImage(deps, ref.repository, ref.reference);
  if (!manifest.config) {
    throw new SluiceError('CONFIG_INVALID', 'integrity', `${ref.repository}@${manifest.digest} has no config`, {
      repository: ref.repository,
      digest: manifest.digest,
    });
  }
  const configBytes = await deps.client.fetchBlob(
    ref.repository,
    manifest.config.digest,
    MAX_CONFIG_BYTES,
    manifest.config.size,
    deps.signal,
  );
  let config: Record<string, unknown>;
  try {
    config = JSON.parse(configBytes.toString('utf8')) as Record<string, unknown>;
  } catch (err) {
    throw new SluiceError(
      'CONFIG_INVALID',
      'integrity',
      `image config ${manifest.config.digest} is not valid JSON: ${(err as Error).message}`,
      { digest: manifest.config.digest },
    );
  }
  const notes: AnalysisNote[] = [];
  const temps: string[] = [];
  const ctx: ReadContext = {
    note: (n) => notes.push(n),
    tempDir: async () => {
      const dir = await mkdtemp(join(tmpdir(), 'sluice-analysis-'));
      temps.push(dir);
      return dir;
    },
  };
  const layers: LayerRef[] = manifest.layers.map((d, index) => ({
    index,
    digest: d.digest,
    mediaType: d.mediaType,
    size: d.size,
  }));
  const analyses: LayerAnalysis[] = [];
  let downloaded = 0;
  try {
    for (const layer of layers) {
      if (isForeignLayer(layer.mediaType)) {
        notes.push({ code: 'FOREIGN_LAYER', message: `foreign layer ${layer.digest} not read`, layer });
        continue;
      }
      const cached = await deps.cache?.get(layer.digest);
      if (cached) {
        analyses.push({ ...cached, layer });
        notes.push(...cached.notes.map((n) => ({ ...n, layer })));
        continue;
      }
      const blob = await deps.client.getBlob(ref.repository, layer.digest, layer.size, deps.signal);
      downloaded++;
      let analysis: LayerAnalysis;
      try {
        analysis = await walkLayer(layer, blob, { readers: deps.readers, ctx, limits: deps.limits });
      } finally {
        blob.destroy();
      }
      await deps.cache?.put(analysis);
      analyses.push(analysis);
    }
    const merged = await mergeLayers(analyses, deps.readers, ctx);
    const user =
      typeof (config.config as { User?: unknown })?.User === 'string' ? (config.config as { User: string }).User : '';
    const ports = (config.config as { ExposedPorts?: unknown })?.ExposedPorts;
    const executables = analyses.flatMap((a) => a.facts.executables);
    const names = (set: (n: string) => boolean) =>
      [...new Set(executables.filter((p) => set(p.slice(p.lastIndexOf('/') + 1))))].sort();
    const hardening: HardeningFacts = {
      user,
      runsAsRoot: isRootUser(user),
      exposedPorts: ports && typeof ports === 'object' ? Object.keys(ports).sort() : [],
      setuidFiles: analyses.flatMap((a) => a.facts.setuid),
      setgidFiles: analyses.flatMap((a) => a.facts.setgid),
      worldWritableDirs: analyses.flatMap((a) => a.facts.worldWritableDirs),
      shells: names((n) => SHELLS.has(n)),
      packageManagers: names((n) => !SHELLS.has(n) && !['curl', 'wget'].includes(n)),
      packageCount: merged.packages.length,
      imageSize: layers.reduce((s, l) => s + l.size, 0),
      uncompressedSize: analyses.reduce((s, a) => s + a.facts.uncompressedBytes, 0),
    };
    return {
      digest: manifest.digest,
      layers,
      packages: merged.packages,
      secrets: [...merged.secrets, ...configSecrets(config)],
      notes,
      hardening,
      layersDownloaded: downloaded,
    };
  } finally {
    for (const dir of temps) await rm(dir, { recursive: true, force: true });
  }
}
