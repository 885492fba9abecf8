import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { Ajv2020 } from 'ajv/dist/2020.js';
import addFormats from 'ajv-formats';
import { PackageURL } from 'packageurl-js';
import { ociPurl, openVexDocument, type VexStatement } from '../../../src/findings/vex.ts';

const schema = JSON.parse(
  readFileSync(new URL('../../fixtures/openvex/openvex_json_schema.json', import.meta.url), 'utf8'),
);
const ajv = new Ajv2020({ allErrors: true, strict: false });
addFormats.default(ajv);
const validate = ajv.compile(schema);

const image = { digest: `sha256:${'c'.repeat(64)}`, repository: 'reg.local/acme-prod/api' };
const statements: VexStatement[] = [
  {
    kind: 'not-affected',
    vulnerability: 'CVE-2021-44228',
    aliases: ['GHSA-jfh8-c2jp-5v3q'],
    images: [image],
    purl: 'pkg:maven/org.apache.logging.log4j/log4j-core@2.14.1',
    justification: 'not_affected: code_not_reachable',
    since: Date.UTC(2026, 0, 2),
  },
  {
    kind: 'not-affected',
    vulnerability: 'CVE-2022-27943',
    aliases: [],
    images: [image],
    justification: 'requires_environment',
    since: Date.UTC(2026, 0, 3),
  },
  { kind: 'not-affected', vulnerability: 'CVE-2022-1', aliases: [], images: [image], since: Date.UTC(2026, 0, 3) },
  {
    kind: 'waiver',
    waiver: 'w-42',
    vulnerability: 'CVE-2026-1234',
    aliases: [],
    images: [image],
    reason: 'no fix upstream; not exposed',
    by: 'sec-alice',
    created: Date.UTC(2026, 0, 4),
    expires: Date.UTC(2026, 1, 3),
  },
];

describe('OpenVEX export', () => {
  const doc = openVexDocument(statements, {
    id: 'https://sluice.example/vex/1',
    author: 'sluice@acme',
    now: Date.UTC(2026, 0, 5),
  });

  it('is valid against the published OpenVEX schema', () => {
    assert.ok(validate(doc), JSON.stringify(validate.errors, null, 2));
  });

  it('maps CycloneDX justifications, and falls back to an impact statement', () => {
    const s = doc.statements as Array<Record<string, unknown>>;
    assert.equal(s[0]!.justification, 'vulnerable_code_not_in_execute_path');
    assert.equal(s[1]!.impact_statement, 'requires_environment');
    assert.equal(s[1]!.justification, undefined);
    assert.match(String(s[2]!.impact_statement), /ruled out by the scanner report/);
  });

  it('keeps a waiver an accepted risk that names who, why and until when', () => {
    const w = (doc.statements as Array<Record<string, unknown>>)[3]!;
    assert.equal(w.status, 'affected');
    assert.equal(
      w.action_statement,
      'accepted risk: waiver w-42 by sec-alice until 2026-02-03T00:00:00.000Z: no fix upstream; not exposed',
    );
  });

  it('names images by digest as OCI purls', () => {
    const purl = PackageURL.fromString(ociPurl(image));
    assert.deepEqual(
      [purl.type, purl.name, purl.version, purl.qualifiers?.repository_url],
      ['oci', 'api', image.digest, image.repository],
    );
    const p = (doc.statements as Array<{ products: Array<Record<string, unknown>> }>)[0]!.products[0]!;
    assert.deepEqual(p.hashes, { 'sha-256': 'c'.repeat(64) });
  });

  it('would be refused by the schema without the reason or the action it always carries', () => {
    const bare = structuredClone(doc) as { statements: Array<Record<string, unknown>> };
    delete bare.statements[0]!.justification;
    assert.equal(validate(bare), false);
    const silent = structuredClone(doc) as { statements: Array<Record<string, unknown>> };
    delete silent.statements[3]!.action_statement;
    assert.equal(validate(silent), false);
  });
});
