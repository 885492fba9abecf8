import type { EntryInfo, ReadContext } from '../../model.ts';
import { malformed } from '../common.ts';

export interface MavenCoordinates {
  groupId: string;
  artifactId: string;
  version: string;
}

/**
 * Java properties as Maven writes pom.properties: `key=value` or `key: value`, `#`/`!` comments.
 * Escapes other than a trailing backslash never occur in coordinates, so they are kept as written.
 */
export function parseProperties(text: string): Map<string, string> {
  const out = new Map<string, string>();
  const lines = text.split(/\r?\n/);
  for (let i = 0; i < lines.length && i < 10_000; i++) {
    const line = (lines[i] ?? '').trim();
    if (line === '' || line.startsWith('#') || line.startsWith('!')) continue;
    const match = /^([^=:\s]+)\s*[=:\s]\s*(.*)$/.exec(line);
    if (match) out.set(match[1]!, match[2]!);
  }
  return out;
}

export function parsePomProperties(text: string, entry: EntryInfo, ctx: ReadContext): MavenCoordinates | undefined {
  const props = parseProperties(text);
  const groupId = props.get('groupId');
  const artifactId = props.get('artifactId');
  const version = props.get('version');
  if (!groupId || !artifactId || !version) {
    ctx.note(malformed(entry, 1, 'pom.properties without groupId, artifactId and version'));
    return undefined;
  }
  return { groupId, artifactId, version };
}

/**
 * A JAR manifest's main section (the JAR File Specification: 72-byte lines, continuation
 * lines start with one space, the main section ends at the first blank line).
 */
export function parseManifest(text: string): Map<string, string> {
  const out = new Map<string, string>();
  let last: string | undefined;
  const lines = text.split(/\r?\n/);
  for (let i = 0; i < lines.length && i < 10_000; i++) {
    const line = lines[i] ?? '';
    if (line === '') break;
    if (line.startsWith(' ')) {
      if (last) out.set(last, `${out.get(last) ?? ''}${line.slice(1)}`);
      continue;
    }
    const colon = line.indexOf(': ');
    if (colon <= 0) continue;
    last = line.slice(0, colon);
    out.set(last, line.slice(colon + 2));
  }
  return out;
}

/**
 * Coordinates from a manifest when a jar has no pom.properties (OSGi bundles and many Debian
 * jars): the bundle's symbolic name is usually `groupId.artifactId`, which cannot be split
 * reliably, so the group is left to what `Implementation-Vendor-Id` says.
 */
export function coordinatesFromManifest(manifest: ReadonlyMap<string, string>): MavenCoordinates | undefined {
  const groupId =
    manifest.get('Implementation-Vendor-Id') ?? manifest.get('Automatic-Module-Name')?.replace(/\.[^.]+$/, '');
  const artifactId = manifest.get('Implementation-Title')?.trim();
  const version = manifest.get('Implementation-Version') ?? manifest.get('Bundle-Version');
  if (!groupId || !artifactId || !version || /\s/.test(artifactId)) return undefined;
  return { groupId, artifactId, version };
}
