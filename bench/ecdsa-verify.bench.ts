/**
 * Raw ECDSA P-256 verification throughput of node:crypto on one core, against
 * `openssl speed ecdsap256` on the same machine. The goal for signature verification is at
 * least 90% of OpenSSL's single-core rate.
 *
 *   npx node bench/ecdsa-verify.bench.ts        (BENCH_SECONDS=3, BENCH_ROUNDS=3 by default)
 *
 * `openssl speed` divides by the CPU user time of its process unless given `-elapsed`, which
 * makes its figure immune to other load on the machine while a wall-clock loop is not. Both
 * bases are measured here: Node's loop by the user CPU time of its own thread against plain
 * `openssl speed`, and by wall clock against `openssl speed -elapsed`; runs alternate so
 * background load hits both sides alike.
 *
 * Node hashes the payload (a cosign simple-signing payload, ~270 bytes) on every call, as
 * real verification must; `openssl speed` verifies a fixed digest. Both are single-threaded.
 */
import { spawnSync } from 'node:child_process';
import {
  createPublicKey,
  createVerify,
  generateKeyPairSync,
  sign,
  verify,
  webcrypto,
  type KeyObject,
} from 'node:crypto';
import { buildPayload } from '../src/signing/payload.ts';

const seconds = Number(process.env.BENCH_SECONDS ?? 3);

interface Rates {
  /** Calls per second of wall-clock time. */
  wall: number;
  /** Calls per second of this thread's user CPU time (what `openssl speed` reports by default). */
  cpu: number;
}

/** Runs `fn` in batches until `seconds` have passed. */
function rate(fn: () => boolean): Rates {
  for (let i = 0; i < 500; i++) if (!fn()) throw new Error('verification failed during warm-up');
  const deadline = performance.now() + seconds * 1000;
  let calls = 0;
  const started = performance.now();
  const cpuStart = process.threadCpuUsage();
  while (performance.now() < deadline) {
    for (let i = 0; i < 200; i++) if (!fn()) throw new Error('verification failed');
    calls += 200;
  }
  const cpu = process.threadCpuUsage(cpuStart);
  return { wall: calls / ((performance.now() - started) / 1000), cpu: calls / (cpu.user / 1e6) };
}

async function rateAsync(fn: () => Promise<boolean>): Promise<number> {
  for (let i = 0; i < 200; i++) if (!(await fn())) throw new Error('verification failed during warm-up');
  const deadline = performance.now() + seconds * 1000;
  let calls = 0;
  const started = performance.now();
  while (performance.now() < deadline) {
    const batch = await Promise.all(Array.from({ length: 64 }, fn));
    if (batch.some((ok) => !ok)) throw new Error('verification failed');
    calls += batch.length;
  }
  return calls / ((performance.now() - started) / 1000);
}

function opensslRate(elapsed: boolean): { perSecond: number; version: string } | { error: string } {
  const version = spawnSync('openssl', ['version'], { encoding: 'utf8' });
  if (version.error) return { error: `openssl not runnable: ${version.error.message}` };
  const args = ['speed', ...(elapsed ? ['-elapsed'] : []), '-seconds', String(seconds), 'ecdsap256'];
  const r = spawnSync('openssl', args, { encoding: 'utf8' });
  if (r.status !== 0) return { error: `openssl speed failed: ${r.stderr.trim().split('\n').pop() ?? r.status}` };
  // " 256 bits ecdsa (nistp256)   0.0000s   0.0001s  43290.9  13856.0"
  const m = /\(nistp256\)\s+[\d.]+s\s+[\d.]+s\s+([\d.]+)\s+([\d.]+)/.exec(r.stdout);
  if (!m?.[2]) return { error: `cannot find the nistp256 verify/s figure in:\n${r.stdout}` };
  return { perSecond: Number(m[2]), version: version.stdout.trim() };
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? 0;

async function main(): Promise<void> {
  const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const payload = buildPayload({
    dockerReference: 'registry.example.com/team/app',
    digest: `sha256:${'0123456789abcdef'.repeat(4)}`,
    annotations: { 'org.example/build': '1234' },
  });
  const der = sign('sha256', payload, privateKey);
  const p1363 = sign('sha256', payload, { key: privateKey, dsaEncoding: 'ieee-p1363' });
  const pem = publicKey.export({ type: 'spki', format: 'pem' }).toString();
  const preParsed: KeyObject = createPublicKey(pem);
  const cryptoKey = await webcrypto.subtle.importKey(
    'spki',
    publicKey.export({ type: 'spki', format: 'der' }),
    { name: 'ECDSA', namedCurve: 'P-256' },
    false,
    ['verify'],
  );
  const verifyPreParsed = () => verify('sha256', payload, preParsed, der);

  console.log(
    `node ${process.version} (OpenSSL ${process.versions.openssl}), payload ${payload.length} bytes, one thread`,
  );
  console.log(`variants (${seconds}s each), verifications per second of thread CPU time and of wall-clock time:`);
  const variants: Array<{ name: string; rates: Rates }> = [
    { name: 'crypto.verify, pre-parsed KeyObject', rates: rate(verifyPreParsed) },
    { name: 'crypto.verify, PEM parsed per call', rates: rate(() => verify('sha256', payload, pem, der)) },
    {
      name: 'crypto.createVerify().verify()',
      rates: rate(() => createVerify('sha256').update(payload).verify(preParsed, der)),
    },
  ];
  for (const v of variants) {
    console.log(
      `  ${v.name.padEnd(40)} ${v.rates.cpu.toFixed(0).padStart(7)} /CPU-s ${v.rates.wall.toFixed(0).padStart(7)} /wall-s`,
    );
  }
  const subtle = await rateAsync(() =>
    webcrypto.subtle.verify({ name: 'ECDSA', hash: 'SHA-256' }, cryptoKey, p1363, payload),
  );
  console.log(
    `  ${'webcrypto subtle.verify (async)'.padEnd(40)} ${'-'.padStart(7)}        ${subtle.toFixed(0).padStart(7)} /wall-s`,
  );

  const rounds = Number(process.env.BENCH_ROUNDS ?? 3);
  const node = { cpu: [] as number[], wall: [] as number[] };
  const ossl = { cpu: [] as number[], wall: [] as number[] };
  let opensslVersion = '';
  console.log(
    `head to head, crypto.verify (pre-parsed KeyObject) vs openssl speed ecdsap256, ${rounds} rounds of ${seconds}s:`,
  );
  for (let i = 0; i < rounds; i++) {
    const n = rate(verifyPreParsed);
    const cpu = opensslRate(false);
    const wall = opensslRate(true);
    if ('error' in cpu || 'error' in wall) {
      console.log(`openssl: ${'error' in cpu ? cpu.error : 'error' in wall ? wall.error : ''}`);
      process.exitCode = 1;
      return;
    }
    opensslVersion = cpu.version;
    node.cpu.push(n.cpu);
    node.wall.push(n.wall);
    ossl.cpu.push(cpu.perSecond);
    ossl.wall.push(wall.perSecond);
    console.log(
      `  round ${i + 1}: per CPU-second node ${n.cpu.toFixed(0)} / openssl ${cpu.perSecond.toFixed(0)};` +
        ` per wall-second node ${n.wall.toFixed(0)} / openssl -elapsed ${wall.perSecond.toFixed(0)}`,
    );
  }
  console.log(`openssl CLI: ${opensslVersion}`);
  for (const basis of ['cpu', 'wall'] as const) {
    const ratio = median(node[basis]) / median(ossl[basis]);
    console.log(
      `median per ${basis === 'cpu' ? 'CPU' : 'wall'}-second: node ${median(node[basis]).toFixed(0)}, openssl ${median(ossl[basis]).toFixed(0)} verify/s;` +
        ` ratio ${(ratio * 100).toFixed(1)}% (goal >= 90%: ${ratio >= 0.9 ? 'met' : 'not met'})`,
    );
  }
}

await main();
