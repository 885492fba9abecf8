/**
 * Inventory, scheduling and API tokens. Natural composite keys (registry, repository, digest)
 * instead of surrogate ids: they are what every caller already holds, they need no
 * engine-specific auto-increment, and they keep rows readable in a plain SQL shell.
 * Timestamps are bigint epoch milliseconds, JSON is text (see ../schema.ts).
 */
import { sql } from 'kysely';
import type { Kysely } from 'kysely';

// eslint-disable-next-line @typescript-eslint/no-explicit-any
export async function up(db: Kysely<any>): Promise<void> {
  await db.schema
    .createTable('registries')
    .addColumn('name', 'text', (c) => c.primaryKey())
    .addColumn('url', 'text', (c) => c.notNull())
    .addColumn('kind', 'text', (c) => c.notNull())
    .addColumn('created_at', 'bigint', (c) => c.notNull())
    .execute();

  await db.schema
    .createTable('repositories')
    .addColumn('registry', 'text', (c) => c.notNull())
    .addColumn('name', 'text', (c) => c.notNull())
    .addColumn('team', 'text')
    .addColumn('stage', 'text')
    .addColumn('category', 'text')
    .addColumn('last_synced_at', 'bigint')
    .addPrimaryKeyConstraint('repositories_pk', ['registry', 'name'])
    .addForeignKeyConstraint('repositories_registry_fk', ['registry'], 'registries', ['name'], (fk) =>
      fk.onDelete('cascade'),
    )
    .execute();
  // Dashboards and policies select by team and stage across registries.
  await db.schema.createIndex('repositories_team_stage_idx').on('repositories').columns(['team', 'stage']).execute();

  await db.schema
    .createTable('manifests')
    .addColumn('registry', 'text', (c) => c.notNull())
    .addColumn('digest', 'text', (c) => c.notNull())
    .addColumn('media_type', 'text', (c) => c.notNull())
    .addColumn('size', 'bigint', (c) => c.notNull())
    .addColumn('created', 'bigint')
    .addColumn('labels', 'text', (c) => c.notNull().defaultTo('{}'))
    .addColumn('config_user', 'text')
    .addColumn('platforms', 'text', (c) => c.notNull().defaultTo('[]'))
    .addColumn('base_digest', 'text')
    .addColumn('base_name', 'text')
    .addColumn('config_digest', 'text')
    .addColumn('first_seen', 'bigint', (c) => c.notNull())
    .addColumn('last_seen', 'bigint', (c) => c.notNull())
    .addPrimaryKeyConstraint('manifests_pk', ['registry', 'digest'])
    .addForeignKeyConstraint('manifests_registry_fk', ['registry'], 'registries', ['name'], (fk) =>
      fk.onDelete('cascade'),
    )
    .execute();
  // "Which images are built on this base?" when a base image is updated.
  await db.schema.createIndex('manifests_base_digest_idx').on('manifests').columns(['base_digest']).execute();
  await db.schema.createIndex('manifests_base_name_idx').on('manifests').columns(['base_name']).execute();

  await db.schema
    .createTable('repository_manifests')
    .addColumn('registry', 'text', (c) => c.notNull())
    .addColumn('repository', 'text', (c) => c.notNull())
    .addColumn('digest', 'text', (c) => c.notNull())
    .addColumn('first_seen', 'bigint', (c) => c.notNull())
    .addColumn('last_seen', 'bigint', (c) => c.notNull())
    .addPrimaryKeyConstraint('repository_manifests_pk', ['registry', 'repository', 'digest'])
    .addForeignKeyConstraint(
      'repository_manifests_repository_fk',
      ['registry', 'repository'],
      'repositories',
      ['registry', 'name'],
      (fk) => fk.onDelete('cascade'),
    )
    .addForeignKeyConstraint(
      'repository_manifests_manifest_fk',
      ['registry', 'digest'],
      'manifests',
      ['registry', 'digest'],
      (fk) => fk.onDelete('cascade'),
    )
    .execute();
  // "Which repositories hold this digest?" before deleting or promoting it.
  await db.schema
    .createIndex('repository_manifests_digest_idx')
    .on('repository_manifests')
    .columns(['registry', 'digest'])
    .execute();

  await db.schema
    .createTable('manifest_children')
    .addColumn('registry', 'text', (c) => c.notNull())
    .addColumn('index_digest', 'text', (c) => c.notNull())
    .addColumn('child_digest', 'text', (c) => c.notNull())
    .addColumn('platform', 'text')
    .addPrimaryKeyConstraint('manifest_children_pk', ['registry', 'index_digest', 'child_digest'])
    .addForeignKeyConstraint(
      'manifest_children_index_fk',
      ['registry', 'index_digest'],
      'manifests',
      ['registry', 'digest'],
      (fk) => fk.onDelete('cascade'),
    )
    .execute();
  // "Is this child still needed by some index?" before retention deletes it.
  await db.schema
    .createIndex('manifest_children_child_idx')
    .on('manifest_children')
    .columns(['registry', 'child_digest'])
    .execute();

  await db.schema
    .createTable('manifest_blobs')
    .addColumn('registry', 'text', (c) => c.notNull())
    .addColumn('manifest_digest', 'text', (c) => c.notNull())
    .addColumn('blob_digest', 'text', (c) => c.notNull())
    .addColumn('size', 'bigint', (c) => c.notNull())
    .addColumn('media_type', 'text')
    .addPrimaryKeyConstraint('manifest_blobs_pk', ['registry', 'manifest_digest', 'blob_digest'])
    .addForeignKeyConstraint(
      'manifest_blobs_manifest_fk',
      ['registry', 'manifest_digest'],
      'manifests',
      ['registry', 'digest'],
      (fk) => fk.onDelete('cascade'),
    )
    .execute();
  // Shared layers: storage that deleting one image would not actually free.
  await db.schema
    .createIndex('manifest_blobs_blob_idx')
    .on('manifest_blobs')
    .columns(['registry', 'blob_digest'])
    .execute();

  // No foreign key to manifests: a tag is recorded as the registry reports it, even when the
  // manifest it names has not been read yet (events arrive before the sync does).
  await db.schema
    .createTable('tags')
    .addColumn('registry', 'text', (c) => c.notNull())
    .addColumn('repository', 'text', (c) => c.notNull())
    .addColumn('tag', 'text', (c) => c.notNull())
    .addColumn('digest', 'text', (c) => c.notNull())
    .addColumn('updated_at', 'bigint', (c) => c.notNull())
    .addPrimaryKeyConstraint('tags_pk', ['registry', 'repository', 'tag'])
    .addForeignKeyConstraint(
      'tags_repository_fk',
      ['registry', 'repository'],
      'repositories',
      ['registry', 'name'],
      (fk) => fk.onDelete('cascade'),
    )
    .execute();
  // "Which tags point at this digest?" (retention, rollback targets, promotion).
  await db.schema.createIndex('tags_digest_idx').on('tags').columns(['registry', 'digest']).execute();

  await db.schema
    .createTable('pulls')
    .addColumn('registry', 'text', (c) => c.notNull())
    .addColumn('repository', 'text', (c) => c.notNull())
    .addColumn('digest', 'text', (c) => c.notNull())
    .addColumn('day', 'text', (c) => c.notNull())
    .addColumn('count', 'bigint', (c) => c.notNull().defaultTo(0))
    .addPrimaryKeyConstraint('pulls_pk', ['registry', 'repository', 'digest', 'day'])
    .execute();
  // "Was this digest pulled lately?" across repositories, and pull-rate metrics by day.
  await db.schema.createIndex('pulls_digest_day_idx').on('pulls').columns(['registry', 'digest', 'day']).execute();
  await db.schema.createIndex('pulls_day_idx').on('pulls').columns(['day']).execute();

  await db.schema
    .createTable('events_seen')
    .addColumn('source', 'text', (c) => c.notNull())
    .addColumn('event_id', 'text', (c) => c.notNull())
    .addColumn('received_at', 'bigint', (c) => c.notNull())
    .addPrimaryKeyConstraint('events_seen_pk', ['source', 'event_id'])
    .execute();
  // Pruning old delivery ids.
  await db.schema.createIndex('events_seen_received_idx').on('events_seen').columns(['received_at']).execute();

  await db.schema
    .createTable('jobs')
    .addColumn('name', 'text', (c) => c.primaryKey())
    .addColumn('interval_ms', 'bigint')
    .addColumn('cron', 'text')
    .addColumn('next_run_at', 'bigint', (c) => c.notNull())
    .addColumn('lease_owner', 'text')
    .addColumn('lease_expires_at', 'bigint')
    .addColumn('last_run_at', 'bigint')
    .addColumn('last_result', 'text')
    .addCheckConstraint('jobs_schedule_check', sql`(interval_ms is null) <> (cron is null)`)
    .execute();
  await db.schema.createIndex('jobs_next_run_idx').on('jobs').columns(['next_run_at']).execute();

  await db.schema
    .createTable('api_tokens')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('name', 'text', (c) => c.notNull())
    .addColumn('token_hash', 'text', (c) => c.notNull().unique())
    .addColumn('role', 'text', (c) => c.notNull())
    .addColumn('teams', 'text', (c) => c.notNull().defaultTo('[]'))
    .addColumn('created_at', 'bigint', (c) => c.notNull())
    .addColumn('expires_at', 'bigint')
    .addColumn('revoked_at', 'bigint')
    .addColumn('last_used_at', 'bigint')
    .execute();
}
