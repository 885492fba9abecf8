/**
 * Go module build information as `go build` embeds it (Go 1.18 and later): a 32-byte header
 * starting with the magic `\xff Go buildinf:`, then the Go version and the module information as
 * two uvarint-length-prefixed strings. The layout is the one `debug/buildinfo` reads
 * (src/debug/buildinfo/buildinfo.go in the Go tree); older binaries keep pointers into the data
 * segment instead, which a single streamed pass cannot follow.
 */

export const BUILDINFO_MAGIC = Buffer.from('\xff Go buildinf:', 'latin1');
const HEADER_SIZE = 32;
const FLAGS_VERSION_INLINE = 0x2;
/** Module info of a big binary (kubectl, hundreds of modules) is tens of KB; 1 MiB is ample. */
export const MAX_BUILDINFO_BYTES = 1024 * 1024;

export type BuildInfoBytes =
  | { kind: 'inline'; goVersion: string; modinfo: string }
  | { kind: 'old-format' }
  | { kind: 'incomplete' }
  | { kind: 'malformed'; reason: string };

function uvarint(buf: Buffer, offset: number): { value: number; next: number } | undefined {
  let value = 0;
  let shift = 0;
  for (let i = offset; i < buf.length && i < offset + 5; i++) {
    const byte = buf[i]!;
    value += (byte & 0x7f) * 2 ** shift;
    if (byte < 0x80) return { value, next: i + 1 };
    shift += 7;
  }
  return undefined;
}

/** Decodes the bytes from the magic on; `incomplete` means more bytes are needed. */
export function decodeBuildInfo(buf: Buffer): BuildInfoBytes {
  if (buf.length < HEADER_SIZE) return { kind: 'incomplete' };
  const flags = buf[15]!;
  if ((flags & FLAGS_VERSION_INLINE) === 0) return { kind: 'old-format' };
  const strings: string[] = [];
  let offset = HEADER_SIZE;
  for (let i = 0; i < 2; i++) {
    const length = uvarint(buf, offset);
    if (!length) return buf.length - offset >= 5 ? { kind: 'malformed', reason: 'bad length' } : { kind: 'incomplete' };
    if (length.value > MAX_BUILDINFO_BYTES) return { kind: 'malformed', reason: `a ${length.value}-byte string` };
    if (buf.length < length.next + length.value) return { kind: 'incomplete' };
    strings.push(buf.toString('utf8', length.next, length.next + length.value));
    offset = length.next + length.value;
  }
  return { kind: 'inline', goVersion: strings[0]!, modinfo: strings[1]! };
}

export interface GoModule {
  path: string;
  version: string;
  sum?: string;
}

export interface GoBuildInfo {
  goVersion: string;
  /** The `path` line: the main package. */
  path?: string;
  main?: GoModule;
  deps: GoModule[];
}

/**
 * The module lines as `go version -m` prints them: `path`, `mod`, `dep`, `=>` (replaces the
 * module on the line before), `build`. The text is framed by 16-byte sentinels.
 */
export function parseModinfo(goVersion: string, modinfo: string): GoBuildInfo {
  let text = modinfo;
  if (text.length >= 33 && text[text.length - 17] === '\n') text = text.slice(16, -16);
  const info: GoBuildInfo = { goVersion, deps: [] };
  let last: GoModule | undefined;
  for (const line of text.split('\n')) {
    const [kind, path, version, sum] = line.split('\t');
    if (!kind || !path) continue;
    if (kind === 'path') info.path = path;
    else if (kind === 'mod' || kind === 'dep') {
      const mod: GoModule = { path, version: version ?? '' };
      if (sum) mod.sum = sum;
      if (kind === 'mod') info.main = mod;
      else info.deps.push(mod);
      last = mod;
    } else if (kind === '=>' && last) {
      // The replacement is what is compiled in; a local directory replacement has no version.
      last.path = path;
      last.version = version ?? '';
      if (sum) last.sum = sum;
      else delete last.sum;
      last = undefined;
    }
  }
  return info;
}

/** `go1.22.5` (maybe with ` X:boringcrypto`) as the semver OSV's Go `stdlib` package uses. */
export function stdlibVersion(goVersion: string): string | undefined {
  const match = /^go(\d+)\.(\d+)(?:\.(\d+))?/.exec(goVersion);
  if (!match) return undefined;
  return `v${match[1]}.${match[2]}.${match[3] ?? '0'}`;
}
