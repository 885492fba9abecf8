/**
 * Every SLUICE_* environment variable the code reads is documented: a variable that changes
 * behaviour (who acts, which credentials) must not be found only by reading the source.
 */
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';

const ROOT = path.resolve(import.meta.dirname, '../../..');

function files(dir: string, ext: string): string[] {
  return readdirSync(dir, { withFileTypes: true, recursive: true })
    .filter((e) => e.isFile() && e.name.endsWith(ext))
    .map((e) => path.join(e.parentPath, e.name));
}

test('every SLUICE_* variable read from the environment is named in README.md or docs/', () => {
  const read = new Set<string>();
  for (const file of files(path.join(ROOT, 'src'), '.ts')) {
    for (const m of readFileSync(file, 'utf8').matchAll(/env(?:\.|\[['"])(SLUICE_[A-Z0-9_]+)/g)) read.add(m[1]!);
  }
  assert.ok(read.has('SLUICE_USER') && read.has('SLUICE_DATABASE_URL'), [...read].join(', '));
  const docs = [path.join(ROOT, 'README.md'), ...files(path.join(ROOT, 'docs'), '.md')]
    .map((f) => readFileSync(f, 'utf8'))
    .join('\n');
  assert.deepEqual(
    [...read].filter((v) => !docs.includes(v)),
    [],
  );
});
