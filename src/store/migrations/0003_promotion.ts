/**
 * Promotion: evidence recorded per digest, the promotion history (which is also the
 * rollback history), locks that serialise promotions into one target, and holds
 * (quarantine, legal hold) that block deployment and deletion.
 */
import type { Kysely } from 'kysely';

// eslint-disable-next-line @typescript-eslint/no-explicit-any
export async function up(db: Kysely<any>): Promise<void> {
  await db.schema
    .createTable('evidence')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('digest', 'text', (c) => c.notNull())
    .addColumn('type', 'text', (c) => c.notNull())
    .addColumn('status', 'text', (c) => c.notNull())
    // Approvals name the stage they approve; facts like test results apply to every stage.
    .addColumn('stage', 'text')
    .addColumn('team', 'text')
    .addColumn('recorded_by', 'text', (c) => c.notNull())
    .addColumn('recorded_roles', 'text', (c) => c.notNull())
    .addColumn('recorded_at', 'bigint', (c) => c.notNull())
    .addColumn('url', 'text')
    .addColumn('source', 'text', (c) => c.notNull())
    .addColumn('details', 'text', (c) => c.notNull())
    .execute();
  await db.schema
    .createIndex('evidence_digest_idx')
    .on('evidence')
    .columns(['digest', 'type', 'recorded_at'])
    .execute();

  await db.schema
    .createTable('promotions')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('kind', 'text', (c) => c.notNull())
    .addColumn('team', 'text', (c) => c.notNull())
    .addColumn('repo', 'text', (c) => c.notNull())
    .addColumn('digest', 'text', (c) => c.notNull())
    .addColumn('from_stage', 'text')
    .addColumn('to_stage', 'text', (c) => c.notNull())
    .addColumn('source_registry', 'text', (c) => c.notNull())
    .addColumn('source_repository', 'text', (c) => c.notNull())
    .addColumn('target_registry', 'text', (c) => c.notNull())
    .addColumn('target_repository', 'text', (c) => c.notNull())
    .addColumn('version_tag', 'text')
    .addColumn('stage_tag', 'text', (c) => c.notNull())
    .addColumn('previous_digest', 'text')
    .addColumn('status', 'text', (c) => c.notNull())
    .addColumn('requested_by', 'text', (c) => c.notNull())
    .addColumn('requested_at', 'bigint', (c) => c.notNull())
    .addColumn('scheduled_for', 'bigint')
    .addColumn('started_at', 'bigint')
    .addColumn('finished_at', 'bigint')
    .addColumn('forced', 'integer', (c) => c.notNull().defaultTo(0))
    .addColumn('gate', 'text')
    .addColumn('error', 'text')
    .execute();
  await db.schema
    .createIndex('promotions_target_idx')
    .on('promotions')
    .columns(['team', 'repo', 'to_stage', 'requested_at'])
    .execute();
  await db.schema.createIndex('promotions_digest_idx').on('promotions').columns(['digest']).execute();
  await db.schema.createIndex('promotions_status_idx').on('promotions').columns(['status', 'scheduled_for']).execute();

  await db.schema
    .createTable('promotion_locks')
    .addColumn('target', 'text', (c) => c.primaryKey())
    .addColumn('owner', 'text', (c) => c.notNull())
    .addColumn('expires_at', 'bigint', (c) => c.notNull())
    .execute();

  await db.schema
    .createTable('holds')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('digest', 'text', (c) => c.notNull())
    .addColumn('kind', 'text', (c) => c.notNull())
    .addColumn('reason', 'text', (c) => c.notNull())
    .addColumn('created_by', 'text', (c) => c.notNull())
    .addColumn('created_at', 'bigint', (c) => c.notNull())
    .addColumn('released_by', 'text')
    .addColumn('released_at', 'bigint')
    .execute();
  await db.schema.createIndex('holds_digest_idx').on('holds').columns(['digest']).execute();
}
