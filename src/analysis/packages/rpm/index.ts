/**
 * # rpm
 *
 * Red Hat family packages (RHEL, UBI, Fedora, AlmaLinux, Rocky, Amazon Linux 2023, SUSE) from
 * the SQLite rpm database `var/lib/rpm/rpmdb.sqlite` (or `usr/lib/sysimage/rpm/rpmdb.sqlite`),
 * written to the analysis' private temporary directory and opened read-only with `node:sqlite`.
 * A WAL file beside it is copied too, since committed transactions may still sit there.
 * The Berkeley DB (`Packages`, RHEL ≤ 8, Amazon Linux 2) and NDB (`Packages.db`, SUSE)
 * formats are not read: a note says so.
 * purl: `pkg:rpm/<os id>/<name>@<version>-<release>?arch=..&epoch=..&distro=<id>-<version>`;
 * the source is the source rpm's name and version-release.
 *
 * Check it against: `rpm -qa --dbpath <root>/var/lib/rpm --qf '%{NAME} %{EPOCH}:%{VERSION}-%{RELEASE}\n'`.
 */
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import type { AnalysisNote, EntryInfo, InstalledPackage, LayerFile, PackageReader, ReadContext } from '../../model.ts';
import { distroQualifier, drain, malformed, purlOf } from '../common.ts';
import { RpmHeaderError, parseRpmHeader, parseSourceRpm } from './header.ts';

export { parseRpmHeader, parseSourceRpm, type RpmHeader } from './header.ts';

const DB_DIRS = ['var/lib/rpm/', 'usr/lib/sysimage/rpm/'];
const SQLITE = 'rpmdb.sqlite';
const SQLITE_WAL = 'rpmdb.sqlite-wal';
/** Far above any real image (UBI 9 has ~200 packages, a full Fedora a few thousand). */
const MAX_PACKAGES = 100_000;

function split(entryPath: string): { dir: string; base: string } | undefined {
  for (const dir of DB_DIRS) {
    if (entryPath.startsWith(dir) && !entryPath.slice(dir.length).includes('/')) {
      return { dir, base: entryPath.slice(dir.length) };
    }
  }
  return undefined;
}

function isSqliteDb(entry: EntryInfo): boolean {
  const where = split(entry.path);
  return where !== undefined && (where.base === SQLITE || where.base === SQLITE_WAL);
}

function isUnsupportedDb(entry: EntryInfo): boolean {
  const where = split(entry.path);
  return where !== undefined && (where.base === 'Packages' || where.base === 'Packages.db');
}

/** rpmdb has no lines: the package's row (`hnum`, what `rpm -q --qf '%{DBINSTANCE}'` shows) is the place to look. */
function badRow(db: LayerFile, hnum: unknown, what: string): AnalysisNote {
  return {
    code: 'PACKAGE_RECORD_MALFORMED',
    message: `${db.path}: package row ${String(hnum)}: ${what}`,
    path: db.path,
    layer: db.layer,
  };
}

async function readDatabase(db: LayerFile, wal: LayerFile | undefined, ctx: ReadContext): Promise<InstalledPackage[]> {
  const { DatabaseSync } = await import('node:sqlite');
  const dir = await ctx.tempDir();
  const file = path.join(dir, `rpmdb-${process.hrtime.bigint()}.sqlite`);
  await writeFile(file, db.content, { mode: 0o600 });
  if (wal) await writeFile(`${file}-wal`, wal.content, { mode: 0o600 });
  let database: InstanceType<typeof DatabaseSync>;
  try {
    // Not read-only when a WAL is present: SQLite must create the shared-memory index to read it.
    database = new DatabaseSync(file, { readOnly: !wal });
  } catch (err) {
    ctx.note(malformed(db, 1, `not an SQLite database: ${(err as Error).message}`));
    return [];
  }
  const out: InstalledPackage[] = [];
  try {
    // A hostile database must not run code through its schema (views, triggers, functions) nor
    // corrupt memory through deliberately inconsistent pages (SQLite's defensive mode).
    database.enableDefensive(true);
    database.exec('PRAGMA trusted_schema = OFF');
    const rows = database.prepare(`SELECT hnum, blob FROM Packages ORDER BY hnum LIMIT ${MAX_PACKAGES + 1}`).iterate();
    for (const row of rows) {
      if (out.length >= MAX_PACKAGES) {
        ctx.note(malformed(db, 1, `more than ${MAX_PACKAGES} packages; the rest is not read`));
        break;
      }
      const { hnum, blob } = row as { hnum: unknown; blob: unknown };
      if (!(blob instanceof Uint8Array)) {
        ctx.note(badRow(db, hnum, 'no header blob'));
        continue;
      }
      let header;
      try {
        header = parseRpmHeader(blob);
      } catch (err) {
        if (!(err instanceof RpmHeaderError)) throw err;
        ctx.note(badRow(db, hnum, `rpm header: ${err.message}`));
        continue;
      }
      const version = `${header.version}-${header.release}`;
      const purl = purlOf(
        {
          type: 'rpm',
          namespace: ctx.os?.id,
          name: header.name,
          version,
          qualifiers: {
            arch: header.arch,
            epoch: header.epoch ? String(header.epoch) : undefined,
            distro: distroQualifier(ctx.os),
          },
        },
        db,
        Number(hnum),
        ctx,
      );
      if (!purl) continue;
      const pkg: InstalledPackage = {
        ecosystem: 'rpm',
        name: header.name,
        version: header.epoch ? `${header.epoch}:${version}` : version,
        purl,
        path: db.path,
        layer: db.layer,
      };
      if (header.arch) pkg.arch = header.arch;
      if (header.license) pkg.licenses = [header.license];
      const source = header.sourceRpm ? parseSourceRpm(header.sourceRpm) : undefined;
      if (source) pkg.source = source;
      out.push(pkg);
    }
  } catch (err) {
    ctx.note(malformed(db, 1, `rpm database not readable: ${(err as Error).message}`));
  } finally {
    database.close();
  }
  return out;
}

export const rpmReader: PackageReader = {
  name: 'rpm',
  // UBI 9's rpmdb.sqlite is ~6 MB, a Fedora workstation ~60 MB; memory bounds the rest.
  maxBytes: 64 * 1024 * 1024,
  wants: isSqliteDb,
  async read(files: ReadonlyMap<string, LayerFile>, ctx: ReadContext): Promise<InstalledPackage[]> {
    const out: InstalledPackage[] = [];
    for (const dir of DB_DIRS) {
      const db = files.get(`${dir}${SQLITE}`);
      if (db) out.push(...(await readDatabase(db, files.get(`${dir}${SQLITE_WAL}`), ctx)));
    }
    return out;
  },
  streams: isUnsupportedDb,
  async scan(entry: EntryInfo, body: AsyncIterable<Buffer>, ctx: ReadContext): Promise<InstalledPackage[]> {
    await drain(body[Symbol.asyncIterator]());
    const format = entry.path.endsWith('.db') ? 'NDB' : 'Berkeley DB';
    ctx.note({
      code: 'RPMDB_UNSUPPORTED',
      message: `${entry.path}: an rpm database in the ${format} format, which Sluice does not read; its packages are not reported`,
      path: entry.path,
      layer: entry.layer,
    });
    return [];
  },
};
