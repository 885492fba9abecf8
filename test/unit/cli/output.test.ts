import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parse } from 'yaml';
import { emit, renderTable, terminalSafe, type OutputFormat, type Writer } from '../../../src/cli/output.ts';
import { createProgress } from '../../../src/cli/progress.ts';
import { hasControls } from '../../../src/text.ts';

function capture(): Writer & { text: () => string } {
  let out = '';
  const w = terminalSafe({ out: (t) => void (out += t), err: (t) => void (out += t) });
  return { ...w, text: () => out };
}

const label = 'evil\u001b]0;pwned\u0007\u001b[2J\u009b31m\u202eAB\u007f';
const data = [{ name: `x${label}`, labels: { [`k${label}`]: `v${label}`, plain: 'v' }, note: 'line\nnext' }];

describe('terminal-safe output', () => {
  for (const format of ['table', 'wide', 'name'] as OutputFormat[]) {
    it(`escapes control characters in ${format} output`, () => {
      const w = capture();
      emit(w, format, data, {
        rows: data,
        columns: [
          { header: 'NAME', value: (r) => r.name },
          { header: 'NOTE', value: (r) => r.note },
        ],
        name: (r) => r.name,
      });
      assert.ok(!hasControls(w.text()), JSON.stringify(w.text()));
      assert.match(w.text(), /x?evil\\u001b\]0;pwned\\u0007\\u001b\[2J\\u009b31m\\u202eAB\\u007f/);
    });
  }

  it('keeps a table cell on its line', () => {
    const table = renderTable(
      [{ a: 'one\nDIGEST  forged', b: 'x' }],
      [
        { header: 'A', value: (r) => r.a },
        { header: 'B', value: (r) => r.b },
      ],
    );
    assert.equal(table.split('\n').length, 3);
    assert.match(table, /one\\u000aDIGEST {2}forged/);
  });

  it('keeps JSON output exactly the data, with nothing a terminal obeys', () => {
    const w = capture();
    emit(w, 'json', data, {});
    assert.ok(!hasControls(w.text()));
    assert.deepEqual(JSON.parse(w.text()), data);
  });

  it('keeps YAML output exactly the data, keys included', () => {
    const w = capture();
    emit(w, 'yaml', data, {});
    assert.ok(!hasControls(w.text()), w.text());
    assert.deepEqual(parse(w.text()), data);
  });

  it('escapes what the progress line shows', () => {
    let written = '';
    const stream = { isTTY: true, write: (s: string) => void (written += s) } as unknown as NodeJS.WriteStream;
    const term = process.env.TERM;
    process.env.TERM = 'xterm';
    try {
      createProgress(`copying ${label}`, true, stream).finish();
    } finally {
      if (term === undefined) delete process.env.TERM;
      else process.env.TERM = term;
    }
    // eslint-disable-next-line no-control-regex -- control characters are what this matches
    const line = written.replace(/^\r/, '').replace(/\u001b\[K\n$/, '');
    assert.ok(!hasControls(line), JSON.stringify(line));
    assert.match(line, /copying evil\\u001b/);
  });
});
