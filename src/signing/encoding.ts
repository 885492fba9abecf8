/**
 * Byte-level helpers shared by the signing modules: strict base64, PEM blocks, the DER shape
 * of an ECDSA signature, key identifiers. Everything here reads untrusted input (registry
 * annotations, bundle fields, key files) and reports problems as values or SluiceErrors,
 * never by throwing something else.
 */
import { createHash, type KeyObject } from 'node:crypto';

const BASE64_ALPHABET = /^[A-Za-z0-9+/]*={0,2}$/;

/**
 * Standard base64 with padding, and nothing else: no whitespace, no URL alphabet, no
 * non-canonical trailing bits. Node's own decoder skips any character it does not know,
 * which would let two different annotation strings decode to the same signature.
 */
export function decodeBase64Strict(text: string): Buffer | undefined {
  if (text.length % 4 !== 0 || !BASE64_ALPHABET.test(text)) return undefined;
  const bytes = Buffer.from(text, 'base64');
  if (bytes.toString('base64') !== text) return undefined;
  return bytes;
}

export interface PemBlock {
  type: string;
  der: Buffer;
  /** RFC 1421 headers (`Proc-Type: 4,ENCRYPTED`): legacy OpenSSL encryption, never produced by cosign. */
  hasHeaders: boolean;
}

const PEM_BLOCK = /-----BEGIN ([A-Z0-9 ]+)-----\r?\n([\s\S]*?)-----END ([A-Z0-9 ]+)-----/g;

/**
 * Every PEM block in `text`, in order. Returns undefined when a block is malformed (BEGIN and
 * END types differ, body not base64), so callers can report the file rather than guess.
 */
export function parsePemBlocks(text: string): PemBlock[] | undefined {
  const blocks: PemBlock[] = [];
  for (const m of text.matchAll(PEM_BLOCK)) {
    const [, type, body, endType] = m;
    if (type === undefined || body === undefined || type !== endType) return undefined;
    const lines = body.split(/\r?\n/);
    const hasHeaders = lines.some((l) => l.includes(':'));
    const b64 = lines
      .filter((l) => !l.includes(':'))
      .join('')
      .replace(/\s+/g, '');
    const der = decodeBase64Strict(b64);
    if (der === undefined) return undefined;
    blocks.push({ type, der, hasHeaders });
  }
  return blocks;
}

/** Go's `pem.EncodeToMemory`: 64-character lines, trailing newline, no headers. */
export function encodePem(type: string, der: Uint8Array): string {
  const b64 = Buffer.from(der).toString('base64');
  const lines = b64.match(/.{1,64}/g) ?? [];
  return `-----BEGIN ${type}-----\n${lines.join('\n')}${lines.length ? '\n' : ''}-----END ${type}-----\n`;
}

/** Hex SHA-256 of the SPKI DER: stable across PEM formatting, printable in reports. */
export function keyIdOf(key: KeyObject): string {
  return createHash('sha256')
    .update(key.export({ type: 'spki', format: 'der' }))
    .digest('hex');
}

/** The `publicKey.hint` cosign writes into Sigstore bundles: base64 SHA-256 of the SPKI DER. */
export function sigstoreKeyHint(key: KeyObject): string {
  return createHash('sha256')
    .update(key.export({ type: 'spki', format: 'der' }))
    .digest('base64');
}

/** Whether a key is an ECDSA key on P-256, the only algorithm Sluice signs and verifies with. */
export function isP256(key: KeyObject): boolean {
  return key.asymmetricKeyType === 'ec' && key.asymmetricKeyDetails?.namedCurve === 'prime256v1';
}

/** ECDSA P-256 integers are at most 32 bytes, plus one leading zero when the top bit is set. */
const MAX_P256_INTEGER = 33;

/**
 * Checks that `sig` is exactly a DER `SEQUENCE { r INTEGER, s INTEGER }` as an ECDSA P-256
 * signature must be: minimal lengths, positive non-zero integers, no trailing bytes. Returns
 * why not, or undefined when well-formed. OpenSSL would reject most of these too, but
 * checking first gives a precise reason and keeps odd encodings away from the library.
 */
export function derSignatureProblem(sig: Uint8Array): string | undefined {
  if (sig.length < 8) return `signature is ${sig.length} bytes, too short for DER ECDSA (at least 8)`;
  if (sig[0] !== 0x30) {
    return sig.length === 64
      ? 'signature is 64 raw bytes (r||s), not ASN.1 DER'
      : `signature does not start with a DER SEQUENCE (first byte 0x${hex(sig[0])})`;
  }
  const declared = sig[1] ?? 0;
  if (declared & 0x80) return 'signature uses a long-form DER length, not minimal for an ECDSA P-256 signature';
  if (declared > sig.length - 2)
    return `DER signature is truncated: SEQUENCE declares ${declared} bytes, ${sig.length - 2} present`;
  if (declared < sig.length - 2)
    return `DER signature has ${sig.length - 2 - declared} trailing bytes after the SEQUENCE`;
  let at = 2;
  for (const name of ['r', 's']) {
    if (sig[at] !== 0x02) return `DER signature: ${name} is not an INTEGER`;
    const len = sig[at + 1] ?? 0;
    if (len === 0 || len & 0x80 || len > MAX_P256_INTEGER) return `DER signature: ${name} has invalid length ${len}`;
    const start = at + 2;
    if (start + len > sig.length) return `DER signature is truncated inside ${name}`;
    const first = sig[start] ?? 0;
    if (first & 0x80) return `DER signature: ${name} is negative`;
    if (len > 1 && first === 0 && !((sig[start + 1] ?? 0) & 0x80))
      return `DER signature: ${name} is not minimally encoded`;
    if (sig.subarray(start, start + len).every((b) => b === 0)) return `DER signature: ${name} is zero`;
    at = start + len;
  }
  if (at !== sig.length) return `DER signature has ${sig.length - at} bytes after s`;
  return undefined;
}

function hex(b: number | undefined): string {
  return (b ?? 0).toString(16).padStart(2, '0');
}
