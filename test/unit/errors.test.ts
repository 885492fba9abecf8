import assert from 'node:assert/strict';
import { readdir, readFile } from 'node:fs/promises';
import { join, relative } from 'node:path';
import { describe, it } from 'node:test';
import { ERROR_CODES, categoriesOf, ownStatusOf, relayedCode, type ErrorCode } from '../../src/error-codes.ts';
import { SluiceError, exitCodeFor, httpStatusFor, httpStatusOf } from '../../src/errors.ts';
import { statusOf, toSluiceError } from '../../src/server/errors.ts';

const ROOT = join(import.meta.dirname, '..', '..');
const CODES = Object.keys(ERROR_CODES) as ErrorCode[];

function statusesOf(code: ErrorCode): number[] {
  const own = ownStatusOf(code);
  return [...new Set(categoriesOf(code).map((c) => own ?? httpStatusFor(c)))].sort();
}

async function sourceFiles(dir: string): Promise<string[]> {
  const out: string[] = [];
  for (const entry of await readdir(dir, { withFileTypes: true, recursive: true })) {
    if (entry.isFile() && entry.name.endsWith('.ts')) out.push(join(entry.parentPath, entry.name));
  }
  return out;
}

/** Rows of the markdown tables in the Errors section of docs/api.md, as trimmed cells. */
async function errorTables(): Promise<string[][]> {
  const text = await readFile(join(ROOT, 'docs', 'api.md'), 'utf8');
  const start = text.indexOf('\n## Errors\n');
  assert.ok(start >= 0, 'docs/api.md has an "## Errors" section');
  const end = text.indexOf('\n## ', start + 1);
  return text
    .slice(start, end < 0 ? undefined : end)
    .split('\n')
    .filter((line) => line.startsWith('|') && !/^\|\s*-/.test(line))
    .map((line) =>
      line
        .slice(1, -1)
        .split('|')
        .map((cell) => cell.trim()),
    );
}

const codesIn = (cell: string): string[] => [...cell.matchAll(/`([A-Z][A-Z0-9_]+)`/g)].map((m) => m[1]!);
const statusesIn = (cell: string): number[] => [...cell.matchAll(/\b\d{3}\b/g)].map((m) => Number(m[0]));

describe('error codes', () => {
  it('docs/api.md lists every code with its status and category, and no code the table lacks', async () => {
    const rows = await errorTables();
    const listed = new Map<string, string[]>();
    for (const row of rows) {
      const [code] = codesIn(row[0] ?? '');
      if (code !== undefined && row.length === 4) listed.set(code, row);
    }
    const missing = CODES.filter((c) => !listed.has(c));
    assert.deepEqual(missing, [], `docs/api.md "Error codes" lacks: ${missing.join(', ')}`);
    for (const code of CODES) {
      const [, status, category] = listed.get(code)!;
      assert.deepEqual(statusesIn(status!), statusesOf(code), `${code}: status in docs/api.md`);
      assert.deepEqual(
        [...category!.matchAll(/`([a-z-]+)`/g)].map((m) => m[1]),
        [...categoriesOf(code)],
        `${code}: category in docs/api.md`,
      );
    }
    // Every code docs/api.md names in its tables exists, with the status of the row that names it.
    for (const row of rows) {
      const rowStatuses = row.length === 2 ? statusesIn(row[0]!) : undefined;
      for (const code of codesIn(row.join(' | '))) {
        assert.ok(Object.hasOwn(ERROR_CODES, code), `docs/api.md names ${code}, which src/error-codes.ts lacks`);
        if (rowStatuses) assert.deepEqual(statusesOf(code as ErrorCode), rowStatuses, `${code}: row ${row[0]}`);
      }
    }
  });

  it('every listed code is thrown somewhere, and usage codes only by the CLI', async () => {
    const files = (await sourceFiles(join(ROOT, 'src'))).filter((f) => !f.endsWith('error-codes.ts'));
    const texts = new Map(
      await Promise.all(files.map(async (f) => [relative(ROOT, f), await readFile(f, 'utf8')] as const)),
    );
    const quoted = (code: string) => new RegExp(`['"\`]${code}['"\`]`);
    for (const code of CODES) {
      assert.ok(
        [...texts.values()].some((t) => quoted(code).test(t)),
        `${code} is listed but nothing in src/ throws it`,
      );
    }
    const usageCodes = CODES.filter((c) => categoriesOf(c).includes('usage'));
    assert.ok(usageCodes.includes('USAGE'));
    for (const [file, text] of texts) {
      if (file.startsWith('src/cli/')) continue;
      for (const code of usageCodes) assert.ok(!quoted(code).test(text), `${file} throws ${code}, the CLI's`);
    }
  });

  it('accepts a code only with its own category', () => {
    // The checks that matter here are the compiler's: `npm run check` fails if one stops erroring.
    const refuse = (): SluiceError[] => [
      // @ts-expect-error: not a listed code
      new SluiceError('REGISTRY_UNKNWON', 'not-found', 'typo'),
      // @ts-expect-error: REGISTRY_UNKNOWN is not-found
      new SluiceError('REGISTRY_UNKNOWN', 'invalid-input', 'wrong category'),
      // @ts-expect-error: a free string is not a code; a peer's goes through relayedCode
      new SluiceError('X'.toLowerCase(), 'unavailable', 'free string'),
    ];
    assert.equal(refuse().length, 3);
    const e = new SluiceError('TAG_DELETE_FAILED', 'forbidden', 'refused by the registry');
    assert.equal(e.category, 'forbidden');
    assert.equal(new SluiceError(relayedCode('MANIFEST_UNKNOWN'), 'not-found', 'gone').code, 'MANIFEST_UNKNOWN');
  });

  it('maps codes to HTTP statuses and exit codes as before', () => {
    const cases: Array<[SluiceError, number, number]> = [
      [new SluiceError('REGISTRY_UNKNOWN', 'not-found', 'r'), 404, 2],
      [new SluiceError('STAGE_UNKNOWN', 'invalid-input', 's'), 400, 2],
      [new SluiceError('HOLD_REASON_MISSING', 'invalid-input', 'h'), 400, 2],
      [new SluiceError('USAGE', 'usage', 'u'), 400, 2],
      [new SluiceError('PAYLOAD_TOO_LARGE', 'invalid-input', 'p'), 413, 2],
      [new SluiceError('UNSUPPORTED_MEDIA_TYPE', 'invalid-input', 'm'), 415, 2],
      [new SluiceError('SIGNATURES_TOO_MANY', 'integrity', 't'), 502, 1],
      [new SluiceError('GATE_FAILED', 'policy-violation', 'g'), 422, 1],
      [new SluiceError(relayedCode('PAYLOAD_TOO_LARGE'), 'unavailable', 'a registry said so'), 413, 1],
    ];
    for (const [err, status, exit] of cases) {
      assert.equal(statusOf(err), status, err.code);
      assert.equal(httpStatusOf(err), status, err.code);
      assert.equal(exitCodeFor(err.category), exit, err.code);
    }
  });

  it("keeps a web framework's own code for a request it refuses", () => {
    const err = toSluiceError(Object.assign(new Error('bad URL'), { code: 'FST_ERR_BAD_URL', statusCode: 400 }));
    assert.equal(err.code, 'FST_ERR_BAD_URL');
    assert.equal(err.category, 'invalid-input');
    assert.equal(statusOf(err), 400);
  });
});
