import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { escapeControls, escapeToLine, excerpt, hasControls } from '../../src/text.ts';

const HOSTILE = [
  '\u001b[2J\u001b[31mred', // ANSI: clear screen, colour
  '\u001b]0;pwned\u0007', // OSC: window title
  '\u001b]52;c;ZXZpbA==\u0007', // OSC 52: write the clipboard
  '\u009b31m', // C1 CSI
  '\u009d0;title\u009c', // C1 OSC ... ST
  'abc\u202edcba', // right-to-left override
  'x\u2066y\u2069', // isolates
  'del\u007f', // DEL
  'cr\rover', // carriage return rewrites the line
  'bs\bx',
];

describe('escapeControls', () => {
  it('leaves no character a terminal obeys, keeping tab and newline', () => {
    for (const s of HOSTILE) {
      const out = escapeControls(s);
      assert.ok(!hasControls(out), JSON.stringify(out));
      // eslint-disable-next-line no-control-regex -- control characters are what this matches
      assert.doesNotMatch(out, /[\u0000-\u0008\u000b-\u001f\u007f-\u009f\u202a-\u202e\u2066-\u2069]/);
    }
    assert.equal(escapeControls('a\tb\nc'), 'a\tb\nc');
    assert.equal(escapeControls('\u001b[31m'), '\\u001b[31m');
    assert.equal(escapeControls('é ü 日本 ✓'), 'é ü 日本 ✓');
  });

  it('keeps JSON text the same data: its escapes are JSON escapes', () => {
    fc.assert(
      fc.property(fc.jsonValue(), fc.array(fc.constantFrom(...HOSTILE)), (value, extra) => {
        const data = { value, extra };
        const text = escapeControls(JSON.stringify(data, null, 2));
        assert.ok(!hasControls(text));
        assert.deepEqual(JSON.parse(text), JSON.parse(JSON.stringify(data)));
      }),
    );
  });

  it('escapeToLine escapes tab and newline too', () => {
    assert.equal(escapeToLine('a\nDigest: forged\tx'), 'a\\u000aDigest: forged\\u0009x');
  });
});

describe('excerpt', () => {
  it('cuts long input and says how long it was', () => {
    assert.equal(excerpt('short'), 'short');
    assert.equal(excerpt('x'.repeat(200)), 'x'.repeat(200));
    assert.equal(excerpt('x'.repeat(10_000)), `${'x'.repeat(200)}... (10000 characters)`);
    assert.equal(excerpt('abcdef', 3), 'abc... (6 characters)');
  });
});
