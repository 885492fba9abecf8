import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { after } from 'node:test';
import { appendAudit, exportAudit, listAudit, verifyAudit } from '../../../src/audit/index.ts';
import type { AuditInput } from '../../../src/audit/index.ts';
import { isSluiceError } from '../../../src/errors.ts';
import type { Store } from '../../../src/store/index.ts';
import { forEachEngine } from '../../helpers/db.ts';

const dir = mkdtempSync(join(tmpdir(), 'sluice-audit-export-'));
after(() => rmSync(dir, { recursive: true, force: true }));

/** A sink that accepts one small chunk at a time and drains later, forcing backpressure. */
function slowSink(): { sink: Writable; text: () => string; drains: () => number } {
  const chunks: string[] = [];
  let drains = 0;
  const sink = new Writable({
    highWaterMark: 256,
    write(chunk: Buffer, _enc, cb) {
      chunks.push(chunk.toString('utf8'));
      setImmediate(cb);
    },
  });
  sink.on('drain', () => drains++);
  return { sink, text: () => chunks.join(''), drains: () => drains };
}

const awkward: AuditInput[] = [
  {
    actor: 'alice "a" \\ müller',
    action: 'approval',
    repository: 'quay.example/team-preprod/app',
    digest: `sha256:${'d'.repeat(64)}`,
    tag: '2.0.0-3',
    reason: 'CHG0042 | approved=yes\nsecond line\ttab \u0001 \u2028 😀',
    result: 'success',
    details: { z: 1, a: { y: [true, null, 'ü'], b: -5 }, '😀': 'emoji key', 'quote"key': 'v\\' },
  },
  { actor: 'system:scheduler', action: 'sync', result: 'failure', details: {} },
  { actor: 'bob', action: 'deletion', result: 'denied', reason: 'prod tag is immutable', tag: 'prod' },
];

async function fill(store: Store, n: number): Promise<void> {
  for (let i = 0; i < n; i++) {
    await appendAudit(store, awkward[i % awkward.length]!);
  }
}

function extractScript(lang: 'js' | 'python'): string {
  const doc = readFileSync(new URL('../../../docs/audit.md', import.meta.url), 'utf8');
  const marker = lang === 'js' ? '// verify-audit.mjs' : '# verify_audit.py';
  const m = new RegExp('```' + lang + '\\n(' + marker.replace(/[.*+?^${}()|[\]\\]/g, '\\$&') + '[\\s\\S]*?)```').exec(
    doc,
  );
  assert.ok(m, `docs/audit.md has no ${lang} verification script`);
  return m[1]!;
}

function pythonAvailable(): boolean {
  return spawnSync('python3', ['--version']).status === 0;
}

forEachEngine('JSONL export streams every record with backpressure, oldest first', async ({ store }) => {
  await fill(store, 1200);
  const { sink, text, drains } = slowSink();
  const n = await exportAudit(store, 'jsonl', sink);
  assert.equal(n, 1200);
  assert.ok(drains() > 10, 'the exporter waited for the sink to drain');
  const lines = text().trimEnd().split('\n');
  assert.equal(lines.length, 1200);
  const parsed = lines.map((l) => JSON.parse(l) as { seq: number });
  assert.deepEqual(
    parsed.map((r) => r.seq),
    Array.from({ length: 1200 }, (_, i) => i + 1),
  );
  assert.deepEqual(parsed.slice(0, 3), await listAudit(store, { order: 'asc', limit: 3 }));
});

forEachEngine('an export whose reader goes away ends instead of waiting for a drain forever', async ({ store }) => {
  // Every line is over the sink's 256-byte buffer: each write waits for a drain.
  await fill(store, 20);
  const { sink } = slowSink();
  let writes = 0;
  sink.on('drain', () => {
    // An API client hanging up: the response stream closes, without an error.
    if (++writes === 3) sink.destroy();
  });
  const outcome = await Promise.race([
    exportAudit(store, 'jsonl', sink).then(
      (n) => `resolved with ${n}`,
      (err: unknown) => err,
    ),
    new Promise((resolve) => setTimeout(() => resolve('still waiting after 5 s'), 5000).unref()),
  ]);
  assert.ok(isSluiceError(outcome, 'AUDIT_EXPORT_ABORTED'), String(outcome));
  assert.match(outcome.message, /stopped after \d+ records: its reader went away/);
});

forEachEngine('export applies filters and limits', async ({ store }) => {
  await fill(store, 30);
  const { sink, text } = slowSink();
  assert.equal(await exportAudit(store, 'jsonl', sink, { result: 'denied', limit: 4 }), 4);
  const rows = text()
    .trimEnd()
    .split('\n')
    .map((l) => JSON.parse(l) as { result: string; seq: number });
  assert.deepEqual(
    rows.map((r) => r.seq),
    [3, 6, 9, 12],
  );
  await assert.rejects(exportAudit(store, 'xml' as never, sink), (err) => isSluiceError(err, 'AUDIT_EXPORT_FORMAT'));
});

forEachEngine('CEF export writes one well-formed event per record', async ({ store }) => {
  await fill(store, 3);
  const { sink, text } = slowSink();
  assert.equal(await exportAudit(store, 'cef', sink, { version: '9.9.9' }), 3);
  const lines = text().trimEnd().split('\n');
  assert.equal(lines.length, 3, 'embedded line breaks are escaped, not written');
  assert.ok(lines[0]!.startsWith('CEF:0|Sluice|sluice|9.9.9|approval|approval success|3|rt='), lines[0]);
  assert.ok(lines[0]!.includes('reason=CHG0042 | approved\\=yes\\nsecond line'), lines[0]);
  assert.ok(lines[0]!.includes('suser=alice "a" \\\\ müller'), lines[0]);
  assert.ok(lines[2]!.startsWith('CEF:0|Sluice|sluice|9.9.9|deletion|deletion denied|8|'), lines[2]);
});

forEachEngine(
  'the verification scripts in docs/audit.md accept an export and catch tampering',
  async ({ t, store }) => {
    await fill(store, 25);
    const head = await verifyAudit(store);
    assert.equal(head.ok, true);
    const { sink, text } = slowSink();
    await exportAudit(store, 'jsonl', sink);
    const good = join(dir, `good-${store.engine}.jsonl`);
    writeFileSync(good, text());
    const lines = text().trimEnd().split('\n');
    const edited = lines.map((l, i) => (i === 8 ? l.replace('"actor":"bob"', '"actor":"eve"') : l));
    assert.notDeepEqual(edited, lines);
    const bad = join(dir, `bad-${store.engine}.jsonl`);
    writeFileSync(bad, edited.join('\n') + '\n');
    const swapped = join(dir, `swapped-${store.engine}.jsonl`);
    writeFileSync(swapped, [...lines.slice(0, 4), lines[5], lines[4], ...lines.slice(6)].join('\n') + '\n');
    const expectedOk = `OK 25 ${head.ok ? head.head.hash : ''}`;

    const js = join(dir, 'verify-audit.mjs');
    writeFileSync(js, extractScript('js'));
    const run = (cmd: string, args: string[]) => spawnSync(cmd, args, { encoding: 'utf8' });
    let r = run(process.execPath, [js, good]);
    assert.equal(r.stdout.trim(), expectedOk, r.stderr);
    r = run(process.execPath, [js, bad]);
    assert.equal(r.status, 1);
    assert.equal(r.stdout.trim(), 'BAD 9: hash does not match the fields');
    r = run(process.execPath, [js, swapped]);
    assert.equal(r.status, 1);
    assert.equal(r.stdout.trim(), 'BAD 5: seq is 6');

    if (!pythonAvailable()) {
      t.diagnostic('python3 not installed: Python verification script not exercised');
      return;
    }
    const py = join(dir, 'verify_audit.py');
    writeFileSync(py, extractScript('python'));
    r = run('python3', [py, good]);
    assert.equal(r.stdout.trim(), expectedOk, r.stderr);
    r = run('python3', [py, bad]);
    assert.equal(r.status, 1);
    assert.equal(r.stdout.trim(), 'BAD 9: hash does not match the fields');
  },
);
