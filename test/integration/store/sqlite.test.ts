import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { sql } from 'kysely';
import { isSluiceError } from '../../../src/errors.ts';
import { openStore } from '../../../src/store/index.ts';

const dirs: string[] = [];
after(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});
function tempDir(): string {
  const d = mkdtempSync(join(tmpdir(), 'sluice-sqlite-'));
  dirs.push(d);
  return d;
}

test('without a URL the store is a SQLite file under .sluice/ in the data directory', async () => {
  const dir = tempDir();
  const store = await openStore({ dataDir: dir });
  try {
    assert.equal(store.engine, 'sqlite');
    assert.equal(store.target, `sqlite:${join(dir, '.sluice', 'sluice.db')}`);
    assert.ok(existsSync(join(dir, '.sluice', 'sluice.db')));
    const pragma = async (name: string) =>
      Object.values((await sql.raw(`pragma ${name}`).execute(store.db)).rows[0] as Record<string, unknown>)[0];
    assert.equal(String(await pragma('journal_mode')), 'wal');
    assert.equal(Number(await pragma('foreign_keys')), 1);
    assert.equal(Number(await pragma('busy_timeout')), 5000);
  } finally {
    await store.close();
  }
});

test('relative sqlite: paths resolve against the data directory', async () => {
  const dir = tempDir();
  const store = await openStore({ url: 'sqlite:state/x.db', dataDir: dir });
  await store.close();
  assert.ok(existsSync(join(dir, 'state', 'x.db')));
});

test('a file that cannot be created is reported as unavailable, naming the path', async () => {
  const dir = tempDir();
  writeFileSync(join(dir, 'plain-file'), 'not a directory');
  const path = join(dir, 'plain-file', 'sluice.db');
  await assert.rejects(openStore({ url: `sqlite:${path}` }), (err) => {
    assert.ok(isSluiceError(err, 'STORE_UNAVAILABLE'), String(err));
    assert.ok(err.message.includes(path), err.message);
    return true;
  });
});

test('a file that is not a database is reported as unusable', async () => {
  const dir = tempDir();
  const path = join(dir, 'garbage.db');
  writeFileSync(path, Buffer.alloc(8192, 0x41));
  await assert.rejects(openStore({ url: `sqlite:${path}` }), (err) => {
    assert.ok(isSluiceError(err, 'STORE_UNAVAILABLE'), String(err));
    return true;
  });
});

test('RETURNING and affected-row counts work through the node:sqlite adapter', async () => {
  const store = await openStore({ url: 'sqlite::memory:' });
  try {
    const row = await store.db
      .insertInto('registries')
      .values({ name: 'r', url: 'u', kind: 'k', created_at: 5 })
      .returning(['name', 'created_at'])
      .executeTakeFirstOrThrow();
    assert.deepEqual(row, { name: 'r', created_at: 5 });
    const res = await store.db
      .updateTable('registries')
      .set({ kind: 'quay' })
      .where('name', '=', 'nope')
      .executeTakeFirst();
    assert.equal(res.numUpdatedRows, 0n);
  } finally {
    await store.close();
  }
});

/** Starts a process that holds the database write lock for holdMs, resolving once it holds it. */
function holdWriteLock(path: string, holdMs: number, name: string): Promise<{ done: Promise<number> }> {
  const code = `
    import { DatabaseSync } from 'node:sqlite';
    const db = new DatabaseSync(${JSON.stringify(path)});
    db.exec('begin immediate');
    db.exec("insert into registries (name, url, kind, created_at) values (${JSON.stringify(name).replaceAll('"', "'")}, 'u', 'k', 1)");
    process.stdout.write('locked\\n');
    setTimeout(() => { db.exec('commit'); db.close(); }, ${holdMs});
  `;
  const child = spawn(process.execPath, ['--input-type=module', '-e', code], { stdio: ['ignore', 'pipe', 'inherit'] });
  const done = new Promise<number>((resolve) => child.on('exit', (c) => resolve(c ?? -1)));
  return new Promise((resolve, reject) => {
    child.stdout.on('data', (d: Buffer) => {
      if (d.toString().includes('locked')) resolve({ done });
    });
    child.on('exit', (c) => reject(new Error(`lock holder exited early with ${c}`)));
  });
}

test('another process holding the write lock: short waits fail as busy, longer waits succeed', async () => {
  const dir = tempDir();
  const path = join(dir, 's.db');
  await (await openStore({ url: `sqlite:${path}` })).close();

  const impatient = await openStore({ url: `sqlite:${path}`, busyTimeoutMs: 50 });
  const first = await holdWriteLock(path, 600, 'first-holder');
  await assert.rejects(
    impatient.transaction(async (tx) => {
      await tx.db.insertInto('registries').values({ name: 'mine', url: 'u', kind: 'k', created_at: 1 }).execute();
    }),
    (err) => {
      assert.ok(isSluiceError(err, 'STORE_UNAVAILABLE'), String(err));
      assert.match(err.message, /busy/);
      return true;
    },
  );
  await impatient.close();
  assert.equal(await first.done, 0);

  const patient = await openStore({ url: `sqlite:${path}`, busyTimeoutMs: 5000 });
  try {
    const second = await holdWriteLock(path, 300, 'second-holder');
    await patient.transaction(async (tx) => {
      await tx.db.insertInto('registries').values({ name: 'mine', url: 'u', kind: 'k', created_at: 1 }).execute();
    });
    assert.equal(await second.done, 0);
    const names = (await patient.db.selectFrom('registries').select('name').orderBy('name').execute()).map(
      (r) => r.name,
    );
    assert.deepEqual(names, ['first-holder', 'mine', 'second-holder']);
  } finally {
    await patient.close();
  }
});
