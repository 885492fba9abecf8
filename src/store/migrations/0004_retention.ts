/**
 * Retention: the subject of OCI referrers (a signature or SBOM follows its image), the trash
 * that keeps deleted digests restorable for a window, notices announced before deletions,
 * and approvals of reviewed plans (manual mode).
 */
import type { Kysely } from 'kysely';

// eslint-disable-next-line @typescript-eslint/no-explicit-any
export async function up(db: Kysely<any>): Promise<void> {
  await db.schema.alterTable('manifests').addColumn('subject_digest', 'text').execute();

  await db.schema
    .createTable('trash')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('registry', 'text', (c) => c.notNull())
    .addColumn('repository', 'text', (c) => c.notNull())
    // null for an untagged digest.
    .addColumn('tag', 'text')
    .addColumn('digest', 'text', (c) => c.notNull())
    .addColumn('media_type', 'text', (c) => c.notNull())
    .addColumn('trash_repository', 'text', (c) => c.notNull())
    .addColumn('trash_tag', 'text', (c) => c.notNull())
    .addColumn('reason', 'text', (c) => c.notNull())
    .addColumn('trashed_by', 'text', (c) => c.notNull())
    .addColumn('trashed_at', 'bigint', (c) => c.notNull())
    .addColumn('purge_after', 'bigint', (c) => c.notNull())
    .addColumn('restored_at', 'bigint')
    .addColumn('restored_by', 'text')
    .addColumn('purged_at', 'bigint')
    .execute();
  await db.schema.createIndex('trash_lookup_idx').on('trash').columns(['registry', 'repository', 'tag']).execute();
  await db.schema.createIndex('trash_purge_idx').on('trash').columns(['purged_at', 'purge_after']).execute();

  await db.schema
    .createTable('retention_notices')
    .addColumn('registry', 'text', (c) => c.notNull())
    .addColumn('repository', 'text', (c) => c.notNull())
    .addColumn('digest', 'text', (c) => c.notNull())
    // '' for an untagged digest, so the key stays simple on both engines.
    .addColumn('tag', 'text', (c) => c.notNull())
    .addColumn('noticed_at', 'bigint', (c) => c.notNull())
    .addColumn('delete_after', 'bigint', (c) => c.notNull())
    .addPrimaryKeyConstraint('retention_notices_pk', ['registry', 'repository', 'digest', 'tag'])
    .execute();

  await db.schema
    .createTable('retention_approvals')
    .addColumn('fingerprint', 'text', (c) => c.primaryKey())
    .addColumn('approved_by', 'text', (c) => c.notNull())
    .addColumn('approved_at', 'bigint', (c) => c.notNull())
    .addColumn('scope', 'text', (c) => c.notNull())
    .execute();
}
