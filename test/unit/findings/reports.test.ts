import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { isSluiceError } from '../../../src/errors.ts';
import { findingKey } from '../../../src/findings/model.ts';
import { assertReportIsFor, MAX_REPORT_BYTES, parseReport } from '../../../src/findings/reports/index.ts';

const fixture = (name: string) => readFileSync(new URL(`../../fixtures/scanners/${name}`, import.meta.url), 'utf8');
// eslint-disable-next-line @typescript-eslint/no-explicit-any -- tests edit fixtures at any depth
const json = (name: string) => JSON.parse(fixture(name)) as Record<string, any>;
const OTHER = `sha256:${'0'.repeat(64)}`;

function refusal(fn: () => unknown, code: string, pattern: RegExp): void {
  assert.throws(fn, (err: unknown) => {
    assert.ok(isSluiceError(err, code as never), String(err));
    assert.match((err as Error).message, pattern);
    return true;
  });
}

describe('Trivy JSON', () => {
  it('reads every vulnerability of a real report with package, fix, severity and CVSS', () => {
    const report = parseReport(fixture('trivy-alpine-310.json'), { source: 'alpine.json' });
    assert.equal(report.format, 'trivy');
    assert.equal(report.scanner, 'trivy');
    assert.equal(report.findings.length, 4);
    const f = report.findings.find((x) => x.id === 'CVE-2019-1551' && x.package.name === 'libssl1.1')!;
    assert.deepEqual(f.package, {
      name: 'libssl1.1',
      version: '1.1.1c-r0',
      ecosystem: 'alpine',
      purl: 'pkg:apk/alpine/libssl1.1@1.1.1c-r0?arch=x86_64&distro=3.10.2',
    });
    assert.equal(f.fixedVersion, '1.1.1d-r2');
    assert.equal(f.severity, 'medium');
    assert.deepEqual(f.cvss, { vector: 'CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:L/I:N/A:N', score: 5.3, source: 'nvd' });
    assert.deepEqual(report.digests, [], 'a tarball scan names no digest');
  });

  it('reads a language ecosystem report', () => {
    const report = parseReport(fixture('trivy-npm.json'));
    assert.deepEqual(
      report.findings.map((f) => [f.id, f.package.name, f.package.version, f.package.ecosystem, f.fixedVersion]),
      [['CVE-2019-11358', 'jquery', '3.3.9', 'npm', '3.4.0']],
    );
  });

  it('takes the digests a report names from RepoDigests and refuses it for another digest', () => {
    const doc = json('trivy-alpine-310.json');
    const digest = `sha256:${'a'.repeat(64)}`;
    doc.Metadata.RepoDigests = [`registry.example/acme/api@${digest}`];
    const report = parseReport(JSON.stringify(doc));
    assert.deepEqual(report.digests, [digest]);
    assertReportIsFor(report, digest, 'r.json');
    refusal(
      () => assertReportIsFor(report, OTHER, 'r.json'),
      'SCAN_REPORT_MISMATCH',
      /r\.json describes sha256:a{64}, not sha256:0{64}/,
    );
  });

  it('folds duplicated entries, keeping the worst severity and every alias', () => {
    const doc = json('trivy-alpine-310.json');
    const vulns = doc.Results[0].Vulnerabilities;
    vulns.push({ ...vulns[0], Severity: 'CRITICAL', VendorIDs: ['ALPINE-1'] });
    const report = parseReport(JSON.stringify(doc));
    assert.equal(report.findings.length, 4);
    assert.equal(report.duplicates, 1);
    const f = report.findings.find(
      (x) =>
        findingKey(x) ===
        findingKey({
          id: vulns[0].VulnerabilityID,
          package: { name: vulns[0].PkgName, version: vulns[0].InstalledVersion },
        }),
    )!;
    assert.equal(f.severity, 'critical');
    assert.deepEqual(f.aliases, ['ALPINE-1']);
  });

  it('maps severities no scanner documents to unknown instead of failing', () => {
    const doc = json('trivy-alpine-310.json');
    doc.Results[0].Vulnerabilities[0].Severity = 'SEVERE-ISH';
    doc.Results[0].Vulnerabilities[1].Severity = 42;
    const report = parseReport(JSON.stringify(doc));
    assert.deepEqual(
      report.findings.slice(0, 2).map((f) => f.severity),
      ['unknown', 'unknown'],
    );
  });

  it('records a report without packages as a scan with no findings', () => {
    const report = parseReport(
      JSON.stringify({ SchemaVersion: 2, ArtifactName: 'x', Results: [{ Target: 'x', Class: 'os-pkgs' }] }),
    );
    assert.deepEqual(report.findings, []);
    assert.deepEqual(parseReport(JSON.stringify({ SchemaVersion: 2, ArtifactName: 'x' })).findings, []);
  });

  it('names where an entry is broken', () => {
    const doc = json('trivy-alpine-310.json');
    delete doc.Results[0].Vulnerabilities[2].PkgName;
    refusal(
      () => parseReport(JSON.stringify(doc), { source: 'scan.json' }),
      'SCAN_REPORT_INVALID',
      /scan\.json: Results\[0\]\.Vulnerabilities\[2\]\.PkgName must be a non-empty string/,
    );
    refusal(
      () => parseReport(JSON.stringify({ SchemaVersion: 1, Results: [] }), { format: 'trivy' }),
      'SCAN_REPORT_INVALID',
      /SchemaVersion is 1/,
    );
  });
});

describe('Grype JSON', () => {
  it('reads matches of a real report with related vulnerabilities, fixes and both digests', () => {
    const report = parseReport(fixture('grype-chainguard-ruby.json'));
    assert.equal(report.format, 'grype');
    assert.deepEqual(
      report.findings.map((f) => [f.id, f.package.name, f.package.version, f.severity, f.fixedVersion ?? null]),
      [
        ['CVE-2023-28755', 'ruby-3.0', '3.0.4-r1', 'high', '3.0.6-r0'],
        ['CVE-2023-28755', 'uri', '0.10.1', 'high', null],
        ['GHSA-hv5j-3h9f-99c2', 'uri', '0.10.1', 'high', '0.10.2'],
      ],
    );
    assert.ok(report.findings[2]!.aliases.includes('CVE-2023-28755'), JSON.stringify(report.findings[2]));
    assert.deepEqual(report.digests.sort(), [
      'sha256:3c9afb4f188827ea1062ec3b8acea32893236a0d7df31e0498df93486cff0978',
      'sha256:86abe662dfa3746038eea6b0db91092b0767d78b8b8938a343d614cd1579adc2',
    ]);
    refusal(() => assertReportIsFor(report, OTHER, 'g.json'), 'SCAN_REPORT_MISMATCH', /g\.json describes/);
  });

  it('takes the newest CVSS rating and an empty fix as none', () => {
    const report = parseReport(fixture('grype-image-simple.json'), { format: 'grype' });
    const critical = report.findings.find((f) => f.id === 'CVE-1999-0002')!;
    assert.equal(critical.severity, 'critical');
    assert.equal(critical.fixedVersion, undefined);
    assert.equal(critical.cvss?.vector, 'CVSS:3.1/AV:N/AC:H/PR:L/UI:N/S:C/C:H/I:H/A:H');
    assert.equal(critical.cvss?.score, 8.5);
  });
});

describe('Clair v4 and Quay', () => {
  it('joins packages, distributions and vulnerabilities of a vulnerability report', () => {
    const report = parseReport(fixture('clair-vulnerability-report.json'));
    assert.equal(report.format, 'clair');
    assert.deepEqual(report.digests, ['sha256:35c102085707f703de2d9eaad8752d6fe1b8f02b5d2149f1d8357c9cc7fb7d0a']);
    const glibc = report.findings.find((f) => f.package.name === 'glibc')!;
    assert.deepEqual(
      [glibc.id, glibc.package.version, glibc.package.ecosystem, glibc.severity, glibc.fixedVersion],
      ['CVE-2009-5155', '2.27-0ubuntu1', 'ubuntu:18.04', 'low', '2.28-0ubuntu1'],
    );
    const apt = report.findings.find((f) => f.package.name === 'libapt-pkg5.0')!;
    assert.deepEqual([apt.id, apt.aliases, apt.severity], ['CVE-2020-27350', ['USN-4667-1'], 'medium']);
    refusal(() => assertReportIsFor(report, OTHER, 'c.json'), 'SCAN_REPORT_MISMATCH', /describes sha256:35c1/);
  });

  it('takes the advisory id out of a Red Hat style name', () => {
    const doc = json('clair-vulnerability-report.json');
    doc.vulnerabilities['356835'].name = 'RHSA-2020:5566: openssl security update (Important) CVE-2020-1971';
    doc.vulnerabilities['356835'].normalized_severity = 'High';
    const f = parseReport(JSON.stringify(doc)).findings.find((x) => x.package.name === 'glibc')!;
    assert.equal(f.id, 'RHSA-2020:5566');
    assert.ok(f.aliases.includes('CVE-2020-1971'));
    assert.equal(f.severity, 'high');
  });

  it('refuses dangling references and never reads inherited keys as ids', () => {
    const doc = json('clair-vulnerability-report.json');
    doc.package_vulnerabilities['0'] = ['999'];
    refusal(
      () => parseReport(JSON.stringify(doc)),
      'SCAN_REPORT_INVALID',
      /package_vulnerabilities\.0\[0\] names a vulnerability the report does not list/,
    );
    const proto = json('clair-vulnerability-report.json');
    proto.package_vulnerabilities = { constructor: ['356835'] };
    refusal(
      () => parseReport(JSON.stringify(proto)),
      'SCAN_REPORT_INVALID',
      /package_vulnerabilities\.constructor names a package/,
    );
    const toString = json('clair-vulnerability-report.json');
    toString.package_vulnerabilities = { '0': ['toString'] };
    refusal(
      () => parseReport(JSON.stringify(toString)),
      'SCAN_REPORT_INVALID',
      /names a vulnerability the report does not list/,
    );
  });

  it("reads Quay's security shape, as such or when asked for clair", () => {
    for (const format of ['auto', 'clair', 'quay'] as const) {
      const report = parseReport(fixture('quay-security.json'), { format });
      assert.equal(report.format, 'quay');
      assert.equal(report.scanner, 'clair');
      assert.deepEqual(
        report.findings.map((f) => [
          f.id,
          f.package.name,
          f.package.version,
          f.severity,
          f.fixedVersion,
          f.package.ecosystem,
        ]),
        [['CVE-2021-3711', 'openssl', '1.1.1k-r0', 'critical', '1.1.1l-r0', 'alpine:v3.14']],
      );
      assert.deepEqual(report.digests, ['sha256:b7a2e4d8f1c6a9e3d5b0c8f7a6e1d2c3b4a5f6e7d8c9b0a1f2e3d4c5b6a7f8e9']);
    }
    const queued = json('quay-security.json');
    queued.status = 'queued';
    refusal(() => parseReport(JSON.stringify(queued)), 'SCAN_REPORT_INVALID', /status is "queued": Quay has no scan/);
  });
});

describe('CycloneDX', () => {
  it("reads Grype's CycloneDX output: refs to components and to purls, the image digest", () => {
    const report = parseReport(fixture('cyclonedx-grype-image.json'));
    assert.equal(report.format, 'cyclonedx');
    assert.equal(report.scanner, 'grype');
    assert.deepEqual(
      report.findings.map((f) => [f.id, f.package.name, f.package.version, f.severity]),
      [
        ['CVE-1999-0001', 'package-1', '1.1.1', 'low'],
        ['CVE-1999-0002', 'package-2', '2.2.2', 'critical'],
      ],
    );
    assert.equal(report.findings[0]!.cvss?.vector, 'CVSS:3.1/AV:N/AC:L/PR:L/UI:R/S:C/C:L/I:L/A:H');
    assert.deepEqual(report.digests, ['sha256:ca738abb87a8d58f112d3400ebb079b61ceae7dc290beb34bda735be4b1941d5']);
    refusal(() => assertReportIsFor(report, OTHER, 'bom.json'), 'SCAN_REPORT_MISMATCH', /bom\.json describes/);
  });

  it('reads VEX analysis states: not_affected rules a finding out, BOM-links resolve to purls', () => {
    const report = parseReport(fixture('cyclonedx-vex-trivy.json'));
    assert.deepEqual(
      report.findings.map((f) => [f.id, f.package.name, f.package.version, f.state, f.detail]),
      [
        [
          'CVE-2021-44228',
          'org.springframework.boot/spring-boot',
          '2.6.0',
          'not-affected',
          'not_affected: code_not_reachable',
        ],
        ['CVE-2022-27943', 'libstdc++6', '12.3.0-1ubuntu1~22.04', 'not-affected', 'not_affected'],
      ],
    );
    const doc = json('cyclonedx-vex-trivy.json');
    doc.vulnerabilities[1].analysis.state = 'exploitable';
    assert.equal(parseReport(JSON.stringify(doc)).findings[1]!.state, 'open');
  });

  it('refuses a ref that names nothing and an unsupported spec version', () => {
    const doc = json('cyclonedx-grype-image.json');
    doc.vulnerabilities[0].affects[0].ref = 'no-such-component';
    refusal(
      () => parseReport(JSON.stringify(doc)),
      'SCAN_REPORT_INVALID',
      /vulnerabilities\[0\]\.affects\[0\]\.ref names "no-such-component"/,
    );
    refusal(
      () => parseReport(JSON.stringify({ bomFormat: 'CycloneDX', specVersion: '1.2' })),
      'SCAN_REPORT_INVALID',
      /specVersion is "1\.2"/,
    );
  });
});

describe('any report', () => {
  it('refuses truncated JSON, unknown shapes and reports over the limit, naming the source', () => {
    const text = fixture('trivy-alpine-310.json');
    refusal(
      () => parseReport(text.slice(0, text.length / 2), { source: 'cut.json' }),
      'SCAN_REPORT_INVALID',
      /cut\.json: is not valid JSON/,
    );
    refusal(
      () => parseReport('{"hello":1}', { source: 'x.json' }),
      'SCAN_REPORT_INVALID',
      /x\.json: is not a report Sluice reads/,
    );
    refusal(
      () => parseReport(' '.repeat(MAX_REPORT_BYTES + 1), { source: 'big.json' }),
      'INPUT_TOO_LARGE',
      /big\.json is larger than the 64 MiB/,
    );
  });

  it('recognises each format without being told', () => {
    const formats = [
      'trivy-alpine-310.json',
      'grype-image-simple.json',
      'clair-vulnerability-report.json',
      'quay-security.json',
      'cyclonedx-vex-trivy.json',
    ].map((f) => parseReport(fixture(f)).format);
    assert.deepEqual(formats, ['trivy', 'grype', 'clair', 'quay', 'cyclonedx']);
  });
});
