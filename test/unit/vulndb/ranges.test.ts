import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { isSluiceError } from '../../../src/errors.ts';
import { isAffected, type OsvAffected } from '../../../src/vulndb/ranges.ts';
import { SCHEMES } from '../../../src/vulndb/versions/index.ts';

const { dpkg, semver, go, pep440, rpm } = SCHEMES;

const semverRange = (...events: object[]): OsvAffected => ({ ranges: [{ type: 'SEMVER', events }] });

describe('isAffected: introduced and fixed', () => {
  it('introduced "0" alone covers every version, even ones "0" would not parse as', () => {
    const entry = semverRange({ introduced: '0' });
    for (const v of ['0.0.0-alpha', '0.0.1', '99.0.0']) {
      const r = isAffected(v, entry, semver);
      assert.equal(r.affected, true, v);
      assert.equal(r.fixed, undefined);
    }
  });

  it('a fixed event ends the range at the fixed version, which is reported', () => {
    const entry = semverRange({ introduced: '0' }, { fixed: '1.0.2' });
    assert.deepEqual(isAffected('1.0.1', entry, semver), {
      affected: true,
      match: { by: 'range', range: 0, type: 'SEMVER', introduced: '0', fixed: '1.0.2' },
      fixed: '1.0.2',
      notes: [],
    });
    assert.equal(isAffected('1.0.2-rc.1', entry, semver).affected, true, 'a pre-release of the fix is still affected');
    assert.equal(isAffected('1.0.2', entry, semver).affected, false);
    assert.equal(isAffected('1.0.3', entry, semver).affected, false);
  });

  it('introduced is inclusive', () => {
    const entry = semverRange({ introduced: '1.0.0' }, { fixed: '2.0.0' });
    assert.equal(isAffected('0.9.9', entry, semver).affected, false);
    assert.equal(isAffected('1.0.0', entry, semver).affected, true);
    assert.equal(isAffected('1.0.0+build.7', entry, semver).affected, true, 'build metadata is ignored');
  });

  it('several introduced/fixed pairs in one range leave the gaps unaffected and report the right fix', () => {
    const entry = semverRange({ introduced: '1.0.0' }, { fixed: '1.0.2' }, { introduced: '3.0.0' }, { fixed: '3.2.5' });
    assert.equal(isAffected('1.0.1', entry, semver).fixed, '1.0.2');
    assert.equal(isAffected('2.0.0', entry, semver).affected, false);
    assert.equal(isAffected('3.1.0', entry, semver).fixed, '3.2.5');
    assert.equal(isAffected('3.2.5', entry, semver).affected, false);
  });

  it('sorts unsorted events by version before walking them', () => {
    const sorted = semverRange(
      { introduced: '1.0.0' },
      { fixed: '1.0.2' },
      { introduced: '3.0.0' },
      { fixed: '3.2.5' },
    );
    const shuffled = semverRange(
      { fixed: '3.2.5' },
      { introduced: '3.0.0' },
      { fixed: '1.0.2' },
      { introduced: '1.0.0' },
    );
    for (const v of ['0.1.0', '1.0.0', '1.0.1', '1.0.2', '2.5.0', '3.0.0', '3.2.4', '3.2.5', '4.0.0']) {
      assert.deepEqual(isAffected(v, shuffled, semver), isAffected(v, sorted, semver), v);
    }
    assert.equal(isAffected('1.0.1', shuffled, semver).fixed, '1.0.2');
  });

  it('events at the same version keep the record order, as a stable sort of the algorithm does', () => {
    assert.equal(isAffected('1.0.0', semverRange({ introduced: '1.0.0' }, { fixed: '1.0.0' }), semver).affected, false);
    assert.equal(isAffected('1.0.0', semverRange({ fixed: '1.0.0' }, { introduced: '1.0.0' }), semver).affected, true);
  });
});

describe('isAffected: last_affected and limit', () => {
  it('last_affected is inclusive and reported instead of a fix', () => {
    const entry = semverRange({ introduced: '0' }, { last_affected: '2.1.214' });
    const at = isAffected('2.1.214', entry, semver);
    assert.equal(at.affected, true);
    assert.equal(at.fixed, undefined);
    assert.deepEqual(at.match, { by: 'range', range: 0, type: 'SEMVER', introduced: '0', lastAffected: '2.1.214' });
    assert.equal(isAffected('2.1.215', entry, semver).affected, false);
  });

  it('a limit caps the range: versions at or above every limit are unaffected', () => {
    const entry = semverRange({ introduced: '1.0.0' }, { limit: '2.0.0' });
    assert.equal(isAffected('1.5.0', entry, semver).affected, true);
    assert.equal(isAffected('2.0.0', entry, semver).affected, false);
    assert.equal(isAffected('3.0.0', entry, semver).affected, false);
  });

  it('with several limits, being below any one of them is enough', () => {
    const entry = semverRange({ introduced: '1.0.0' }, { limit: '1.5.0' }, { limit: '3.0.0' });
    assert.equal(isAffected('2.0.0', entry, semver).affected, true);
    assert.equal(isAffected('3.0.0', entry, semver).affected, false);
  });

  it('a limit containing "*" is infinity', () => {
    const entry = semverRange({ introduced: '1.0.0' }, { limit: '*' });
    assert.equal(isAffected('999.0.0', entry, semver).affected, true);
  });

  it('a limit does not turn a fixed version back into an affected one', () => {
    const entry = semverRange({ introduced: '1.0.0' }, { fixed: '1.2.0' }, { limit: '2.0.0' });
    assert.equal(isAffected('1.5.0', entry, semver).affected, false);
  });
});

describe('isAffected: ranges, versions lists and ecosystems', () => {
  it('reports the first range that matches, by index', () => {
    const entry: OsvAffected = {
      ranges: [
        { type: 'ECOSYSTEM', events: [{ introduced: '0' }, { fixed: '1.0-1' }] },
        { type: 'ECOSYSTEM', events: [{ introduced: '2.0-1' }, { fixed: '2.0-5' }] },
      ],
    };
    const r = isAffected('2.0-3', entry, dpkg);
    assert.equal(r.match?.by === 'range' && r.match.range, 1);
    assert.equal(r.fixed, '2.0-5');
  });

  it('ECOSYSTEM ranges use the ecosystem order: dpkg tilde, rpm epoch', () => {
    const debian: OsvAffected = {
      ranges: [{ type: 'ECOSYSTEM', events: [{ introduced: '0' }, { fixed: '2.36-9+deb12u4' }] }],
    };
    assert.equal(isAffected('2.36-9+deb12u4~bpo1', debian, dpkg).affected, true);
    assert.equal(isAffected('2.36-9+deb12u10', debian, dpkg).affected, false);
    assert.equal(isAffected('1:2.0-1', debian, dpkg).affected, false, 'an epoch outranks everything after it');
    const redhat: OsvAffected = {
      ranges: [{ type: 'ECOSYSTEM', events: [{ introduced: '0' }, { fixed: '1:3.0.7-18.el9' }] }],
    };
    assert.equal(isAffected('3.0.7-27.el9', redhat, rpm).affected, true, 'no epoch sorts below epoch 1');
    assert.equal(isAffected('1:3.0.7-18.el9', redhat, rpm).affected, false);
  });

  it('SEMVER ranges of Go records compare with and without the v', () => {
    const entry = semverRange({ introduced: '0' }, { fixed: '0.17.0' });
    assert.equal(isAffected('v0.16.1-0.20231012000000-abcdefabcdef', entry, go).affected, true);
    assert.equal(isAffected('v0.17.0', entry, go).affected, false);
  });

  it('SEMVER ranges stay SemVer whatever the ecosystem, and note a version that is not', () => {
    const entry = semverRange({ introduced: '0' }, { fixed: '2.0.0' });
    assert.equal(isAffected('1.5.0', entry, pep440).affected, true);
    const r = isAffected('1.5', entry, pep440);
    assert.equal(r.affected, false);
    assert.match(r.notes[0]!, /range 0 \(SEMVER\) skipped: "1\.5" is not a valid semver version/);
  });

  it('matches a versions list exactly, or by the scheme when the spelling differs', () => {
    const entry: OsvAffected = { versions: ['1.0', '1.1.post1'] };
    assert.deepEqual(isAffected('1.0', entry, pep440).match, { by: 'versions', version: '1.0' });
    assert.deepEqual(isAffected('1.0.0', entry, pep440).match, { by: 'versions', version: '1.0' });
    assert.equal(isAffected('1.1', entry, pep440).affected, false);
    assert.equal(isAffected('1.0', entry, pep440).fixed, undefined);
  });

  it('a listed version the scheme refuses matches only as the same string, with a note', () => {
    const r = isAffected('1.0.0', { versions: ['release-1.0.0', '1.0.0'] }, semver);
    assert.equal(r.affected, true);
    assert.match(r.notes[0]!, /1 listed version\(s\) are not valid semver versions/);
  });
});

describe('isAffected: what it does not evaluate', () => {
  it('ignores GIT ranges with a note and falls back to the versions list', () => {
    const entry: OsvAffected = {
      ranges: [{ type: 'GIT', repo: 'https://example.org/x.git', events: [{ introduced: 'abc123' }] }],
      versions: ['1.2.3'],
    };
    const listed = isAffected('1.2.3', entry, semver);
    assert.equal(listed.affected, true);
    assert.deepEqual(listed.match, { by: 'versions', version: '1.2.3' });
    assert.match(listed.notes[0]!, /^range 0 \(GIT\) ignored: commit ranges need the repository/);
    assert.equal(isAffected('1.2.4', entry, semver).affected, false);
  });

  it('skips a range of an unknown type with a note', () => {
    const r = isAffected('1.0.0', { ranges: [{ type: 'CALVER', events: [{ introduced: '0' }] }] }, semver);
    assert.equal(r.affected, false);
    assert.match(r.notes[0]!, /range 0 \(CALVER\) ignored: unknown range type/);
  });

  it('skips a range with an event version the scheme refuses, and still evaluates the others', () => {
    const entry: OsvAffected = {
      ranges: [
        { type: 'SEMVER', events: [{ introduced: '0' }, { fixed: 'not-a-version' }] },
        { type: 'SEMVER', events: [{ introduced: '1.0.0' }, { fixed: '1.0.5' }] },
      ],
    };
    const r = isAffected('1.0.1', entry, semver);
    assert.equal(r.match?.by === 'range' && r.match.range, 1);
    assert.match(r.notes[0]!, /range 0 \(SEMVER\) skipped: fixed "not-a-version" is not a valid semver version/);
  });

  it('skips a range whose event has none or several of the event fields', () => {
    for (const bad of [{}, { introduced: '0', fixed: '1.0.0' }, { introduced: 1 }, null]) {
      const r = isAffected('0.5.0', { ranges: [{ type: 'SEMVER', events: [bad as object] }] }, semver);
      assert.equal(r.affected, false, JSON.stringify(bad));
      assert.match(r.notes[0]!, /range 0 \(SEMVER\) skipped: /);
    }
  });

  it('refuses an installed version the scheme refuses, with VERSION_INVALID', () => {
    assert.throws(
      () => isAffected('not a version', semverRange({ introduced: '0' }), semver),
      (err) => isSluiceError(err, 'VERSION_INVALID') && err.message.includes('"not a version"'),
    );
    assert.throws(
      () => isAffected('1.0:-', { versions: ['1.0'] }, dpkg),
      (err) => isSluiceError(err, 'VERSION_INVALID'),
    );
  });

  it('leaves withdrawn records to the caller: an entry of one is evaluated as it stands', () => {
    // A withdrawn record keeps its affected[] untouched; the matcher must drop the record first.
    const record = { id: 'GHSA-xxxx', withdrawn: '2024-01-01T00:00:00Z', affected: [semverRange({ introduced: '0' })] };
    assert.equal(isAffected('1.0.0', record.affected[0]!, semver).affected, true);
  });
});
