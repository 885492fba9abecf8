/** Digests clusters report running: retention never deletes what a workload still uses. */
import type { Kysely } from 'kysely';

// eslint-disable-next-line @typescript-eslint/no-explicit-any
export async function up(db: Kysely<any>): Promise<void> {
  await db.schema
    .createTable('workload_usage')
    .addColumn('cluster', 'text', (c) => c.notNull())
    .addColumn('digest', 'text', (c) => c.notNull())
    .addColumn('reported_at', 'bigint', (c) => c.notNull())
    .addPrimaryKeyConstraint('workload_usage_pk', ['cluster', 'digest'])
    .execute();
  await db.schema.createIndex('workload_usage_digest_idx').on('workload_usage').columns(['digest']).execute();
}
