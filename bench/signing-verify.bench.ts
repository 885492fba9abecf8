/**
 * Image verification throughput: `verifyImage` (library API, one warm client) against a local
 * CNCF Distribution registry, for images carrying 1, 10 and 100 cosign signatures.
 *
 *   npx node bench/signing-verify.bench.ts [--runs 5] [--seconds 2] [--signatures 1,10,100]
 *
 * One verification is what `sluice verify` does: GET the tag (resolve), GET the `.sig`
 * manifest, look up referrers (Distribution has no referrers API, so a HEAD of the referrers
 * tag), then fetch and check every payload (8 blob requests in flight). Each run verifies one
 * image repeatedly, one verification at a time, for `--seconds`; the table shows the median
 * over `--runs` runs (runs rotate over the images so background load hits all alike), the CPU
 * time Sluice's process spent per verification, and the CPU time of the signature checks
 * alone (verifyCandidate over payloads already in memory), to show how much of a
 * verification is the registry round trips.
 *
 * Registry and image come from the integration-test harness (test/helpers). Nothing is
 * asserted; every verification must find all signatures valid or the bench stops.
 */
import { generateKeyPairSync } from 'node:crypto';
import os from 'node:os';
import { parseArgs } from 'node:util';
import { RegistryPool } from '../src/oci/pool.ts';
import { parseReference } from '../src/oci/reference.ts';
import { publicKeySet } from '../src/signing/keys.ts';
import { buildPayload } from '../src/signing/payload.ts';
import { FileSigner } from '../src/signing/signer.ts';
import { appendSignatureLayers, dockerReferenceOf, signatureLayer } from '../src/signing/store.ts';
import { verifyImage } from '../src/signing/verify-image.ts';
import { verifyCandidate } from '../src/signing/verify.ts';
import { buildImage, pushImage, startRegistry } from '../test/helpers/index.ts';

const { values } = parseArgs({
  options: {
    runs: { type: 'string', default: '5' },
    seconds: { type: 'string', default: '2' },
    signatures: { type: 'string', default: '1,10,100' },
  },
});
const runs = Math.max(5, Number(values.runs));
const seconds = Number(values.seconds);
const counts = String(values.signatures)
  .split(',')
  .map((s) => Number(s.trim()));

const median = (xs: readonly number[]) => {
  const s = [...xs].sort((x, y) => x - y);
  const mid = Math.floor(s.length / 2);
  return s.length % 2 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
};
const fmt = (n: number) => (n >= 100 ? n.toFixed(0) : n >= 10 ? n.toFixed(1) : n.toFixed(2));

async function main(): Promise<void> {
  const registry = await startRegistry();
  let requests = 0;
  const pool = new RegistryPool({ defaults: { onResponse: () => void requests++ } });
  try {
    const client = pool.get(registry.host);
    const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    const signer = new FileSigner('bench key', privateKey);
    const keys = publicKeySet([publicKey], 'bench key');

    interface Subject {
      n: number;
      ref: ReturnType<typeof parseReference>;
      digest: string;
      payloads: Buffer[];
      signatures: string[];
      samples: number[];
      /** CPU time of the whole Sluice process (user + system) per verification. */
      cpuMs: number[];
      requestsPerVerification: number;
    }
    const subjects: Subject[] = [];
    for (const n of counts) {
      const repo = `bench/verify-${n}`;
      const { digest } = await pushImage(await buildImage({ seed: `verify-${n}` }), registry, `${repo}:1`);
      const payloads: Buffer[] = [];
      const signatures: string[] = [];
      for (let i = 0; i < n; i++) {
        const payload = buildPayload({
          dockerReference: dockerReferenceOf(registry.host, repo),
          digest,
          annotations: { 'bench/index': String(i) },
        });
        payloads.push(payload);
        signatures.push((await signer.sign(payload)).toString('base64'));
      }
      const layers = payloads.map((p, i) => signatureLayer(p, signatures[i]!));
      await appendSignatureLayers(client, repo, digest, layers, { blobs: payloads, settleMs: 0 });
      subjects.push({
        n,
        ref: parseReference(`${registry.host}/${repo}:1`),
        digest,
        payloads,
        signatures,
        samples: [],
        cpuMs: [],
        requestsPerVerification: 0,
      });
    }

    const once = async (s: Subject) => {
      const r = await verifyImage(pool, s.ref, keys);
      if (r.valid.length !== s.n || r.rejected.length !== 0 || r.digest !== s.digest) {
        throw new Error(
          `verification of ${s.n} signatures found ${r.valid.length} valid, ${r.rejected.length} rejected`,
        );
      }
    };
    // Warm-up: connections, the referrers-mode probe, JIT.
    for (const s of subjects) {
      for (let i = 0; i < 3; i++) await once(s);
      const before = requests;
      await once(s);
      s.requestsPerVerification = requests - before;
    }

    for (let run = 0; run < runs; run++) {
      for (let j = 0; j < subjects.length; j++) {
        const s = subjects[(run + j) % subjects.length]!;
        const started = performance.now();
        const cpu = process.cpuUsage();
        const deadline = started + seconds * 1000;
        let done = 0;
        while (performance.now() < deadline || done < 3) {
          await once(s);
          done++;
        }
        s.samples.push(done / ((performance.now() - started) / 1000));
        const used = process.cpuUsage(cpu);
        s.cpuMs.push((used.user + used.system) / 1000 / done);
      }
    }

    // The cryptographic part alone, over payloads already in memory.
    const cryptoOnly = (s: Subject) => {
      const iterations = Math.max(50, Math.ceil(20_000 / s.n));
      const cpu = process.threadCpuUsage();
      for (let it = 0; it < iterations; it++) {
        for (let i = 0; i < s.n; i++) {
          const r = verifyCandidate({
            payload: s.payloads[i]!,
            signatureB64: s.signatures[i]!,
            keys,
            expectedDigest: s.digest,
          });
          if (!r.ok) throw new Error(r.reason);
        }
      }
      return process.threadCpuUsage(cpu).user / 1000 / iterations;
    };

    console.log(
      `node ${process.version}, ${os.cpus()[0]?.model ?? 'cpu'} x${os.cpus().length}, docker-registry on loopback, ` +
        `${runs} runs x ${seconds}s per image, medians`,
    );
    const header = [
      'signatures',
      'verifications/s',
      'min',
      'max',
      'ms/verification',
      'signatures/s',
      'requests',
      'client CPU ms',
      'crypto ms',
    ];
    const rows = subjects.map((s) => {
      const m = median(s.samples);
      return [
        String(s.n),
        fmt(m),
        fmt(Math.min(...s.samples)),
        fmt(Math.max(...s.samples)),
        fmt(1000 / m),
        fmt(m * s.n),
        String(s.requestsPerVerification),
        fmt(median(s.cpuMs)),
        fmt(cryptoOnly(s)),
      ];
    });
    const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
    const line = (cells: string[]) =>
      cells.map((c, i) => (i === 0 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join('  ');
    console.log(line(header));
    for (const r of rows) console.log(line(r));
    console.log(
      'requests: HTTP requests per verification (tag GET, .sig GET, referrers lookup, one GET per payload); ' +
        'client CPU ms: CPU time of this process per verification (the registry runs in its own process); ' +
        'crypto ms: CPU time of the signature checks alone per verification',
    );
  } finally {
    pool.close();
    await registry.stop();
  }
}

await main();
