/**
 * # maven
 *
 * Java libraries: `META-INF/maven/<groupId>/<artifactId>/pom.properties` as files of the image
 * (exploded wars and application directories, where the archive was unpacked at build time) and
 * inside `.jar`/`.war`/`.ear` archives and the archives they nest (archive.ts, with its bounds).
 * purl: `pkg:maven/<groupId>/<artifactId>@<version>`. The package's path names the chain of
 * archives, `app.war!/WEB-INF/lib/x.jar!/META-INF/maven/g/a/pom.properties`.
 *
 * Not yet: jars without pom.properties (coordinates from MANIFEST.MF alone are guesses).
 *
 * Check it against: the archive's own `META-INF/maven/<groupId>/<artifactId>/pom.properties` (`unzip -p`).
 */
import type { EntryInfo, InstalledPackage, LayerFile, PackageReader, ReadContext } from '../../model.ts';
import { decodeText, purlOf, sortedFiles } from '../common.ts';
import { pomPropertiesInArchive } from './archive.ts';
import { parsePomProperties } from './parse.ts';

export { DEFAULT_ARCHIVE_LIMITS, pomPropertiesInArchive, type ArchiveLimits } from './archive.ts';
export {
  coordinatesFromManifest,
  parseManifest,
  parsePomProperties,
  parseProperties,
  type MavenCoordinates,
} from './parse.ts';

const POM_PROPERTIES = /(^|\/)META-INF\/maven\/[^/]+\/[^/]+\/pom\.properties$/;
const ARCHIVE = /\.(jar|war|ear)$/i;

function isPomProperties(entry: EntryInfo): boolean {
  return POM_PROPERTIES.test(entry.path);
}

function packageOf(file: EntryInfo, text: string, ctx: ReadContext): InstalledPackage | undefined {
  const coordinates = parsePomProperties(text, file, ctx);
  if (!coordinates) return undefined;
  const purl = purlOf(
    { type: 'maven', namespace: coordinates.groupId, name: coordinates.artifactId, version: coordinates.version },
    file,
    1,
    ctx,
  );
  if (!purl) return undefined;
  return {
    ecosystem: 'maven',
    name: `${coordinates.groupId}:${coordinates.artifactId}`,
    version: coordinates.version,
    purl,
    path: file.path,
    layer: file.layer,
  };
}

export const mavenReader: PackageReader = {
  name: 'maven',
  maxBytes: 64 * 1024,
  wants: isPomProperties,
  async read(files: ReadonlyMap<string, LayerFile>, ctx: ReadContext): Promise<InstalledPackage[]> {
    const out: InstalledPackage[] = [];
    for (const file of sortedFiles(files)) {
      if (!isPomProperties(file)) continue;
      const pkg = packageOf(file, decodeText(file.content), ctx);
      if (pkg) out.push(pkg);
    }
    return out;
  },
  streams(entry: EntryInfo): boolean {
    return ARCHIVE.test(entry.path);
  },
  async scan(entry: EntryInfo, body: AsyncIterable<Buffer>, ctx: ReadContext): Promise<InstalledPackage[]> {
    const out: InstalledPackage[] = [];
    for (const found of await pomPropertiesInArchive(entry, body, ctx)) {
      const pkg = packageOf({ ...entry, path: found.path, size: found.content.length }, decodeText(found.content), ctx);
      if (pkg) out.push(pkg);
    }
    return out;
  },
};
