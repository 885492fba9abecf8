/**
 * rpm header blobs as rpmdb.sqlite stores them (the `blob` column of `Packages`): the header
 * without its 8-byte magic: index count and data length (big-endian int32), the index entries
 * (tag, type, offset, count: 16 bytes each), then the data store. Layout and limits from rpm's
 * lib/header.c (`hdrblobInit`, `HEADER_TAGS_MAX`, `HEADER_DATA_MAX`).
 */

const HEADER_TAGS_MAX = 0xffff;
const HEADER_DATA_MAX = 0x0fffffff;

const TYPE_INT32 = 4;
const TYPE_STRING = 6;
const TYPE_STRING_ARRAY = 8;
const TYPE_I18NSTRING = 9;

export const TAG = {
  name: 1000,
  version: 1001,
  release: 1002,
  epoch: 1003,
  license: 1014,
  arch: 1022,
  sourceRpm: 1044,
} as const;

export interface RpmHeader {
  name: string;
  version: string;
  release: string;
  epoch?: number;
  arch?: string;
  license?: string;
  sourceRpm?: string;
}

export class RpmHeaderError extends Error {}

function cString(data: Buffer, offset: number): string {
  const end = data.indexOf(0, offset);
  if (end === -1) throw new RpmHeaderError('string runs past the data store');
  return data.toString('utf8', offset, end);
}

/** The tags Sluice needs; throws {@link RpmHeaderError} for a blob that is not a sane header. */
export function parseRpmHeader(blob: Uint8Array): RpmHeader {
  const buf = Buffer.from(blob.buffer, blob.byteOffset, blob.byteLength);
  if (buf.length < 8) throw new RpmHeaderError('blob shorter than a header preamble');
  const il = buf.readUInt32BE(0);
  const dl = buf.readUInt32BE(4);
  if (il < 1 || il > HEADER_TAGS_MAX) throw new RpmHeaderError(`${il} index entries`);
  if (dl > HEADER_DATA_MAX) throw new RpmHeaderError(`${dl} bytes of data`);
  const dataStart = 8 + il * 16;
  if (dataStart + dl > buf.length) throw new RpmHeaderError('index and data run past the blob');
  const data = buf.subarray(dataStart, dataStart + dl);
  const strings = new Map<number, string>();
  const ints = new Map<number, number>();
  const wanted = new Set<number>(Object.values(TAG));
  for (let i = 0; i < il; i++) {
    const at = 8 + i * 16;
    const tag = buf.readUInt32BE(at);
    if (!wanted.has(tag)) continue;
    const type = buf.readUInt32BE(at + 4);
    const offset = buf.readUInt32BE(at + 8);
    const count = buf.readUInt32BE(at + 12);
    if (offset >= dl || count === 0) throw new RpmHeaderError(`tag ${tag} points outside the data store`);
    if (type === TYPE_STRING || type === TYPE_I18NSTRING || type === TYPE_STRING_ARRAY) {
      // For arrays the first string is the one that matters (i18n: the C locale).
      strings.set(tag, cString(data, offset));
    } else if (type === TYPE_INT32) {
      if (offset % 4 !== 0 || offset + 4 > dl) throw new RpmHeaderError(`tag ${tag} is a misaligned int32`);
      ints.set(tag, data.readUInt32BE(offset));
    }
  }
  const name = strings.get(TAG.name);
  const version = strings.get(TAG.version);
  const release = strings.get(TAG.release);
  if (!name || !version || release === undefined) throw new RpmHeaderError('no name, version or release');
  const header: RpmHeader = { name, version, release };
  const epoch = ints.get(TAG.epoch);
  if (epoch !== undefined) header.epoch = epoch;
  const arch = strings.get(TAG.arch);
  if (arch) header.arch = arch;
  const license = strings.get(TAG.license);
  if (license) header.license = license;
  const sourceRpm = strings.get(TAG.sourceRpm);
  if (sourceRpm) header.sourceRpm = sourceRpm;
  return header;
}

/** `bash-5.1.8-9.el9.src.rpm` → name and version-release, as rpm's own parsing splits it. */
export function parseSourceRpm(sourceRpm: string): { name: string; version: string } | undefined {
  const match = /^(.+)-([^-]+)-([^-]+)\.(?:no)?src\.rpm$/.exec(sourceRpm);
  if (!match) return undefined;
  return { name: match[1]!, version: `${match[2]}-${match[3]}` };
}
