/**
 * The OSV vulnerability index: one row per record (kept whole, as JSON, for matching), and the
 * packages and aliases it names, so that matching asks only for the records of the packages an
 * image holds and a re-import compares `modified` without reading record bodies.
 */
import type { Kysely } from 'kysely';

// eslint-disable-next-line @typescript-eslint/no-explicit-any
export async function up(db: Kysely<any>): Promise<void> {
  await db.schema
    .createTable('vulndb_records')
    .addColumn('id', 'text', (c) => c.primaryKey())
    // The record's own `modified` text: a re-import with the same value skips the record.
    .addColumn('modified', 'text', (c) => c.notNull())
    .addColumn('withdrawn', 'integer', (c) => c.notNull())
    .addColumn('record', 'text', (c) => c.notNull())
    .addColumn('source', 'text', (c) => c.notNull())
    .addColumn('imported_at', 'bigint', (c) => c.notNull())
    .execute();
  await db.schema
    .createTable('vulndb_affected')
    .addColumn('record_id', 'text', (c) => c.notNull())
    // Base ecosystem (`Debian`, `npm`); the release suffix is checked on the record itself.
    .addColumn('ecosystem', 'text', (c) => c.notNull())
    .addColumn('name', 'text', (c) => c.notNull())
    .execute();
  await db.schema
    .createIndex('vulndb_affected_package_idx')
    .on('vulndb_affected')
    .columns(['ecosystem', 'name'])
    .execute();
  await db.schema.createIndex('vulndb_affected_record_idx').on('vulndb_affected').column('record_id').execute();
  await db.schema
    .createTable('vulndb_aliases')
    .addColumn('alias', 'text', (c) => c.notNull())
    .addColumn('record_id', 'text', (c) => c.notNull())
    .execute();
  await db.schema.createIndex('vulndb_aliases_alias_idx').on('vulndb_aliases').column('alias').execute();
  await db.schema.createIndex('vulndb_aliases_record_idx').on('vulndb_aliases').column('record_id').execute();
  await db.schema
    .createTable('vulndb_imports')
    .addColumn('source', 'text', (c) => c.notNull())
    .addColumn('started_at', 'bigint', (c) => c.notNull())
    .addColumn('finished_at', 'bigint', (c) => c.notNull())
    .addColumn('added', 'integer', (c) => c.notNull())
    .addColumn('updated', 'integer', (c) => c.notNull())
    .addColumn('unchanged', 'integer', (c) => c.notNull())
    .execute();
}
