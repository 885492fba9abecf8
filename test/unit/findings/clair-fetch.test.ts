import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { isSluiceError } from '../../../src/errors.ts';
import { parseReport } from '../../../src/findings/reports/index.ts';
import { fetchClairReport, reportUrl } from '../../../src/findings/scanners/clair.ts';
import { OutboundClient } from '../../../src/http/index.ts';

const fixture = (name: string) => readFileSync(new URL(`../../fixtures/scanners/${name}`, import.meta.url), 'utf8');
const CLAIR_DIGEST = 'sha256:35c102085707f703de2d9eaad8752d6fe1b8f02b5d2149f1d8357c9cc7fb7d0a';
const QUAY_DIGEST = 'sha256:b7a2e4d8f1c6a9e3d5b0c8f7a6e1d2c3b4a5f6e7d8c9b0a1f2e3d4c5b6a7f8e9';

describe('Clair and Quay report fetching', () => {
  let server: Server;
  let base: string;
  const seen: IncomingMessage[] = [];
  before(async () => {
    server = createServer((req, res) => {
      seen.push(req);
      const url = new URL(req.url!, 'http://x');
      if (url.pathname === `/matcher/api/v1/vulnerability_report/${encodeURIComponent(CLAIR_DIGEST)}`) {
        res.setHeader('content-type', 'application/json');
        return res.end(fixture('clair-vulnerability-report.json'));
      }
      if (url.pathname === `/api/v1/repository/acme-prod/api/manifest/${encodeURIComponent(QUAY_DIGEST)}/security`) {
        if (req.headers.authorization !== 'Bearer robot-token') return res.writeHead(401).end();
        if (url.searchParams.get('vulnerabilities') !== 'true') return res.writeHead(400).end();
        return res.end(fixture('quay-security.json'));
      }
      res.writeHead(404).end('{"code":"not-found"}');
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  after(() => new Promise<void>((r) => server.close(() => r())));
  const client = new OutboundClient();

  it('reads a Clair vulnerability report by manifest digest', async () => {
    const text = await fetchClairReport(client, { url: base, digest: CLAIR_DIGEST, repository: 'acme-prod/api' });
    const report = parseReport(text, { format: 'clair' });
    assert.equal(report.format, 'clair');
    assert.deepEqual(report.digests, [CLAIR_DIGEST]);
  });

  it("reads Quay's security endpoint under its API root, with the token", async () => {
    const text = await fetchClairReport(client, {
      url: `${base}/api/v1`,
      digest: QUAY_DIGEST,
      repository: 'acme-prod/api',
      token: 'robot-token',
    });
    assert.equal(parseReport(text, { format: 'clair' }).format, 'quay');
    assert.equal(
      reportUrl({ url: 'https://quay.example/api/v1/', digest: QUAY_DIGEST, repository: 'acme/api' }).pathname,
      `/api/v1/repository/acme/api/manifest/${encodeURIComponent(QUAY_DIGEST)}/security`,
    );
  });

  it('says what is missing when nothing is indexed, the token is refused or the scanner is down, never echoing the token', async () => {
    const cases: Array<[Parameters<typeof fetchClairReport>[1], RegExp]> = [
      [
        { url: base, digest: `sha256:${'0'.repeat(64)}`, repository: 'r' },
        /Clair at 127\.0\.0\.1:\d+ has no report for sha256:0{64} \(not indexed yet/,
      ],
      [
        { url: `${base}/api/v1`, digest: QUAY_DIGEST, repository: 'acme-prod/api', token: 'wrong-secret' },
        /Quay at .* refused the request \(401\); check the scanner token/,
      ],
      [
        { url: 'http://127.0.0.1:1', digest: CLAIR_DIGEST, repository: 'r', token: 'wrong-secret' },
        /Clair at 127\.0\.0\.1:1: .*ECONNREFUSED/,
      ],
    ];
    for (const [target, message] of cases) {
      await assert.rejects(fetchClairReport(client, target), (err: unknown) => {
        assert.ok(isSluiceError(err, 'SCAN_FAILED'), String(err));
        assert.match((err as Error).message, message);
        assert.ok(!(err as Error).message.includes('wrong-secret'));
        return true;
      });
    }
  });
});
