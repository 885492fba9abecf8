/**
 * The hash-chained audit log (src/audit/). `audit_head` is a single row naming the last
 * record: appenders lock it, so concurrent appenders from several replicas queue up instead
 * of forking the chain, and verification compares it with the last record so that removing
 * records from the end is detected too.
 */
import type { Kysely } from 'kysely';

/** prev_hash of the first record. */
export const GENESIS_HASH = '0'.repeat(64);

// eslint-disable-next-line @typescript-eslint/no-explicit-any
export async function up(db: Kysely<any>): Promise<void> {
  await db.schema
    .createTable('audit_log')
    .addColumn('seq', 'bigint', (c) => c.primaryKey())
    .addColumn('time', 'bigint', (c) => c.notNull())
    .addColumn('actor', 'text', (c) => c.notNull())
    .addColumn('action', 'text', (c) => c.notNull())
    .addColumn('target_repository', 'text')
    .addColumn('target_digest', 'text')
    .addColumn('target_tag', 'text')
    .addColumn('reason', 'text')
    .addColumn('result', 'text', (c) => c.notNull())
    .addColumn('details', 'text', (c) => c.notNull())
    .addColumn('prev_hash', 'text', (c) => c.notNull())
    .addColumn('hash', 'text', (c) => c.notNull())
    .execute();
  // The filters of `sluice audit ls`; seq (the primary key) orders and pages.
  await db.schema.createIndex('audit_log_time_idx').on('audit_log').columns(['time']).execute();
  await db.schema.createIndex('audit_log_actor_idx').on('audit_log').columns(['actor', 'seq']).execute();
  await db.schema.createIndex('audit_log_action_idx').on('audit_log').columns(['action', 'seq']).execute();
  await db.schema
    .createIndex('audit_log_repository_idx')
    .on('audit_log')
    .columns(['target_repository', 'seq'])
    .execute();
  await db.schema.createIndex('audit_log_digest_idx').on('audit_log').columns(['target_digest', 'seq']).execute();

  await db.schema
    .createTable('audit_head')
    .addColumn('id', 'integer', (c) => c.primaryKey())
    .addColumn('seq', 'bigint', (c) => c.notNull())
    .addColumn('hash', 'text', (c) => c.notNull())
    .execute();
  await db.insertInto('audit_head').values({ id: 1, seq: 0, hash: GENESIS_HASH }).execute();
}
