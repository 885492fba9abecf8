import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { LineCounter, parseDocument } from 'yaml';
import {
  Ctx,
  INVALID,
  array,
  boolean,
  checkAliasExpansion,
  defines,
  integer,
  object,
  oneOf,
  optional,
  refers,
  required,
  string,
  withDefault,
  type Validator,
} from '../../../src/policy/validate.ts';
import { closest, editDistance } from '../../../src/policy/problems.ts';

function run<T>(v: Validator<T>, text: string) {
  const lineCounter = new LineCounter();
  const doc = parseDocument(text, { lineCounter });
  const ctx = new Ctx('t.yaml', doc, lineCounter);
  const ok = checkAliasExpansion(ctx, doc.contents);
  const value = ok ? v({ node: doc.contents as never, path: '', ctx }) : INVALID;
  ctx.finish();
  return { value, problems: ctx.problems };
}

const item = object({
  name: required(defines('thing', 'thing', string({ pattern: /^[a-z]+$/, expected: 'a lowercase name' }))),
  size: withDefault(integer({ min: 1 }), 3),
  color: optional(oneOf(['red', 'green'] as const)),
  parent: optional(refers('thing', 'thing')),
  on: withDefault(boolean(), true),
});
const doc = object({ things: required(array(item)) });

describe('object and array', () => {
  it('applies defaults by validating them like written values', () => {
    const { value, problems } = run(
      doc,
      'things:\n  - name: a\n  - { name: b, size: 5, color: red, parent: a, on: false }\n',
    );
    assert.deepEqual(problems, []);
    assert.deepEqual(value, {
      things: [
        { name: 'a', size: 3, color: undefined, parent: undefined, on: true },
        { name: 'b', size: 5, color: 'red', parent: 'a', on: false },
      ],
    });
  });

  it('collects every problem, with positions, and returns INVALID', () => {
    const text = 'things:\n  - { name: A, size: 0 }\n  - { name: b, colour: red }\n  - name: c\n    parent: d\n';
    const { value, problems } = run(doc, text);
    assert.equal(value, INVALID);
    assert.deepEqual(
      problems.map((p) => [p.path, p.line, p.column]),
      [
        ['things[0].name', 2, 13],
        ['things[0].size', 2, 22],
        ['things[1].colour', 3, 16],
        ['things[2].parent', 5, 13],
      ],
    );
    assert.equal(problems[2]!.message, 'unknown key `colour`; did you mean `color`?');
    assert.equal(problems[3]!.message, 'unknown thing `d`');
  });

  it('resolves references declared later in the document', () => {
    const { problems } = run(doc, 'things:\n  - { name: a, parent: b }\n  - { name: b }\n');
    assert.deepEqual(problems, []);
  });

  it('does not call a reference unknown when the definition itself was faulty', () => {
    const { problems } = run(doc, 'things:\n  - { name: a, parent: b }\n  - { name: b, size: -1 }\n');
    assert.deepEqual(
      problems.map((p) => p.path),
      ['things[1].size'],
    );
  });

  it('reports a duplicate definition at the second occurrence', () => {
    const { problems } = run(doc, 'things:\n  - { name: a }\n  - { name: a }\n');
    assert.equal(problems.length, 1);
    assert.equal(problems[0]!.line, 3);
    assert.match(problems[0]!.message, /duplicate thing `a` \(first defined at line 2\)/);
  });

  it('treats an empty value as absent, but not for required keys', () => {
    const { problems } = run(doc, 'things:\n  - name:\n    size:\n');
    assert.deepEqual(
      problems.map((p) => [p.path, p.message]),
      [['things[0].name', '`name` must not be empty: expected a lowercase name']],
    );
  });

  it('runs cross-field checks on partly valid objects', () => {
    const pair = object(
      { low: required(integer()), high: required(integer()), label: required(string()) },
      {
        check: (v, h) => {
          if (v.low !== undefined && v.high !== undefined && v.low > v.high)
            h.report('low', 'low ≤ high', String(v.low), 'low above high');
        },
      },
    );
    const { problems } = run(pair, 'low: 5\nhigh: 1\nlabel: 7\n');
    assert.deepEqual(
      problems.map((p) => p.path),
      ['label', 'low'],
    );
  });
});

describe('suggestions', () => {
  it('measures transpositions as one edit', () => {
    assert.equal(editDistance('retnetion', 'retention'), 1);
    assert.equal(editDistance('', 'abc'), 3);
  });

  it('suggests only plausible typos', () => {
    assert.equal(closest('retnetion', ['registry', 'retention', 'stages']), 'retention');
    assert.equal(closest('Stages', ['registry', 'stages']), 'stages');
    assert.equal(closest('banana', ['registry', 'stages']), undefined);
    assert.equal(closest('d', ['b']), undefined);
    assert.equal(closest('uri', ['url']), 'url');
  });
});
