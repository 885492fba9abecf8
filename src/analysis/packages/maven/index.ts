/**
 * # maven
 *
 * Java libraries. Today: `META-INF/maven/<groupId>/<artifactId>/pom.properties` as files of the
 * image (exploded wars and application directories, where the archive was unpacked at build
 * time). purl: `pkg:maven/<groupId>/<artifactId>@<version>`.
 *
 * Not yet: the same files inside `.jar`/`.war`/`.ear` archives and nested archives, which need a
 * zip reader (a well-kept library such as yauzl; none is a dependency yet). Each archive met is
 * reported in a note, so the blind spot is visible in the result.
 *
 * Check it against: the archive's own `META-INF/maven/<groupId>/<artifactId>/pom.properties` (`unzip -p`).
 */
import type { EntryInfo, InstalledPackage, LayerFile, PackageReader, ReadContext } from '../../model.ts';
import { decodeText, drain, purlOf, sortedFiles } from '../common.ts';
import { parsePomProperties } from './parse.ts';

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

export const mavenReader: PackageReader = {
  name: 'maven',
  maxBytes: 64 * 1024,
  wants: isPomProperties,
  async read(files: ReadonlyMap<string, LayerFile>, ctx: ReadContext): Promise<InstalledPackage[]> {
    const out: InstalledPackage[] = [];
    for (const file of sortedFiles(files)) {
      if (!isPomProperties(file)) continue;
      const coordinates = parsePomProperties(decodeText(file.content), file, ctx);
      if (!coordinates) continue;
      const purl = purlOf(
        { type: 'maven', namespace: coordinates.groupId, name: coordinates.artifactId, version: coordinates.version },
        file,
        1,
        ctx,
      );
      if (!purl) continue;
      out.push({
        ecosystem: 'maven',
        name: `${coordinates.groupId}:${coordinates.artifactId}`,
        version: coordinates.version,
        purl,
        path: file.path,
        layer: file.layer,
      });
    }
    return out;
  },
  streams(entry: EntryInfo): boolean {
    return ARCHIVE.test(entry.path);
  },
  async scan(entry: EntryInfo, body: AsyncIterable<Buffer>, ctx: ReadContext): Promise<InstalledPackage[]> {
    await drain(body[Symbol.asyncIterator]());
    ctx.note({
      code: 'JAVA_ARCHIVE_UNREAD',
      message: `${entry.path}: Java archives are not opened yet; the libraries inside it are not reported`,
      path: entry.path,
      layer: entry.layer,
    });
    return [];
  },
};
