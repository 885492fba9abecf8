/**
 * # os-release
 *
 * Reads `etc/os-release`, falling back to `usr/lib/os-release` (os-release(5): the first is
 * usually a symlink to the second, and the walker never follows symlinks). The result goes into
 * `ReadContext.os`, which the OS package readers use for the purl `distro` qualifier and the
 * namespace (`debian`, `ubuntu`, `alpine`, `rhel`...). Not a package reader: it yields facts,
 * not packages, but has the same `wants`/`maxBytes` shape so the walker buffers it the same way.
 */
import type { EntryInfo, LayerFile, OsRelease, ReadContext } from '../../model.ts';
import { decodeText, malformed } from '../common.ts';
import { osReleaseOf, parseOsReleaseFields } from './parse.ts';

export { osReleaseOf, parseOsReleaseFields } from './parse.ts';

const PATHS = ['etc/os-release', 'usr/lib/os-release'];

export const osReleaseReader = {
  name: 'os-release',
  maxBytes: 64 * 1024,
  wants(entry: EntryInfo): boolean {
    return PATHS.includes(entry.path);
  },
  read(files: ReadonlyMap<string, LayerFile>, ctx: Pick<ReadContext, 'note'>): OsRelease | undefined {
    for (const path of PATHS) {
      const file = files.get(path);
      if (!file) continue;
      const { fields, problems } = parseOsReleaseFields(decodeText(file.content));
      for (const problem of problems) ctx.note(malformed(file, problem.line, problem.message));
      const os = osReleaseOf(fields);
      if (os) return os;
      ctx.note(malformed(file, 1, 'no ID= line, so the distribution is unknown'));
    }
    return undefined;
  },
};
