/** Layers and a package reader for the analyser's integration tests. */
import { gzipSync } from 'node:zlib';
import tar from 'tar-stream';
import type { PackageReader } from '../../src/analysis/model.ts';

/** A gzipped tar layer holding `files`, built in memory. */
export async function layerOf(files: Record<string, string | Buffer>): Promise<Buffer> {
  const pack = tar.pack();
  const chunks: Buffer[] = [];
  pack.on('data', (c: unknown) => {
    chunks.push(c as Buffer);
  });
  const done = new Promise<void>((r) => pack.on('end', () => r()));
  for (const [name, body] of Object.entries(files)) pack.entry({ name, mode: 0o644 }, body);
  pack.finalize();
  await done;
  return gzipSync(Buffer.concat(chunks));
}

/** A package reader of `var/lib/fake/db`: one `name version` per line, as npm packages. */
export const fakeDbReader: PackageReader = {
  name: 'fake',
  wants: (e) => e.path === 'var/lib/fake/db',
  maxBytes: 4096,
  read: async (files) =>
    [...files.values()].flatMap((f) =>
      f.content
        .toString('latin1')
        .split('\n')
        .filter((line) => line.includes(' '))
        .map((line) => {
          const [name, version] = line.split(' ');
          return {
            ecosystem: 'npm' as const,
            name: name!,
            version: version!,
            purl: `pkg:npm/${name}@${version}`,
            path: f.path,
            layer: f.layer,
          };
        }),
    ),
};
