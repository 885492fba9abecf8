/**
 * The final file system view: per-layer results (each independent, so each can be cached by
 * digest) combined bottom-up with OCI whiteouts, then handed to the readers. Secrets are kept
 * from every layer, deleted or not: a deleted file is still in a pullable blob.
 */
import type { InstalledPackage, LayerFile, PackageReader, ReadContext } from './model.ts';
import type { SecretFinding } from './secrets.ts';
import type { LayerAnalysis } from './walker.ts';

function removedBy(layer: LayerAnalysis, path: string): boolean {
  if (layer.whiteouts.some((w) => path === w || path.startsWith(`${w}/`))) return true;
  return layer.opaqueDirs.some((d) => d === '' || path.startsWith(`${d}/`));
}

export interface MergedView {
  packages: InstalledPackage[];
  secrets: SecretFinding[];
}

export async function mergeLayers(
  layers: readonly LayerAnalysis[],
  readers: readonly PackageReader[],
  ctx: ReadContext,
): Promise<MergedView> {
  const files = new Map<string, Map<string, LayerFile>>();
  const scanned = new Map<string, Map<string, InstalledPackage[]>>();
  for (const layer of layers) {
    for (const view of [...files.values(), ...scanned.values()]) {
      for (const path of [...view.keys()]) if (removedBy(layer, path)) view.delete(path);
    }
    for (const [reader, byPath] of layer.files) {
      let view = files.get(reader);
      if (!view) files.set(reader, (view = new Map()));
      for (const [path, file] of byPath) view.set(path, file);
    }
    for (const [reader, byPath] of layer.scanned) {
      let view = scanned.get(reader);
      if (!view) scanned.set(reader, (view = new Map()));
      for (const [path, pkgs] of byPath) view.set(path, pkgs);
    }
    // A file replaced in this layer by one another reader wanted is gone for the others too.
    const replaced = new Set([...layer.files.values(), ...layer.scanned.values()].flatMap((m) => [...m.keys()]));
    for (const [reader, view] of [...files, ...scanned]) {
      for (const path of replaced) {
        const own = layer.files.get(reader)?.has(path) || layer.scanned.get(reader)?.has(path);
        if (!own) view.delete(path);
      }
    }
  }
  const packages: InstalledPackage[] = [];
  for (const r of readers) {
    const view = files.get(r.name);
    if (r.read && view && view.size > 0) {
      try {
        packages.push(...(await r.read(view, ctx)));
      } catch (err) {
        ctx.note({ code: 'READER_FAILED', message: `reader ${r.name} failed: ${(err as Error).message}` });
      }
    }
    for (const pkgs of scanned.get(r.name)?.values() ?? []) packages.push(...pkgs);
  }
  return { packages, secrets: layers.flatMap((l) => l.secrets) };
}
