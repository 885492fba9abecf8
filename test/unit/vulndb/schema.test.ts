/** The published OSV schema runs on every record, after the bounds and hand-written checks. */
import assert from 'node:assert/strict';
import { readFileSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { describe, it } from 'node:test';
import { isSluiceError } from '../../../src/errors.ts';
import { parseRecord } from '../../../src/vulndb/record.ts';

const FIXTURES = path.resolve(import.meta.dirname, '../../fixtures/osv');
const fixture = (): Record<string, unknown> & { affected: Array<Record<string, Record<string, unknown>>> } =>
  JSON.parse(readFileSync(path.join(FIXTURES, 'GHSA-35jh-r3h4-6jhm.json'), 'utf8'));

function refusal(record: unknown): { message: string; field: unknown } {
  try {
    parseRecord(JSON.stringify(record), 'GHSA-x.json');
  } catch (err) {
    assert.ok(isSluiceError(err, 'OSV_RECORD_INVALID'), String(err));
    return { message: err.message, field: err.context.field };
  }
  assert.fail('record accepted');
}

describe('OSV schema', () => {
  it('accepts the published records of the fixtures', () => {
    const files = readdirSync(FIXTURES).filter((f) => f.endsWith('.json'));
    assert.ok(files.length >= 4);
    for (const f of files) assert.ok(parseRecord(readFileSync(path.join(FIXTURES, f)), f).id);
  });

  it('refuses a range type the schema does not list, naming the field and the allowed values', () => {
    const r = fixture();
    (r.affected[0]!.ranges as unknown as Array<Record<string, unknown>>)[0]!.type = 'CALVER';
    const e = refusal(r);
    assert.equal(e.field, 'affected[0].ranges[0].type');
    assert.equal(
      e.message,
      'GHSA-x.json: affected[0].ranges[0].type: OSV schema: must be equal to one of the allowed values (GIT, SEMVER, ECOSYSTEM)',
    );
  });

  it('refuses an id prefix and an ecosystem osv.dev does not know', () => {
    const id = fixture();
    id.id = 'ZZZ-1';
    assert.equal(refusal(id).field, 'id');
    const eco = fixture();
    eco.affected[0]!.package!.ecosystem = 'Nope';
    assert.equal(refusal(eco).field, 'affected[0].package.ecosystem');
  });

  it('refuses a malformed CVSS vector in severity', () => {
    const r = fixture();
    r.severity = [{ type: 'CVSS_V3', score: 'CVSS:3.1/AV:Q' }];
    assert.equal(refusal(r).field, 'severity[0].score');
  });
});
