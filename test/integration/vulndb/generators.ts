/**
 * Seeded generators of version pairs, biased toward what trips comparators: shared prefixes
 * with different tails (so the tie-breaking rules decide), leading zeros, empty parts, the
 * separators each scheme treats specially (`~`, `^`, `-`, `:`, `!`, `+`), qualifier words, and
 * a little garbage so that validity is judged too.
 */
import fc from 'fast-check';
import type { Pair } from './oracles.ts';

/** VERSIONS_SEED=n reruns the comparisons with other pairs; failures print the seed. */
export const SEED = Number(process.env.VERSIONS_SEED ?? 20260512);

const join = (parts: readonly string[]): string => parts.join('');
const tokens = (xs: readonly string[], maxLength: number, minLength = 0) =>
  fc.array(fc.constantFrom(...xs), { minLength, maxLength }).map(join);
const optional = (xs: readonly string[]) => fc.oneof(fc.constant(''), fc.constantFrom(...xs));

/** Independent pairs, equal pairs, and pairs sharing a prefix with different tails. */
function pairs(version: fc.Arbitrary<string>, tail: fc.Arbitrary<string>): fc.Arbitrary<Pair> {
  return fc.oneof(
    { weight: 3, arbitrary: fc.tuple(version, version) },
    { weight: 1, arbitrary: version.map((v) => [v, v] as const) },
    { weight: 4, arbitrary: fc.tuple(version, tail, tail).map(([p, x, y]) => [p + x, p + y] as const) },
  );
}

export function sample<T>(arb: fc.Arbitrary<T>, numRuns: number, salt: number): T[] {
  return fc.sample(arb, { seed: SEED + salt, numRuns });
}

const NUMBERS = ['0', '1', '2', '9', '10', '01', '00', '010', '99999999999'];

export function dpkgPairs(n: number): Pair[] {
  const upstream = ['0', '1', '2', '10', '01', '00', 'a', 'b', 'z', 'A', 'Z', 'rc', '~', '~~', '.', '+', '-', ':'];
  const rare = ['_', '@', ' ', '!', '\t'];
  const version = fc
    .tuple(
      optional(['0:', '1:', '2:', '10:', '01:', ':', 'a:', '-1:', '+1:', ' 1:']),
      fc.oneof({ weight: 9, arbitrary: fc.constantFrom('0', '1', '2', '10', '01') }, fc.constantFrom('a', '~', '.')),
      tokens(upstream, 5),
      optional(['-1', '-0', '-00', '-1ubuntu1', '-2~bpo1', '-1.1', '-a', '-', '-1:1', '-~', '-1+b1']),
      fc.oneof({ weight: 30, arbitrary: fc.constant('') }, fc.constantFrom(...rare)),
    )
    .map(join);
  const tail = tokens([...upstream, '-1', '-0', '-a~'], 3);
  return sample(pairs(version, tail), n, 1).filter(([a, b]) => a !== '' && b !== '');
}

export function rpmPairs(n: number): Pair[] {
  const parts = [
    '0',
    '1',
    '2',
    '10',
    '01',
    '001',
    'a',
    'b',
    'Z',
    'rc',
    'git',
    'fc',
    'el',
    '~',
    '^',
    '.',
    '_',
    '+',
    '-',
    '%',
  ];
  const version = fc
    .tuple(optional(['0:', '1:', '2:', '01:', ':', 'a:']), fc.constantFrom(...NUMBERS, 'a'), tokens(parts, 6))
    .map(join);
  const soup = fc.string({ unit: fc.constantFrom(...'019azAZ.~^-_+:'), minLength: 1, maxLength: 8 });
  return sample(pairs(fc.oneof({ weight: 4, arbitrary: version }, soup), tokens(parts, 3)), n, 2);
}

export function pep440Pairs(n: number): Pair[] {
  const sep = optional(['.', '-', '_']);
  const num = fc.constantFrom('0', '1', '2', '10', '01', '00', '9007199254740993', '9007199254740992');
  const structured = fc
    .tuple(
      optional(['v', 'V', ' ', '\u3000', '\x1c', '\x85', '\ufeff']),
      optional(['1!', '0!', '2!', '01!']),
      fc.array(num, { minLength: 1, maxLength: 4 }).map((xs) => xs.join('.')),
      optional(['a', 'b', 'c', 'rc', 'alpha', 'beta', 'pre', 'preview', 'RC', 'A']).chain((l) =>
        l ? fc.tuple(sep, fc.constant(l), sep, optional(['0', '1', '2', '10'])).map(join) : fc.constant(''),
      ),
      fc.oneof(
        fc.constant(''),
        fc.constantFrom('-1', '-0', '-10'),
        fc.tuple(sep, fc.constantFrom('post', 'rev', 'r', 'POST'), sep, optional(['0', '1', '2'])).map(join),
      ),
      fc.oneof(fc.constant(''), fc.tuple(sep, fc.constantFrom('dev', 'DEV'), sep, optional(['0', '1', '2'])).map(join)),
      fc.oneof(
        { weight: 3, arbitrary: fc.constant('') },
        fc
          .array(fc.constantFrom('1', '0', '01', 'abc', 'ABC', 'ubuntu', '1e3', '0x10', 'infinity', 'nan', 'z'), {
            minLength: 1,
            maxLength: 3,
          })
          .chain((xs) => fc.constantFrom('.', '-', '_').map((s) => `+${xs.join(s)}`)),
      ),
      optional([' ', '  ', '\t', '\u2029', '\x1f', '\ufeff']),
    )
    .map(join);
  const soup = fc.string({ unit: fc.constantFrom(...'0129.-_+!abcdeprvtlo'), minLength: 1, maxLength: 10 });
  const tail = tokens(['.1', '.0', 'a1', 'b', 'rc1', '.post1', '-1', '.dev0', 'dev', '+1', '+a', '.a', '0'], 2);
  return sample(pairs(fc.oneof({ weight: 5, arbitrary: structured }, soup), tail), n, 3);
}

const MAVEN_WORDS = [
  'alpha',
  'beta',
  'milestone',
  'rc',
  'cr',
  'snapshot',
  'ga',
  'final',
  'release',
  'sp',
  'a',
  'b',
  'm',
  'x',
  'abc',
  'SNAPSHOT',
  'RC',
  'Final',
  'GA',
  'Alpha',
];

/** A flat list; the oracle compares every adjacent pair. */
export function mavenVersions(n: number): string[] {
  const num = fc.constantFrom(
    '0',
    '1',
    '2',
    '10',
    '01',
    '00',
    '000',
    '0000000000',
    '1234567890',
    '12345678901234567890',
  );
  const part = fc.oneof({ weight: 3, arbitrary: num }, fc.constantFrom(...MAVEN_WORDS));
  const sep = fc.constantFrom('.', '.', '-', '', '_', '+');
  const version = fc
    .tuple(part, fc.array(fc.tuple(sep, part).map(join), { maxLength: 5 }))
    .map(([first, rest]) => first + rest.join(''))
    .filter((v) => v !== '');
  const soup = fc.string({ unit: fc.constantFrom(...'012.-abmrcspgz'), minLength: 1, maxLength: 9 });
  const both = fc.oneof({ weight: 5, arbitrary: version }, soup);
  // Adjacent entries share prefixes often: a version, then that version with another tail.
  const group = fc.tuple(both, fc.array(fc.tuple(sep, part).map(join), { minLength: 1, maxLength: 3 }), both);
  return sample(group, Math.ceil(n / 3), 4).flatMap(([v, tails, other]) => [v, v + tails.join(''), other]);
}

export function rubyPairs(n: number): Pair[] {
  const run = fc.constantFrom(
    '0',
    '1',
    '2',
    '10',
    '01',
    '00',
    'a',
    'b',
    'pre',
    'rc',
    'Z',
    'alpha',
    'A',
    '1a',
    'a1',
    'b-1',
  );
  const segment = fc.tuple(fc.constantFrom('.', '.', '.', '-'), run).map(join);
  const version = fc
    .tuple(
      optional([' ', '\t', '\n']),
      fc.oneof({ weight: 9, arbitrary: fc.constantFrom('0', '1', '2', '10', '01') }, fc.constantFrom('a', '.', '-1')),
      fc.array(segment, { maxLength: 5 }).map(join),
      fc.oneof({ weight: 12, arbitrary: fc.constant('') }, fc.constantFrom(' ', '\n', '_', '..', '.', '-', ' 1')),
    )
    .map(join);
  const tail = tokens(['.0', '.1', '.a', '-1', '.pre', 'b', '0', '-rc.1'], 3);
  return sample(pairs(version, tail), n, 5);
}

export function goPairs(n: number): Pair[] {
  const num = fc.constantFrom('0', '1', '2', '10', '01', '99999999999999999999');
  const ident = fc.constantFrom(
    '0',
    '1',
    '01',
    'alpha',
    'beta',
    'rc',
    'a',
    'A',
    'x-y',
    '',
    '20191109021931',
    'daa7c04131f5',
  );
  const pre = fc.array(ident, { minLength: 1, maxLength: 3 }).map((xs) => `-${xs.join('.')}`);
  const build = fc.constantFrom('+incompatible', '+meta', '+', '+a.b', '+0', '+a..b');
  const version = fc
    .tuple(
      fc.constantFrom('v', 'v', 'v', 'V', ''),
      num,
      fc.oneof(
        fc.constant(''),
        num.map((m) => `.${m}`),
        fc.tuple(num, num).map(([m, p]) => `.${m}.${p}`),
      ),
      fc.oneof({ weight: 2, arbitrary: fc.constant('') }, pre),
      fc.oneof({ weight: 3, arbitrary: fc.constant('') }, build),
    )
    .map(join);
  const pseudo = fc
    .tuple(
      fc.constantFrom('v0.0.0-', 'v1.2.4-0.', 'v1.2.4-pre.0.'),
      fc.constantFrom('20191109021931', '20200101000000'),
    )
    .map(([p, t]) => `${p}${t}-daa7c04131f5`);
  const tail = tokens(['.1', '.0', '-1', '-a', '.a', '+x', '-0.20191109021931-abc'], 2);
  return sample(pairs(fc.oneof({ weight: 5, arbitrary: version }, pseudo), tail), n, 6);
}
