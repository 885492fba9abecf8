/**
 * The version schemes of src/vulndb/versions/, judged by the ecosystems' real tools on
 * generated pairs (dpkg, rpm, Python's packaging, Maven's ComparableVersion, RubyGems, Go's
 * x/mod/semver) and by each tool's upstream test vectors (test/fixtures/versions/, each citing
 * its source), plus properties every total order must have.
 *
 * The tools run concurrently at load time, one batch each, so the file stays within seconds.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { isSluiceError } from '../../../src/errors.ts';
import {
  ECOSYSTEM_SCHEMES,
  isPseudoVersion,
  MAX_VERSION_LENGTH,
  SCHEMES,
  schemeForEcosystem,
  type VersionScheme,
} from '../../../src/vulndb/versions/index.ts';
import { apkVersionCompare } from '../../../src/vulndb/versions/apk.ts';
import { parseDpkgVersion } from '../../../src/vulndb/versions/dpkg.ts';
import { mavenCanonical } from '../../../src/vulndb/versions/maven.ts';
import { parseRpmVersion } from '../../../src/vulndb/versions/rpm.ts';
import { holds, readVectors } from './fixtures.ts';
import { dpkgPairs, goPairs, mavenVersions, pep440Pairs, rpmPairs, rubyPairs, SEED } from './generators.ts';
import {
  dpkgOracle,
  goOracle,
  mavenOracle,
  packagingVersion,
  pep440Oracle,
  rpmOracle,
  rubyOracle,
  type Pair,
  type Verdict,
} from './oracles.ts';

const { dpkg, rpm, apk, semver, pep440, maven, go, rubygems, nuget } = SCHEMES;

// Start every tool now; each test awaits its own batch.
const batches = {
  dpkg: (() => {
    const pairs = dpkgPairs(1000);
    return { pairs, verdicts: dpkgOracle(pairs) };
  })(),
  rpm: (() => {
    const pairs = rpmPairs(3000);
    return { pairs, verdicts: rpmOracle(pairs) };
  })(),
  pep440: (() => {
    const pairs = pep440Pairs(3000);
    return { pairs, verdicts: pep440Oracle(pairs) };
  })(),
  maven: (() => {
    const versions = mavenVersions(3000);
    return { versions, verdicts: mavenOracle(versions) };
  })(),
  rubygems: (() => {
    const pairs = rubyPairs(3000);
    return { pairs, verdicts: rubyOracle(pairs) };
  })(),
  go: (() => {
    const pairs = goPairs(3000);
    return { pairs, verdicts: goOracle(pairs) };
  })(),
};
// A tool that fails must fail its own test, not crash the file before the others report.
for (const batch of Object.values(batches)) batch.verdicts.catch(() => {});

function order(scheme: VersionScheme, a: string, b: string): -1 | 0 | 1 | null {
  return scheme.isValid(a) && scheme.isValid(b) ? scheme.compare(a, b) : null;
}

/** Collects every disagreement, so one failure shows the pattern instead of the first case. */
function assertAgrees(scheme: VersionScheme, tool: string, pairs: readonly Pair[], verdicts: readonly Verdict[]) {
  const wrong: string[] = [];
  let compared = 0;
  pairs.forEach(([a, b], i) => {
    const v = verdicts[i]!;
    if (scheme.isValid(a) !== v.validA) wrong.push(`valid(${JSON.stringify(a)}): ${tool} ${v.validA}`);
    if (scheme.isValid(b) !== v.validB) wrong.push(`valid(${JSON.stringify(b)}): ${tool} ${v.validB}`);
    if (v.order !== null && v.validA && v.validB && scheme.isValid(a) && scheme.isValid(b)) {
      compared++;
      const ours = scheme.compare(a, b);
      if (ours !== v.order)
        wrong.push(`${JSON.stringify(a)} vs ${JSON.stringify(b)}: ours ${ours}, ${tool} ${v.order}`);
    }
  });
  assert.deepEqual(wrong.slice(0, 25), [], `${wrong.length} disagreements with ${tool} (VERSIONS_SEED=${SEED})`);
  // The generators must exercise the comparison, not only the validity check.
  assert.ok(compared > pairs.length / 3, `only ${compared} of ${pairs.length} pairs were comparable`);
  return compared;
}

/** Checks a fixture file against a comparison that may be the scheme's or a raw one. */
function assertVectors(file: string, compare: (a: string, b: string) => number, isValid: (v: string) => boolean): void {
  const wrong: string[] = [];
  const vectors = readVectors(file);
  for (const v of vectors) {
    if (v.kind === 'compare') {
      const r = compare(v.a, v.b);
      if (!holds(r, v.op)) wrong.push(`${file}:${v.line}: ${v.a} ${v.op} ${v.b}, got ${r}`);
    } else if (v.kind === 'order') {
      v.versions.forEach((a, i) =>
        v.versions.slice(i + 1).forEach((b) => {
          if (compare(a, b) >= 0 || compare(b, a) <= 0) wrong.push(`${file}:${v.line}: ${a} < ${b}`);
        }),
      );
    } else {
      for (const version of v.versions) {
        if (isValid(version) !== (v.kind === 'valid'))
          wrong.push(`${file}:${v.line}: ${v.kind} ${JSON.stringify(version)}`);
      }
    }
  }
  assert.ok(vectors.length > 5, `${file} holds only ${vectors.length} vectors`);
  assert.deepEqual(wrong, []);
}

const schemeVectors = (scheme: VersionScheme, file: string) =>
  assertVectors(
    file,
    (a, b) => scheme.compare(a, b),
    (v) => scheme.isValid(v),
  );

describe('dpkg', () => {
  it('agrees with dpkg --compare-versions on generated pairs, errors and warnings included', async () => {
    const { pairs, verdicts } = batches.dpkg;
    const answers = await verdicts;
    const wrong: string[] = [];
    let compared = 0;
    pairs.forEach(([a, b], i) => {
      const { order: theirs, bad } = answers[i]!;
      const ours = order(dpkg, a, b);
      if (bad !== (ours === null))
        wrong.push(`${JSON.stringify(a)} vs ${JSON.stringify(b)}: dpkg ${bad ? 'refused' : 'accepted'}`);
      else if (ours !== null) {
        compared++;
        if (ours !== theirs) wrong.push(`${JSON.stringify(a)} vs ${JSON.stringify(b)}: ours ${ours}, dpkg ${theirs}`);
      }
    });
    assert.deepEqual(wrong.slice(0, 25), [], `${wrong.length} disagreements with dpkg (VERSIONS_SEED=${SEED})`);
    assert.ok(compared > pairs.length / 3, `only ${compared} comparable pairs`);
  });

  it("passes dpkg's own vectors (scripts/t/Dpkg_Version.t, lib/dpkg/t/t-version.c)", () => {
    schemeVectors(dpkg, 'dpkg.txt');
  });

  it('splits epoch, upstream and revision as parseversion does', () => {
    assert.deepEqual(parseDpkgVersion('0:0-0-0'), { epoch: 0, upstream: '0-0', revision: '0' });
    assert.deepEqual(parseDpkgVersion('0:0:0-0'), { epoch: 0, upstream: '0:0', revision: '0' });
    assert.deepEqual(parseDpkgVersion('0:0-0:0-0'), { epoch: 0, upstream: '0-0:0', revision: '0' });
    assert.deepEqual(parseDpkgVersion('  \t1:2.30-1ubuntu1 '), { epoch: 1, upstream: '2.30', revision: '1ubuntu1' });
    assert.deepEqual(parseDpkgVersion('+1:2'), { epoch: 1, upstream: '2', revision: '' });
  });

  it('sorts ~ before the end of the version and the end before anything else', () => {
    assert.equal(dpkg.compare('1.0~rc1-1', '1.0-1'), -1);
    assert.equal(dpkg.compare('1.0~~', '1.0~'), -1);
    assert.equal(dpkg.compare('1.0-1', '1.0+b1-1'), -1);
    assert.equal(dpkg.compare('1:0.1', '2.0'), 1);
    assert.equal(dpkg.compare('1.0', '1.0-0'), 0);
  });
});

describe('rpm', () => {
  it('agrees with rpm.vercmp() in rpm --eval on generated pairs', async () => {
    const { pairs, verdicts } = batches.rpm;
    assertAgrees(rpm, 'rpm', pairs, await verdicts);
  });

  it("passes rpm's own vectors (tests/rpmvercmp.at, tests/rpmpython.at)", () => {
    schemeVectors(rpm, 'rpm.txt');
  });

  it('splits [epoch:]version[-release] as parseEVR does', () => {
    assert.deepEqual(parseRpmVersion('1:4.16-5'), { epoch: '1', version: '4.16', release: '5' });
    assert.deepEqual(parseRpmVersion('4.16'), { epoch: null, version: '4.16', release: null });
    assert.deepEqual(parseRpmVersion(':1-2-3'), { epoch: '0', version: '1-2', release: '3' });
    assert.deepEqual(parseRpmVersion('a:1'), { epoch: null, version: 'a:1', release: null });
  });

  it('orders tilde, caret, epoch and a missing release as rpm does', () => {
    assert.equal(rpm.compare('1.0~rc1-1.el9', '1.0-1.el9'), -1);
    assert.equal(rpm.compare('1.0^git1', '1.0'), 1);
    assert.equal(rpm.compare('1.0^git1', '1.0.1'), -1);
    assert.equal(rpm.compare('1:1.0', '2.0'), 1);
    assert.equal(rpm.compare('0:1.0-1', '1.0-1'), 0);
    assert.equal(rpm.compare('1.0', '1.0-1'), -1);
  });

  it('refuses the empty version and anything outside printable ASCII', () => {
    for (const v of ['', '1.0 ', '1.0\n', '1.α']) assert.equal(rpm.isValid(v), false, JSON.stringify(v));
  });
});

describe('apk', () => {
  it("passes apk-tools' own vectors (test/unit/version.data), invalid versions compared raw as apk does", () => {
    assertVectors('apk.txt', apkVersionCompare, (v) => apk.isValid(v));
  });

  it('the scheme refuses what apk-tools calls invalid instead of ordering it', () => {
    assert.throws(
      () => apk.compare('1.0', '1.0bc'),
      (err) => isSluiceError(err, 'VERSION_INVALID'),
    );
    assert.equal(apk.compare('1.0_rc1-r0', '1.0-r0'), -1);
    assert.equal(apk.compare('1.0_p1', '1.0'), 1);
    assert.equal(apk.compare('1.0a', '1.0_alpha'), 1);
    assert.equal(apk.compare('1.2.3-r10', '1.2.3-r9'), 1);
  });

  it('is a total order on generated versions (antisymmetric, transitive)', () => {
    const v = fc
      .tuple(
        fc.array(fc.constantFrom('0', '1', '2', '01', '10', '00'), { minLength: 1, maxLength: 3 }),
        fc.constantFrom('', 'a', 'z'),
        fc.array(fc.constantFrom('_alpha', '_beta1', '_pre', '_rc2', '_p', '_p1', '_git20240101', '_cvs'), {
          maxLength: 2,
        }),
        fc.constantFrom('', '~abc123', '~0'),
        fc.constantFrom('', '-r0', '-r1', '-r10'),
      )
      .map(([nums, letter, suffixes, hash, rev]) => `${nums.join('.')}${letter}${suffixes.join('')}${hash}${rev}`);
    assertTotalOrder(apk, v);
  });
});

describe('semver (npm, crates.io)', () => {
  it("passes node-semver's vectors (test/fixtures/comparisons.js, equality.js) and SemVer 2.0.0 §11", () => {
    schemeVectors(semver, 'semver.txt');
  });

  it('ignores build metadata and refuses what npm would only accept loosely', () => {
    assert.equal(semver.compare('1.0.0+build.1', '1.0.0+build.2'), 0);
    assert.equal(semver.compare('1.0.0-rc.1+build', '1.0.0'), -1);
    for (const v of ['v1.0.0', '=1.0.0', ' 1.0.0', '1.0', '01.0.0', '1.0.0-01']) {
      assert.equal(semver.isValid(v), false, v);
    }
  });

  it('is a total order on generated versions (antisymmetric, transitive)', () => {
    const ident = fc.constantFrom('0', '1', '2', '10', 'alpha', 'beta', 'rc', 'a-b', 'A', 'b1');
    const v = fc
      .tuple(
        fc.constantFrom('0', '1', '2'),
        fc.constantFrom('0', '1', '10'),
        fc.constantFrom('0', '1'),
        fc.array(ident, { maxLength: 3 }),
        fc.constantFrom('', '+b', '+1.2'),
      )
      .map(([ma, mi, pa, pre, b]) => `${ma}.${mi}.${pa}${pre.length ? `-${pre.join('.')}` : ''}${b}`);
    assertTotalOrder(semver, v);
  });
});

describe('pep440 (PyPI)', () => {
  it(`agrees with Python's packaging.version on generated pairs`, async () => {
    const { pairs, verdicts } = batches.pep440;
    const answers = await verdicts;
    // Both packaging's regex and ours skip only ASCII white space; we refuse non-ASCII outright.
    assertAgrees(pep440, `packaging ${packagingVersion()}`, pairs, answers);
  });

  it("passes packaging's own vectors (tests/test_version.py)", () => {
    schemeVectors(pep440, 'pep440.txt');
  });

  it('keeps numbers beyond 2^53 and non-decimal local segments exact, unlike a Number-based key', () => {
    assert.equal(pep440.compare('1.9007199254740993', '1.9007199254740992'), 1);
    assert.equal(pep440.compare('1.0+1e3', '1.0+2'), -1, 'a local segment "1e3" is a string, before numbers');
    assert.equal(pep440.compare('1.0+0x10', '1.0+abc'), -1);
  });
});

describe('maven', () => {
  it('agrees with ComparableVersion (the maven-artifact jar) on generated versions, canonical forms too', async () => {
    const { versions, verdicts } = batches.maven;
    const { canonical, orders } = await verdicts;
    const wrong: string[] = [];
    versions.forEach((v, i) => {
      if (!maven.isValid(v)) wrong.push(`generated an invalid version ${JSON.stringify(v)}`);
      else if (mavenCanonical(v) !== canonical[i])
        wrong.push(`canonical(${v}): ours ${mavenCanonical(v)}, maven ${canonical[i]}`);
      if (i > 0) {
        const ours = maven.compare(versions[i - 1]!, v);
        if (ours !== orders[i - 1]) wrong.push(`${versions[i - 1]} vs ${v}: ours ${ours}, maven ${orders[i - 1]}`);
      }
    });
    assert.deepEqual(wrong.slice(0, 25), [], `${wrong.length} disagreements with maven (VERSIONS_SEED=${SEED})`);
    assert.ok(orders.filter((o) => o === 0).length > 20, 'the generator must produce equal versions too');
  });

  it("passes Maven's own vectors (ComparableVersionTest.java at maven-3.8.7)", () => {
    schemeVectors(maven, 'maven.txt');
  });
});

describe('rubygems', () => {
  it('agrees with Gem::Version in ruby on generated pairs', async () => {
    const { pairs, verdicts } = batches.rubygems;
    const answers = await verdicts;
    // Ruby reads a blank string as version "0"; the scheme refuses it (see rubygems.ts).
    const usable = pairs
      .map((p, i) => [p, answers[i]!] as const)
      .filter(([[a, b]]) => a.trim() !== '' && b.trim() !== '');
    assertAgrees(
      rubygems,
      'ruby',
      usable.map(([p]) => p),
      usable.map(([, v]) => v),
    );
  });

  it("passes RubyGems' own vectors (test/rubygems/test_gem_version.rb)", () => {
    schemeVectors(rubygems, 'rubygems.txt');
  });
});

describe('go', () => {
  it("agrees with the Go toolchain's golang.org/x/mod/semver on generated pairs", async () => {
    const { pairs, verdicts } = batches.go;
    const answers = await verdicts;
    // x/mod/semver wants the "v"; the scheme also takes OSV's spelling without it.
    const withV = pairs
      .map((p, i) => [p, answers[i]!] as const)
      .filter(([[a, b]]) => a.startsWith('v') && b.startsWith('v'));
    assertAgrees(
      go,
      'x/mod/semver',
      withV.map(([p]) => p),
      withV.map(([, v]) => v),
    );
  });

  it("passes x/mod/semver's own vectors (semver/semver_test.go)", () => {
    schemeVectors(go, 'go.txt');
  });

  it('takes versions with and without the v, ignores +incompatible, orders pseudo-versions', () => {
    assert.equal(go.compare('1.20.1', 'v1.20.1'), 0);
    assert.equal(go.compare('v2.0.0+incompatible', 'v2.0.0'), 0);
    assert.equal(go.compare('v1.2.3', 'v1.2.4-0.20191109021931-daa7c04131f5'), -1);
    assert.equal(go.compare('v1.2.4-0.20191109021931-daa7c04131f5', 'v1.2.4'), -1);
    assert.equal(go.compare('v0.0.0-20191109021931-daa7c04131f5', 'v0.0.0-20200101000000-aaaaaaaaaaaa'), -1);
    assert.equal(isPseudoVersion('v1.2.4-0.20191109021931-daa7c04131f5'), true);
    assert.equal(isPseudoVersion('0.0.0-20191109021931-daa7c04131f5'), true);
    assert.equal(isPseudoVersion('v1.2.4'), false);
  });
});

describe('nuget', () => {
  it("passes NuGet.Versioning's own vectors (NuGetVersionTest.cs, VersionComparerTests.cs)", () => {
    schemeVectors(nuget, 'nuget.txt');
  });

  it('compares four parts, labels case-insensitively and numerically, and ignores metadata', () => {
    assert.equal(nuget.compare('1.0', '1.0.0.0'), 0);
    assert.equal(nuget.compare('1.0.0.1', '1.0.0'), 1);
    assert.equal(nuget.compare('1.0.0-BETA', '1.0.0-beta'), 0);
    assert.equal(nuget.compare('1.0.0-beta.2', '1.0.0-beta.10'), -1);
    assert.equal(nuget.compare('1.0.0-1', '1.0.0-alpha'), -1);
    assert.equal(nuget.compare('1.0.0+a', '1.0.0+b'), 0);
    assert.equal(nuget.isValid('2147483648.0'), false);
  });

  it('is a total order on generated versions (antisymmetric, transitive)', () => {
    const v = fc
      .tuple(
        fc.array(fc.constantFrom('0', '1', '2', '01', '10'), { minLength: 1, maxLength: 4 }),
        fc.array(fc.constantFrom('1', '2', '10', 'alpha', 'Alpha', 'beta', 'rc-1', '-1', 'x'), { maxLength: 3 }),
        fc.constantFrom('', '+meta', '+A.b'),
      )
      .map(([nums, labels, meta]) => `${nums.join('.')}${labels.length ? `-${labels.join('.')}` : ''}${meta}`);
    assertTotalOrder(nuget, v);
  });
});

describe('every scheme', () => {
  it('maps each OSV ecosystem to its scheme, release suffixes and all', () => {
    assert.equal(schemeForEcosystem('Debian:12'), dpkg);
    assert.equal(schemeForEcosystem('Ubuntu:Pro:18.04:LTS'), dpkg);
    assert.equal(schemeForEcosystem('Alpine:v3.20'), apk);
    assert.equal(schemeForEcosystem('Red Hat'), rpm);
    assert.equal(schemeForEcosystem('AlmaLinux:9'), rpm);
    assert.equal(schemeForEcosystem('Rocky Linux:8'), rpm);
    assert.equal(schemeForEcosystem('npm'), semver);
    assert.equal(schemeForEcosystem('crates.io'), semver);
    assert.equal(schemeForEcosystem('PyPI'), pep440);
    assert.equal(schemeForEcosystem('Go'), go);
    assert.equal(schemeForEcosystem('Maven:https://repo.example.org/maven2'), maven);
    assert.equal(schemeForEcosystem('RubyGems'), rubygems);
    assert.equal(schemeForEcosystem('NuGet'), nuget);
    assert.equal(schemeForEcosystem('Hackage'), undefined);
    assert.equal(schemeForEcosystem('constructor'), undefined);
    assert.equal(Object.keys(ECOSYSTEM_SCHEMES).length, 13);
  });

  it('throws VERSION_INVALID naming the scheme and the version, bounded in length', () => {
    for (const scheme of Object.values(SCHEMES)) {
      assert.throws(
        () => scheme.compare('1.0', 'not a version ☃'),
        (err) =>
          isSluiceError(err, 'VERSION_INVALID') && err.category === 'invalid-input' && err.message.includes(scheme.id),
        scheme.id,
      );
      const long = `1.${'1'.repeat(MAX_VERSION_LENGTH)}`;
      assert.equal(scheme.isValid(long), false, `${scheme.id} takes a version over the length bound`);
      assert.throws(
        () => scheme.compare(long, '1.0'),
        (err) => isSluiceError(err, 'VERSION_INVALID') && err.message.length < 300,
      );
    }
  });

  it('is reflexive and antisymmetric on the generated versions of every tool-judged scheme', () => {
    const cases: Array<[VersionScheme, readonly Pair[]]> = [
      [dpkg, batches.dpkg.pairs],
      [rpm, batches.rpm.pairs],
      [pep440, batches.pep440.pairs],
      [rubygems, batches.rubygems.pairs],
      [go, batches.go.pairs],
    ];
    for (const [scheme, pairs] of cases) {
      for (const [a, b] of pairs) {
        if (!scheme.isValid(a) || !scheme.isValid(b)) continue;
        assert.equal(scheme.compare(a, a), 0, `${scheme.id}: ${a}`);
        assert.equal(scheme.compare(a, b), -scheme.compare(b, a) || 0, `${scheme.id}: ${a} vs ${b}`);
      }
    }
  });
});

/** Sorting a sample and checking every pair against the sorted order proves transitivity too. */
function assertTotalOrder(scheme: VersionScheme, arb: fc.Arbitrary<string>): void {
  fc.assert(
    fc.property(fc.array(arb, { minLength: 2, maxLength: 8 }), (versions) => {
      const sorted = [...versions].sort((a, b) => scheme.compare(a, b));
      for (let i = 0; i < sorted.length; i++) {
        for (let j = i + 1; j < sorted.length; j++) {
          const r = scheme.compare(sorted[i]!, sorted[j]!);
          if (r > 0 || scheme.compare(sorted[j]!, sorted[i]!) !== -r) return false;
        }
      }
      return true;
    }),
    { seed: SEED, numRuns: 300 },
  );
}
