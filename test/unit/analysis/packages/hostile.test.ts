import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import type { AnalysisNote, EntryInfo, ReadContext } from '../../../../src/analysis/model.ts';
import { parseFieldRecords } from '../../../../src/analysis/packages/common.ts';
import { decodeBuildInfo, parseModinfo } from '../../../../src/analysis/packages/golang/buildinfo.ts';
import { osReleaseOf, parseOsReleaseFields } from '../../../../src/analysis/packages/os-release/parse.ts';
import { parsePackageLock } from '../../../../src/analysis/packages/npm/parse.ts';
import { RpmHeaderError, parseRpmHeader, parseSourceRpm } from '../../../../src/analysis/packages/rpm/header.ts';

const entry: EntryInfo = {
  path: 'var/lib/dpkg/status',
  size: 0,
  mode: 0o644,
  layer: { index: 0, digest: `sha256:${'0'.repeat(64)}`, mediaType: 'application/vnd.oci.image.layer.v1.tar', size: 0 },
};

function context(): ReadContext & { notes: AnalysisNote[] } {
  const notes: AnalysisNote[] = [];
  return { notes, note: (n) => notes.push(n), tempDir: () => Promise.reject(new Error('not here')) };
}

describe('os-release', () => {
  it('reads quoted and escaped values and reports a broken line by number', () => {
    const { fields, problems } = parseOsReleaseFields(
      '# comment\nPRETTY_NAME="Debian GNU/Linux 12 (bookworm)"\nNAME=\'Debian\'\nVERSION_ID="12"\nID=debian\nID_LIKE="rhel fedora"\nBROKEN="x\nX="a \\"quoted\\" \\$word"\n',
    );
    assert.deepEqual(problems, [{ line: 7, message: 'unbalanced quotes in the value of BROKEN' }]);
    assert.equal(fields.get('X'), 'a "quoted" $word');
    assert.deepEqual(osReleaseOf(fields), {
      id: 'debian',
      versionId: '12',
      prettyName: 'Debian GNU/Linux 12 (bookworm)',
      idLike: ['rhel', 'fedora'],
    });
    assert.equal(osReleaseOf(new Map([['NAME', 'x']])), undefined);
  });
});

describe('parsers never throw on arbitrary bytes', () => {
  it('field records', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'binary', maxLength: 2000 }), (text) => {
        const records = parseFieldRecords(text, entry, context());
        assert.ok(Array.isArray(records));
      }),
      { numRuns: 500 },
    );
  });

  it('rpm headers: only RpmHeaderError, even with a lying index', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 512 }), fc.nat(20), fc.nat(600), (bytes, il, dl) => {
        const blob = Buffer.concat([Buffer.alloc(8), Buffer.from(bytes)]);
        blob.writeUInt32BE(il, 0);
        blob.writeUInt32BE(dl, 4);
        try {
          parseRpmHeader(blob);
        } catch (err) {
          assert.ok(err instanceof RpmHeaderError, String(err));
        }
      }),
      { numRuns: 2000 },
    );
  });

  it('Go build info', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 300 }), (bytes) => {
        const header = Buffer.concat([
          Buffer.from('\xff Go buildinf:', 'latin1'),
          Buffer.from([8, 2]),
          Buffer.alloc(16),
          Buffer.from(bytes),
        ]);
        const decoded = decodeBuildInfo(header);
        if (decoded.kind === 'inline') parseModinfo(decoded.goVersion, decoded.modinfo);
      }),
      { numRuns: 1000 },
    );
  });

  it('npm lock files of any JSON shape', () => {
    fc.assert(
      fc.property(fc.jsonValue({ maxDepth: 4 }), (value) => {
        const ctx = context();
        for (const shape of [value, { packages: value }, { dependencies: value }]) {
          parsePackageLock(JSON.stringify(shape), entry, ctx);
        }
      }),
      { numRuns: 500 },
    );
  });
});

describe('rpm source package names', () => {
  it('splits name, version and release as rpm does', () => {
    assert.deepEqual(parseSourceRpm('python3.11-3.11.7-1.el9.src.rpm'), {
      name: 'python3.11',
      version: '3.11.7-1.el9',
    });
    assert.deepEqual(parseSourceRpm('kernel-5.14.0-427.el9.nosrc.rpm'), { name: 'kernel', version: '5.14.0-427.el9' });
    assert.equal(parseSourceRpm('garbage'), undefined);
  });
});
