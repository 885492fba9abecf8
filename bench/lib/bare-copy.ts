/**
 * A reference point for scenario (c), not Sluice: the least a Node client can spend copying an
 * image across two plain-http registries. Raw sockets, no HTTP library, no retries, no auth,
 * monolithic uploads; with `verify`, SHA-256 of every blob checked before its upload is
 * committed, as Sluice does; without it, bytes are only moved. Its CPU time bounds what any
 * change to Sluice's transport could save on this machine.
 *
 *   node bench/lib/bare-copy.ts '{"source":"http://h:p/repo:tag","target":"http://h:p/repo:tag","verify":true}'
 *   → one line: {"ms":…,"cpuMs":…}
 */
import { createHash } from 'node:crypto';
import net from 'node:net';

interface Input {
  source: string;
  target: string;
  verify: boolean;
}

interface Head {
  status: number;
  headers: Record<string, string>;
  rest: Buffer;
}

const MANIFEST_TYPES = [
  'application/vnd.oci.image.manifest.v1+json',
  'application/vnd.docker.distribution.manifest.v2+json',
].join(', ');

function split(ref: string): { base: string; host: string; repo: string; tag: string } {
  const url = new URL(ref);
  const at = url.pathname.lastIndexOf(':');
  return { base: url.origin, host: url.host, repo: url.pathname.slice(1, at), tag: url.pathname.slice(at + 1) };
}

function connect(base: string): Promise<net.Socket> {
  const url = new URL(base);
  return new Promise((resolve, reject) => {
    const socket = net.connect(
      { host: url.hostname, port: Number(url.port), writableHighWaterMark: 1024 * 1024 } as net.NetConnectOpts,
      () => resolve(socket),
    );
    socket.once('error', reject);
  });
}

function readHead(socket: net.Socket): Promise<Head> {
  return new Promise((resolve, reject) => {
    let acc: Buffer = Buffer.alloc(0);
    const onData = (chunk: Buffer) => {
      acc = acc.length ? Buffer.concat([acc, chunk]) : chunk;
      const end = acc.indexOf('\r\n\r\n');
      if (end < 0) return;
      socket.off('data', onData);
      socket.pause();
      const lines = acc.subarray(0, end).toString('latin1').split('\r\n');
      const headers: Record<string, string> = {};
      for (const line of lines.slice(1)) {
        const colon = line.indexOf(':');
        headers[line.slice(0, colon).toLowerCase()] = line.slice(colon + 1).trim();
      }
      resolve({ status: Number(lines[0]!.split(' ')[1]), headers, rest: acc.subarray(end + 4) });
    };
    socket.on('data', onData);
    socket.once('error', reject);
  });
}

async function exchange(base: string, head: string, body?: Buffer): Promise<Head & { body: Buffer }> {
  const socket = await connect(base);
  socket.write(head);
  if (body) socket.write(body);
  const res = await readHead(socket);
  const length = Number(res.headers['content-length'] ?? 0);
  const chunks = [res.rest];
  let got = res.rest.length;
  while (got < length) {
    socket.resume();
    const chunk = await new Promise<Buffer>((resolve) => socket.once('data', resolve));
    chunks.push(chunk);
    got += chunk.length;
  }
  socket.destroy();
  return { ...res, body: Buffer.concat(chunks) };
}

async function copyBlob(
  src: ReturnType<typeof split>,
  dst: ReturnType<typeof split>,
  digest: string,
  size: number,
  verify: boolean,
): Promise<void> {
  const [started, download] = await Promise.all([
    exchange(
      dst.base,
      `POST /v2/${dst.repo}/blobs/uploads/ HTTP/1.1\r\nHost: ${dst.host}\r\nContent-Length: 0\r\n\r\n`,
    ),
    connect(src.base),
  ]);
  if (started.status !== 202) throw new Error(`POST upload: ${started.status}`);
  download.write(`GET /v2/${src.repo}/blobs/${digest} HTTP/1.1\r\nHost: ${src.host}\r\n\r\n`);
  const head = await readHead(download);
  if (head.status !== 200) throw new Error(`GET blob: ${head.status}`);
  const location = new URL(started.headers.location!, dst.base);
  location.searchParams.set('digest', digest);
  const upload = await connect(dst.base);
  upload.write(
    `PUT ${location.pathname}${location.search} HTTP/1.1\r\nHost: ${dst.host}\r\nContent-Length: ${size}\r\n` +
      'Content-Type: application/octet-stream\r\n\r\n',
  );
  const hash = verify ? createHash('sha256') : undefined;
  let held: Buffer | undefined;
  let got = 0;
  const answer = readHead(upload);
  const push = (chunk: Buffer) => {
    got += chunk.length;
    hash?.update(chunk);
    // Like Sluice: the last chunk is held back until the digest checks out.
    if (got >= size) {
      held = chunk;
      return;
    }
    if (!upload.write(chunk)) {
      download.pause();
      upload.once('drain', () => download.resume());
    }
  };
  if (head.rest.length) push(head.rest);
  if (got < size) {
    await new Promise<void>((resolve, reject) => {
      download.on('data', (chunk: Buffer) => {
        push(chunk);
        if (got >= size) resolve();
      });
      download.once('error', reject);
      download.resume();
    });
  }
  download.destroy();
  if (hash && `sha256:${hash.digest('hex')}` !== digest) throw new Error(`digest mismatch for ${digest}`);
  upload.write(held!);
  const done = await answer;
  upload.destroy();
  if (done.status !== 201) throw new Error(`PUT blob: ${done.status}`);
}

async function main(): Promise<void> {
  const input = JSON.parse(process.argv[2] ?? '{}') as Input;
  const src = split(input.source);
  const dst = split(input.target);
  const cpu = process.cpuUsage();
  const started = performance.now();
  const manifest = await exchange(
    src.base,
    `GET /v2/${src.repo}/manifests/${src.tag} HTTP/1.1\r\nHost: ${src.host}\r\nAccept: ${MANIFEST_TYPES}\r\n\r\n`,
  );
  const parsed = JSON.parse(manifest.body.toString('utf8')) as {
    config: { digest: string; size: number };
    layers: Array<{ digest: string; size: number }>;
  };
  await Promise.all([parsed.config, ...parsed.layers].map((b) => copyBlob(src, dst, b.digest, b.size, input.verify)));
  const put = await exchange(
    dst.base,
    `PUT /v2/${dst.repo}/manifests/${dst.tag} HTTP/1.1\r\nHost: ${dst.host}\r\n` +
      `Content-Type: ${manifest.headers['content-type']}\r\nContent-Length: ${manifest.body.length}\r\n\r\n`,
    manifest.body,
  );
  if (put.status !== 201) throw new Error(`PUT manifest: ${put.status}`);
  const ms = performance.now() - started;
  const used = process.cpuUsage(cpu);
  process.stdout.write(JSON.stringify({ ms, cpuMs: (used.user + used.system) / 1000 }) + '\n');
}

await main();
