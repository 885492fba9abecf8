/** Per-layer analysis results by layer digest: owned by src/analysis/records.ts. */
import type { Kysely } from 'kysely';

// eslint-disable-next-line @typescript-eslint/no-explicit-any
export async function up(db: Kysely<any>): Promise<void> {
  await db.schema
    .createTable('layer_analyses')
    .addColumn('digest', 'text', (c) => c.primaryKey())
    // Which format and reader set produced the row: a row from another one is a cache miss,
    // so adding a reader re-reads layers instead of trusting results that lack it.
    .addColumn('analyser', 'text', (c) => c.notNull())
    .addColumn('analysis', 'text', (c) => c.notNull())
    .addColumn('analysed_at', 'bigint', (c) => c.notNull())
    .execute();
}
