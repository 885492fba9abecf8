/**
 * Intents of destructive registry calls (deletions, trash purges), written before the call
 * and settled after it. A process killed between the registry acting and Sluice recording
 * it leaves its intent here, so the next run or sync can still name who deleted what.
 */
import type { Kysely } from 'kysely';

// eslint-disable-next-line @typescript-eslint/no-explicit-any
export async function up(db: Kysely<any>): Promise<void> {
  await db.schema
    .createTable('operation_intents')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('run_id', 'text', (c) => c.notNull())
    .addColumn('actor', 'text', (c) => c.notNull())
    // The audit action of the outcome record: `deletion`, `retention.purge`.
    .addColumn('action', 'text', (c) => c.notNull())
    .addColumn('registry', 'text', (c) => c.notNull())
    .addColumn('repository', 'text', (c) => c.notNull())
    // What the call removes, and so how to tell whether it happened: `manifest` (by digest) or `tag`.
    .addColumn('target', 'text', (c) => c.notNull())
    .addColumn('digest', 'text')
    .addColumn('tag', 'text')
    // JSON: repository, digest, tag, reason and details of the outcome record.
    .addColumn('record', 'text', (c) => c.notNull())
    // seq of the intent's own audit record.
    .addColumn('intent_seq', 'bigint', (c) => c.notNull())
    .addColumn('created_at', 'bigint', (c) => c.notNull())
    .execute();
  await db.schema
    .createIndex('operation_intents_target_idx')
    .on('operation_intents')
    .columns(['registry', 'repository'])
    .execute();
}
