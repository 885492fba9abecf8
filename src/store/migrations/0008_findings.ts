/**
 * Vulnerability findings: the scans recorded per digest, one row per finding kept across
 * scanners and rescans, and waivers (explicit, expiring exceptions). Owned by src/findings/.
 */
import type { Kysely } from 'kysely';

// eslint-disable-next-line @typescript-eslint/no-explicit-any
export async function up(db: Kysely<any>): Promise<void> {
  await db.schema
    .createTable('scans')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('digest', 'text', (c) => c.notNull())
    .addColumn('scanner', 'text', (c) => c.notNull())
    .addColumn('format', 'text', (c) => c.notNull())
    .addColumn('started_at', 'bigint', (c) => c.notNull())
    .addColumn('finished_at', 'bigint')
    // ok | failed
    .addColumn('status', 'text', (c) => c.notNull())
    .addColumn('error', 'text')
    .addColumn('finding_count', 'integer', (c) => c.notNull())
    // sha256 of the report's bytes: an identical re-import is recognised without reading it again.
    .addColumn('report_digest', 'text')
    .addColumn('actor', 'text', (c) => c.notNull())
    .execute();
  await db.schema.createIndex('scans_digest_idx').on('scans').columns(['digest', 'started_at']).execute();

  await db.schema
    .createTable('findings')
    .addColumn('digest', 'text', (c) => c.notNull())
    .addColumn('vuln_id', 'text', (c) => c.notNull())
    .addColumn('package_name', 'text', (c) => c.notNull())
    .addColumn('package_version', 'text', (c) => c.notNull())
    // JSON array of other ids of the same vulnerability.
    .addColumn('aliases', 'text', (c) => c.notNull())
    .addColumn('ecosystem', 'text')
    .addColumn('purl', 'text')
    .addColumn('fixed_version', 'text')
    .addColumn('severity', 'text', (c) => c.notNull())
    .addColumn('cvss_vector', 'text')
    // Tenths of a point: every numeric column is an integer on both engines.
    .addColumn('cvss_score_tenths', 'integer')
    // JSON array of the scanners that reported it, sorted.
    .addColumn('scanners', 'text', (c) => c.notNull())
    .addColumn('detail', 'text')
    .addColumn('first_seen', 'bigint', (c) => c.notNull())
    .addColumn('last_seen', 'bigint', (c) => c.notNull())
    // open | fixed | waived | not-affected
    .addColumn('state', 'text', (c) => c.notNull())
    .addColumn('due_at', 'bigint', (c) => c.notNull())
    .addColumn('resolved_at', 'bigint')
    // Which notification was last sent for it (`found`, `due-soon`, `breached`), so each goes once.
    .addColumn('notified', 'text')
    .addPrimaryKeyConstraint('findings_pk', ['digest', 'vuln_id', 'package_name', 'package_version'])
    .execute();
  // `findings ls --overdue` / `--due-within`: open findings by due date, never a table scan.
  await db.schema.createIndex('findings_due_idx').on('findings').columns(['state', 'due_at']).execute();
  await db.schema
    .createIndex('findings_severity_idx')
    .on('findings')
    .columns(['severity', 'state', 'due_at'])
    .execute();
  await db.schema.createIndex('findings_vuln_idx').on('findings').columns(['vuln_id']).execute();

  await db.schema
    .createTable('waivers')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('vuln_id', 'text', (c) => c.notNull())
    .addColumn('package_name', 'text')
    // Scope: one image digest, or a team's repository (`team/repo`), or (neither) every image of the team.
    .addColumn('digest', 'text')
    .addColumn('repository', 'text')
    .addColumn('team', 'text', (c) => c.notNull())
    .addColumn('reason', 'text', (c) => c.notNull())
    .addColumn('created_by', 'text', (c) => c.notNull())
    .addColumn('created_at', 'bigint', (c) => c.notNull())
    .addColumn('expires_at', 'bigint', (c) => c.notNull())
    .addColumn('revoked_at', 'bigint')
    .addColumn('revoked_by', 'text')
    .execute();
  await db.schema.createIndex('waivers_vuln_idx').on('waivers').columns(['vuln_id', 'expires_at']).execute();
}
