import assert from 'node:assert/strict';
import { readdirSync } from 'node:fs';
import { sql } from 'kysely';
import type { Kysely } from 'kysely';
import { isSluiceError, type ErrorCode } from '../../../src/errors.ts';
import { MIGRATIONS, inTransaction, openStore } from '../../../src/store/index.ts';
import type { Migration, StoreHandle } from '../../../src/store/index.ts';
import { migrationChecksum } from '../../../src/store/migrate.ts';
import { POSTGRES_DISABLED, forEachEngine, withStores } from '../../helpers/db.ts';
import { test } from 'node:test';

const D1 = `sha256:${'a'.repeat(64)}`;
const D2 = `sha256:${'b'.repeat(64)}`;

async function tableNames(h: StoreHandle): Promise<string[]> {
  const tables = await h.db.introspection.getTables();
  return tables.map((t) => t.name).sort();
}

async function seed(h: StoreHandle): Promise<void> {
  const now = h.clock().getTime();
  await h.db
    .insertInto('registries')
    .values({ name: 'quay', url: 'https://quay.example', kind: 'quay', created_at: now })
    .execute();
  await h.db
    .insertInto('repositories')
    .values({
      registry: 'quay',
      name: 'team-dev/app',
      team: 'team',
      stage: 'dev',
      category: 'application',
      last_synced_at: null,
    })
    .execute();
  await h.db
    .insertInto('manifests')
    .values({
      registry: 'quay',
      digest: D1,
      media_type: 'application/vnd.oci.image.manifest.v1+json',
      // Beyond 2^32: sizes of multi-arch images must not wrap or come back as strings.
      size: 7_000_000_000_123,
      created: null,
      labels: JSON.stringify({ version: '1.0.0' }),
      config_user: '1000',
      platforms: JSON.stringify(['linux/amd64']),
      base_digest: D2,
      base_name: 'ubi9',
      config_digest: null,
      first_seen: now,
      last_seen: now,
    })
    .execute();
  await h.db
    .insertInto('repository_manifests')
    .values({ registry: 'quay', repository: 'team-dev/app', digest: D1, first_seen: now, last_seen: now })
    .execute();
  await h.db
    .insertInto('manifest_blobs')
    .values({ registry: 'quay', manifest_digest: D1, blob_digest: D2, size: 42, media_type: null })
    .execute();
  await h.db
    .insertInto('tags')
    .values({ registry: 'quay', repository: 'team-dev/app', tag: '1.0.0-1', digest: D1, updated_at: now })
    .execute();
}

test('the migration list matches the migration files, in order', () => {
  const files = readdirSync(new URL('../../../src/store/migrations/', import.meta.url))
    .filter((f) => /^\d{4}_.+\.ts$/.test(f))
    .sort();
  assert.deepEqual(
    files,
    MIGRATIONS.map((m) => `${String(m.version).padStart(4, '0')}_${m.name}.ts`),
  );
});

test('migration checksums are stable and change when the schema does', async () => {
  const base = MIGRATIONS[0]!;
  const changed: Migration = {
    ...base,
    up: async (db) => {
      await base.up(db);
      await db.schema.createTable('extra').addColumn('x', 'text').execute();
    },
  };
  for (const engine of ['sqlite', 'postgres'] as const) {
    assert.equal(await migrationChecksum(base, engine), await migrationChecksum(base, engine));
    assert.notEqual(await migrationChecksum(base, engine), await migrationChecksum(changed, engine));
  }
});

forEachEngine('opening migrates a fresh database and records every version', async ({ store }) => {
  assert.deepEqual(
    store.migration.applied,
    MIGRATIONS.map((m) => m.version),
  );
  const tables = await tableNames(store);
  for (const t of [
    'registries',
    'repositories',
    'manifests',
    'manifest_children',
    'manifest_blobs',
    'tags',
    'pulls',
    'events_seen',
    'jobs',
    'api_tokens',
    'audit_log',
    'audit_head',
    'sluice_migrations',
  ]) {
    assert.ok(tables.includes(t), `table ${t} missing (have ${tables.join(', ')})`);
  }
  const rows = await store.db.selectFrom('sluice_migrations').selectAll().orderBy('version').execute();
  assert.deepEqual(
    rows.map((r) => r.version),
    MIGRATIONS.map((m) => m.version),
  );
  for (const r of rows) assert.match(r.checksum, /^[0-9a-f]{64}$/);
  await store.ping();
});

forEachEngine('reopening applies nothing and keeps the data', async ({ store, reopen }) => {
  await seed(store);
  const again = await reopen();
  assert.deepEqual(again.migration.applied, []);
  const tag = await again.db.selectFrom('tags').selectAll().executeTakeFirstOrThrow();
  assert.equal(tag.digest, D1);
});

forEachEngine('refuses to start on a database migrated by a newer version', async ({ store, db }) => {
  await store.db
    .insertInto('sluice_migrations')
    .values({ version: 99, name: 'from_the_future', checksum: 'x'.repeat(64), applied_at: 0 })
    .execute();
  await assert.rejects(openStore({ url: db.url }), (err) => {
    assert.ok(isSluiceError(err, 'STORE_SCHEMA_NEWER'), String(err));
    assert.equal(err.category, 'conflict');
    assert.match(err.message, /migration 0099 \(from_the_future\)/);
    assert.match(err.message, new RegExp(`up to ${String(MIGRATIONS.length).padStart(4, '0')}`));
    return true;
  });
});

forEachEngine('refuses to start when an applied migration was edited', async ({ store, db }) => {
  await store.db
    .updateTable('sluice_migrations')
    .set({ checksum: 'f'.repeat(64) })
    .where('version', '=', 1)
    .execute();
  await assert.rejects(openStore({ url: db.url }), (err) => {
    assert.ok(isSluiceError(err, 'STORE_MIGRATION_MODIFIED'), String(err));
    assert.match(err.message, /migration 0001 \(initial\)/);
    return true;
  });
});

forEachEngine('a failing migration leaves nothing half-applied', async ({ store, db }) => {
  const broken: Migration[] = [
    ...MIGRATIONS,
    {
      version: MIGRATIONS.length + 1,
      name: 'broken',
      // eslint-disable-next-line @typescript-eslint/no-explicit-any
      up: async (k: Kysely<any>) => {
        await k.schema.createTable('half_done').addColumn('x', 'text').execute();
        await sql`select * from no_such_table`.execute(k);
      },
    },
  ];
  await assert.rejects(openStore({ url: db.url, migrations: broken }), (err) => {
    assert.ok(isSluiceError(err, 'STORE_MIGRATION_FAILED'), String(err));
    assert.match(
      err.message,
      new RegExp(`migration ${String(MIGRATIONS.length + 1).padStart(4, '0')} \\(broken\\) failed`),
    );
    return true;
  });
  assert.ok(!(await tableNames(store)).includes('half_done'));
  const versions = await store.db.selectFrom('sluice_migrations').select('version').execute();
  assert.equal(versions.length, MIGRATIONS.length);
});

forEachEngine('integers and counts come back as numbers on both engines', async ({ store }) => {
  await seed(store);
  const m = await store.db.selectFrom('manifests').select(['size', 'first_seen']).executeTakeFirstOrThrow();
  assert.equal(m.size, 7_000_000_000_123);
  assert.equal(typeof m.first_seen, 'number');
  const { n } = await store.db
    .selectFrom('tags')
    .select((eb) => eb.fn.countAll<number>().as('n'))
    .executeTakeFirstOrThrow();
  assert.equal(n, 1);
});

forEachEngine('a duplicate tag is a conflict error naming the store', async ({ store }) => {
  await seed(store);
  await assert.rejects(
    store.db
      .insertInto('tags')
      .values({ registry: 'quay', repository: 'team-dev/app', tag: '1.0.0-1', digest: D2, updated_at: 1 })
      .execute(),
    (err) => {
      assert.ok(isSluiceError(err, 'STORE_CONFLICT'), String(err));
      assert.equal(err.category, 'conflict');
      return true;
    },
  );
  // Upserting moves the tag, which is how a sync records a re-pointed tag.
  await store.db
    .insertInto('tags')
    .values({ registry: 'quay', repository: 'team-dev/app', tag: '1.0.0-1', digest: D2, updated_at: 2 })
    .onConflict((oc) => oc.columns(['registry', 'repository', 'tag']).doUpdateSet({ digest: D2, updated_at: 2 }))
    .execute();
  const tag = await store.db.selectFrom('tags').select('digest').executeTakeFirstOrThrow();
  assert.equal(tag.digest, D2);
});

forEachEngine('foreign keys hold and removing a registry removes what hangs off it', async ({ store }) => {
  await seed(store);
  await assert.rejects(
    store.db
      .insertInto('tags')
      .values({ registry: 'quay', repository: 'nope', tag: 'x', digest: D1, updated_at: 1 })
      .execute(),
  );
  await store.db.deleteFrom('registries').where('name', '=', 'quay').execute();
  for (const t of ['repositories', 'manifests', 'repository_manifests', 'manifest_blobs', 'tags'] as const) {
    const rows = await store.db.selectFrom(t).selectAll().execute();
    assert.equal(rows.length, 0, `${t} still has rows`);
  }
});

forEachEngine('an empty in-list matches nothing and an empty not-in list everything', async ({ store }) => {
  await seed(store);
  const tags = (op: 'in' | 'not in', list: string[]) =>
    store.db.selectFrom('tags').select('tag').where('tag', op, list).execute();
  assert.deepEqual(await tags('in', []), []);
  assert.deepEqual(await tags('not in', []), [{ tag: '1.0.0-1' }]);
  assert.deepEqual(await tags('in', ['1.0.0-1', 'other']), [{ tag: '1.0.0-1' }]);
  // The shape of the event refresh that sent a NUL sentinel to PostgreSQL: a digest with no tags.
  const n = await store.db.updateTable('tags').set({ updated_at: 9 }).where('tag', 'in', []).executeTakeFirst();
  assert.equal(n.numUpdatedRows, 0n);
});

forEachEngine(
  'values one engine would refuse or alter are refused by both, before anything is written',
  async ({ store }) => {
    const cases: Array<[string, unknown, ErrorCode, string]> = [
      ['a NUL in text', 'build\u0000\u0000\u0000', 'STORE_VALUE_INVALID', 'NUL character'],
      ['an unpaired surrogate', 'x\ud800y', 'STORE_VALUE_INVALID', 'unpaired UTF-16 surrogate'],
      ['a fraction in a bigint column', 1.5, 'STORE_VALUE_UNSUPPORTED', 'number 1.5 is not a safe integer'],
      ['NaN', Number.NaN, 'STORE_VALUE_UNSUPPORTED', 'number NaN'],
      ['Infinity', Infinity, 'STORE_VALUE_UNSUPPORTED', 'number Infinity'],
      ['an integer beyond 2^53', 2 ** 60, 'STORE_VALUE_UNSUPPORTED', 'not a safe integer'],
      ['a Date', new Date(0), 'STORE_VALUE_UNSUPPORTED', 'a Date is not a column value'],
      ['an array', [1], 'STORE_VALUE_UNSUPPORTED', 'an array is not a column value'],
    ];
    for (const [what, value, code, message] of cases) {
      const text = typeof value === 'string';
      await assert.rejects(
        store.transaction(async (tx) => {
          await tx.db.insertInto('registries').values({ name: 'r', url: 'u', kind: 'k', created_at: 1 }).execute();
          await tx.db
            .insertInto('holds')
            .values({
              id: 'h',
              digest: D1,
              kind: 'quarantine',
              reason: (text ? value : 'r') as string,
              created_by: 'alice',
              created_at: (text ? 1 : value) as number,
            })
            .execute();
        }),
        (err) => {
          assert.ok(isSluiceError(err, code), `${what}: ${String(err)}`);
          assert.equal(err.category, text ? 'invalid-input' : 'internal', what);
          assert.match(err.message, new RegExp(message), what);
          assert.match(err.message, /parameter \$\d+ of "insert into "holds"/, `${what}: names the statement`);
          assert.ok(!err.message.includes('build'), `${what}: the value is not echoed`);
          return true;
        },
      );
      assert.equal((await store.db.selectFrom('registries').selectAll().execute()).length, 0, `${what}: rolled back`);
    }
    // Lookups are checked too: a NUL in a WHERE is refused on SQLite as on PostgreSQL, not "not found".
    await assert.rejects(store.db.selectFrom('tags').select('tag').where('tag', '=', 'a\u0000').execute(), (err) =>
      isSluiceError(err, 'STORE_VALUE_INVALID'),
    );
  },
);

forEachEngine('transactions roll back on error and run afterCommit only on commit', async ({ store }) => {
  const calls: string[] = [];
  await assert.rejects(
    store.transaction(async (tx) => {
      tx.afterCommit(() => calls.push('rolled back'));
      await tx.db.insertInto('registries').values({ name: 'r', url: 'u', kind: 'k', created_at: 1 }).execute();
      throw new Error('boom');
    }),
    /boom/,
  );
  assert.equal((await store.db.selectFrom('registries').selectAll().execute()).length, 0);
  const out = await store.transaction(async (tx) => {
    tx.afterCommit(() => calls.push('committed'));
    await tx.db.insertInto('registries').values({ name: 'r', url: 'u', kind: 'k', created_at: 1 }).execute();
    // Helpers given a transaction run inside it instead of opening their own.
    return inTransaction(tx, async (inner) => {
      assert.equal(inner, tx);
      return 'ok';
    });
  });
  assert.equal(out, 'ok');
  assert.deepEqual(calls, ['committed']);
  assert.equal((await store.db.selectFrom('registries').selectAll().execute()).length, 1);
});

forEachEngine('pull counts accumulate per digest and day', async ({ store }) => {
  await seed(store);
  const bump = (day: string) =>
    store.db
      .insertInto('pulls')
      .values({ registry: 'quay', repository: 'team-dev/app', digest: D1, day, count: 1 })
      .onConflict((oc) =>
        oc
          .columns(['registry', 'repository', 'digest', 'day'])
          .doUpdateSet((eb) => ({ count: eb('pulls.count', '+', 1) })),
      )
      .execute();
  await bump('2025-03-01');
  await bump('2025-03-01');
  await bump('2025-03-02');
  const rows = await store.db.selectFrom('pulls').select(['day', 'count']).orderBy('day').execute();
  assert.deepEqual(rows, [
    { day: '2025-03-01', count: 2 },
    { day: '2025-03-02', count: 1 },
  ]);
});

test('an unsupported URL scheme is refused without echoing the URL', async () => {
  await assert.rejects(openStore({ url: 'mysql://root:hunter2@db/x' }), (err) => {
    assert.ok(isSluiceError(err, 'STORE_URL_INVALID'), String(err));
    assert.equal(err.category, 'invalid-input');
    assert.doesNotMatch(err.message, /hunter2/);
    return true;
  });
});

test('both engines return identical rows for identical writes', async () => {
  const results: Record<string, unknown> = {};
  await withStores(
    async ({ engine, store }) => {
      await seed(store);
      await store.db
        .insertInto('jobs')
        .values({ name: 'j', interval_ms: 60_000, cron: null, next_run_at: 5 })
        .execute();
      results[engine] = {
        manifests: await store.db.selectFrom('manifests').selectAll().execute(),
        tags: await store.db.selectFrom('tags').selectAll().execute(),
        jobs: await store.db.selectFrom('jobs').selectAll().execute(),
        repos: await store.db.selectFrom('repositories').selectAll().execute(),
      };
    },
    { clock: () => new Date(Date.UTC(2025, 2, 1)) },
  );
  const engines = Object.keys(results);
  assert.ok(engines.includes('sqlite'));
  if (!POSTGRES_DISABLED) assert.ok(engines.includes('postgres'));
  for (const e of engines) assert.deepStrictEqual(results[e], results.sqlite, `${e} differs from sqlite`);
});
