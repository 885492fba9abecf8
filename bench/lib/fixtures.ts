/**
 * Many distinct images, cheaply: one image built with umoci and pushed with skopeo, then
 * variants that differ only by a config label, so every variant has its own config and
 * manifest digest while the layers are shared. Variants are written with plain HTTP calls of
 * the distribution API (mount layers, upload the config, put the manifest), independent of
 * Sluice's client.
 */
import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import type { LocalImage } from '../../test/helpers/index.ts';

export interface Variant {
  repository: string;
  tag: string;
  digest: string;
}

function sha256(bytes: Buffer): string {
  return `sha256:${createHash('sha256').update(bytes).digest('hex')}`;
}

async function expect(res: Response, ok: number[], what: string): Promise<Response> {
  if (!ok.includes(res.status)) throw new Error(`${what}: HTTP ${res.status} ${await res.text()}`);
  return res;
}

async function pushBlob(base: string, repository: string, bytes: Buffer): Promise<string> {
  const digest = sha256(bytes);
  const start = await expect(
    await fetch(`${base}/v2/${repository}/blobs/uploads/`, { method: 'POST' }),
    [202],
    `start upload to ${repository}`,
  );
  const location = new URL(start.headers.get('location') ?? '', base);
  location.searchParams.set('digest', digest);
  await expect(
    await fetch(location, { method: 'PUT', body: bytes, headers: { 'content-type': 'application/octet-stream' } }),
    [201],
    `upload ${digest} to ${repository}`,
  );
  return digest;
}

async function mount(base: string, repository: string, from: string, digest: string): Promise<void> {
  const url = `${base}/v2/${repository}/blobs/uploads/?mount=${encodeURIComponent(digest)}&from=${encodeURIComponent(from)}`;
  await expect(await fetch(url, { method: 'POST' }), [201], `mount ${digest} into ${repository}`);
}

/**
 * Writes `count` variants of `image` (already pushed to `fromRepository` on the registry at
 * `baseUrl`) round-robin into `repositories`, tagged `<tagPrefix><i>`, a few at a time.
 */
export async function pushLabelVariants(
  baseUrl: string,
  image: LocalImage,
  fromRepository: string,
  repositories: readonly string[],
  count: number,
  tagPrefix: string,
): Promise<Variant[]> {
  if (!image.configDigest) throw new Error('an image (not an index) is needed');
  const hex = image.configDigest.split(':')[1]!;
  const config = JSON.parse(await readFile(path.join(image.layout, 'blobs', 'sha256', hex), 'utf8')) as {
    config?: { Labels?: Record<string, string> };
  };
  const manifest = JSON.parse(image.bytes.toString('utf8')) as { config: { digest: string; size: number } };

  for (const repository of repositories) {
    for (const layer of image.layers) await mount(baseUrl, repository, fromRepository, layer.digest);
  }
  const variants: Variant[] = new Array<Variant>(count);
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < count) {
      const i = next++;
      const repository = repositories[i % repositories.length]!;
      const tag = `${tagPrefix}${i}`;
      const variantConfig = {
        ...config,
        config: { ...config.config, Labels: { ...config.config?.Labels, 'org.example.build': String(i) } },
      };
      const configBytes = Buffer.from(JSON.stringify(variantConfig));
      const configDigest = await pushBlob(baseUrl, repository, configBytes);
      const manifestBytes = Buffer.from(
        JSON.stringify({ ...manifest, config: { ...manifest.config, digest: configDigest, size: configBytes.length } }),
      );
      await expect(
        await fetch(`${baseUrl}/v2/${repository}/manifests/${tag}`, {
          method: 'PUT',
          body: manifestBytes,
          headers: { 'content-type': image.mediaType },
        }),
        [201],
        `put manifest ${repository}:${tag}`,
      );
      variants[i] = { repository, tag, digest: sha256(manifestBytes) };
    }
  };
  await Promise.all(Array.from({ length: 8 }, worker));
  return variants;
}
