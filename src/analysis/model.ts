/**
 * The contract between the layer walker (which streams each layer once, applies whiteouts and
 * enforces the safety limits) and the package readers (one per ecosystem, identical shape).
 * Readers never see a tar stream or a registry: they get file entries the walker already
 * bounded, so every limit lives in one place.
 */

/** One layer of an image, in manifest order (index 0 is the base). */
export interface LayerRef {
  index: number;
  digest: string;
  mediaType: string;
  /** Compressed size from the manifest. */
  size: number;
}

/** A regular file as the walker met it in a layer. */
export interface EntryInfo {
  /** Relative to the root, '/'-separated, no leading '/' or './', never containing '..'. */
  path: string;
  /** Size declared by the tar header (already checked against the limits). */
  size: number;
  /** Permission bits and setuid/setgid/sticky (`mode & 0o7777`). */
  mode: number;
  layer: LayerRef;
}

/** A file a reader asked to see whole; `content` holds at most the reader's `maxBytes`. */
export interface LayerFile extends EntryInfo {
  content: Buffer;
}

/** Something the analysis could not do or chose not to, said plainly in the result. */
export interface AnalysisNote {
  code: string;
  message: string;
  path?: string;
  layer?: LayerRef;
}

export type PackageEcosystem = 'deb' | 'apk' | 'rpm' | 'pypi' | 'npm' | 'golang' | 'maven';

export interface InstalledPackage {
  ecosystem: PackageEcosystem;
  name: string;
  version: string;
  arch?: string;
  /** The source package (Debian/Ubuntu source, Alpine origin, rpm source rpm) advisories are keyed by. */
  source?: { name: string; version: string };
  licenses?: string[];
  /** Package URL (packageurl-js), qualified with the distribution where the ecosystem has one. */
  purl: string;
  /** The file this package was read from (database, METADATA, package.json, binary, archive). */
  path: string;
  layer: LayerRef;
}

/** `/etc/os-release` (or `/usr/lib/os-release`) of the final file system. */
export interface OsRelease {
  id: string;
  versionId?: string;
  versionCodename?: string;
  prettyName?: string;
  idLike?: string[];
}

export interface ReadContext {
  os?: OsRelease;
  note(note: AnalysisNote): void;
  /** A private temporary directory, removed after the analysis (for databases opened as files). */
  tempDir(): Promise<string>;
}

/**
 * A package reader. Two ways to look at files, both decided on the entry alone:
 * - `wants` + `read`: the walker buffers wanted files (up to `maxBytes`), keeps the version the
 *   final file system holds, and calls `read` once with all of them (a package database spread
 *   over several files, such as dpkg's `status` and `status.d/*`).
 * - `streams` + `scan`: the walker hands over the bytes of each matching file once as they pass
 *   (a Go binary, a jar); results are kept per path and dropped when a later layer deletes or
 *   replaces the file.
 */
export interface PackageReader {
  readonly name: string;
  wants?(entry: EntryInfo): boolean;
  maxBytes?: number;
  read?(files: ReadonlyMap<string, LayerFile>, ctx: ReadContext): Promise<InstalledPackage[]>;
  streams?(entry: EntryInfo): boolean;
  scan?(entry: EntryInfo, body: AsyncIterable<Buffer>, ctx: ReadContext): Promise<InstalledPackage[]>;
}
