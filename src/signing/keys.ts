/**
 * Signing keys in cosign's formats. A private key file is a PEM block
 * `ENCRYPTED SIGSTORE PRIVATE KEY` (older cosign: `ENCRYPTED COSIGN PRIVATE KEY`) whose body
 * is go-securesystemslib's `encrypted` envelope: JSON with scrypt parameters and salt, a
 * nacl/secretbox nonce, and the secretbox of a PKCS#8 DER private key. The public key file is
 * an SPKI `PUBLIC KEY` PEM. Sluice writes both byte-compatibly, so `cosign sign --key` and
 * `cosign verify --key` accept keys generated here and the other way round.
 */
import {
  createPrivateKey,
  createPublicKey,
  generateKeyPairSync,
  randomBytes,
  scrypt,
  type KeyObject,
} from 'node:crypto';
import { open, readdir, rm, stat } from 'node:fs/promises';
import path from 'node:path';
import { xsalsa20poly1305 } from '@noble/ciphers/salsa.js';
import { SluiceError } from '../errors.ts';
import { readInputText } from '../files.ts';
import { decodeBase64Strict, encodePem, isP256, keyIdOf, parsePemBlocks } from './encoding.ts';

export const SIGSTORE_PRIVATE_KEY_PEM = 'ENCRYPTED SIGSTORE PRIVATE KEY';
export const COSIGN_PRIVATE_KEY_PEM = 'ENCRYPTED COSIGN PRIVATE KEY';
const ENCRYPTED_TYPES: readonly string[] = [SIGSTORE_PRIVATE_KEY_PEM, COSIGN_PRIVATE_KEY_PEM];
const PLAIN_PRIVATE_TYPES: readonly string[] = ['EC PRIVATE KEY', 'PRIVATE KEY'];

export interface ScryptParams {
  N: number;
  r: number;
  p: number;
}

/**
 * The parameter sets go-securesystemslib accepts ("Legacy", "Standard", "OWASP"). Anything
 * else is refused before deriving: the parameters come from the key file, and a tampered
 * N or p turns one password attempt into minutes of CPU and gigabytes of memory.
 */
export const ALLOWED_SCRYPT_PARAMS: readonly ScryptParams[] = [
  { N: 32768, r: 8, p: 1 },
  { N: 65536, r: 8, p: 1 },
  { N: 131072, r: 8, p: 1 },
];

/**
 * N=32768 (go-securesystemslib's "Legacy" set). cosign since 2.2 writes N=65536 through
 * `encrypted.Encrypt`, but every cosign release reads 32768 while releases before 2.2 (on
 * go-tuf's copy of the package) read nothing else, so this is the most portable choice.
 * `scryptN` selects the stronger sets.
 */
export const DEFAULT_SCRYPT_N = 32768;

const SALT_BYTES = 32;
const NONCE_BYTES = 24;
const KEY_BYTES = 32;
/** N=131072, r=8 needs 128 MiB of scrypt memory; Node's default cap is 32 MiB. */
const SCRYPT_MAXMEM = 256 * 1024 * 1024;
/** Key files are a few hundred bytes; anything near this is not a key. */
const MAX_KEY_FILE_BYTES = 64 * 1024;
const MAX_KEYS_IN_DIRECTORY = 256;

export type Password = string | Uint8Array;

function passwordBytes(password: Password): Buffer {
  return typeof password === 'string' ? Buffer.from(password, 'utf8') : Buffer.from(password);
}

function deriveKey(password: Password, salt: Uint8Array, params: ScryptParams): Promise<Buffer> {
  const pw = passwordBytes(password);
  return new Promise((resolve, reject) => {
    scrypt(pw, salt, KEY_BYTES, { N: params.N, r: params.r, p: params.p, maxmem: SCRYPT_MAXMEM }, (err, key) => {
      pw.fill(0);
      if (err)
        reject(new SluiceError('SIGNING_KEY_KDF_FAILED', 'internal', `scrypt key derivation failed: ${err.message}`));
      else resolve(key);
    });
  });
}

export interface EncryptOptions {
  /** scrypt cost: 32768 (default), 65536 (what cosign ≥ 2.2 writes) or 131072. */
  scryptN?: number;
}

/**
 * go-securesystemslib's `encrypted.Encrypt`: returns the JSON envelope bytes. Field order and
 * encoding follow Go's `json.Marshal` of its structs (`kdf{name,params{N,r,p},salt}`,
 * `cipher{name,nonce}`, `ciphertext`; `[]byte` as standard base64), so the output is the
 * same shape cosign writes.
 */
export async function encryptEnvelope(
  plaintext: Uint8Array,
  password: Password,
  options: EncryptOptions = {},
): Promise<Buffer> {
  const N = options.scryptN ?? DEFAULT_SCRYPT_N;
  const params = ALLOWED_SCRYPT_PARAMS.find((p) => p.N === N);
  if (!params) {
    throw new SluiceError(
      'SIGNING_KEY_KDF_UNSUPPORTED',
      'invalid-input',
      `scrypt N=${N} is not one of 32768, 65536, 131072`,
    );
  }
  const salt = randomBytes(SALT_BYTES);
  const nonce = randomBytes(NONCE_BYTES);
  const key = await deriveKey(password, salt, params);
  try {
    const ciphertext = xsalsa20poly1305(key, nonce).encrypt(plaintext);
    const envelope = {
      kdf: { name: 'scrypt', params: { N: params.N, r: params.r, p: params.p }, salt: salt.toString('base64') },
      cipher: { name: 'nacl/secretbox', nonce: nonce.toString('base64') },
      ciphertext: Buffer.from(ciphertext).toString('base64'),
    };
    return Buffer.from(JSON.stringify(envelope), 'utf8');
  } finally {
    key.fill(0);
  }
}

interface Envelope {
  params: ScryptParams;
  salt: Buffer;
  nonce: Buffer;
  ciphertext: Buffer;
}

function parseEnvelope(json: Uint8Array | string, where: string): Envelope {
  const bad = (why: string) =>
    new SluiceError('SIGNING_KEY_INVALID', 'invalid-input', `${where}: encrypted key envelope ${why}`, {
      location: where,
    });
  let doc: unknown;
  try {
    doc = JSON.parse(typeof json === 'string' ? json : Buffer.from(json).toString('utf8'));
  } catch {
    throw bad('is not valid JSON');
  }
  const obj = asRecord(doc);
  const kdf = asRecord(obj?.kdf);
  const cipher = asRecord(obj?.cipher);
  if (!obj || !kdf || !cipher) throw bad('must have "kdf", "cipher" and "ciphertext"');
  if (kdf.name !== 'scrypt') {
    throw new SluiceError(
      'SIGNING_KEY_KDF_UNSUPPORTED',
      'invalid-input',
      `${where}: key derivation "${String(kdf.name)}" is not supported (scrypt only)`,
      {
        location: where,
      },
    );
  }
  if (cipher.name !== 'nacl/secretbox') {
    throw new SluiceError(
      'SIGNING_KEY_KDF_UNSUPPORTED',
      'invalid-input',
      `${where}: cipher "${String(cipher.name)}" is not supported (nacl/secretbox only)`,
      {
        location: where,
      },
    );
  }
  const p = asRecord(kdf.params);
  const params = ALLOWED_SCRYPT_PARAMS.find((a) => p && a.N === p.N && a.r === p.r && a.p === p.p);
  if (!params) {
    const shown = p ? `N=${String(p.N)}, r=${String(p.r)}, p=${String(p.p)}` : 'missing';
    throw new SluiceError(
      'SIGNING_KEY_KDF_UNSUPPORTED',
      'invalid-input',
      `${where}: scrypt parameters (${shown}) are not allowed; accepted: N=32768, 65536 or 131072 with r=8, p=1`,
      { location: where },
    );
  }
  const salt = typeof kdf.salt === 'string' ? decodeBase64Strict(kdf.salt) : undefined;
  const nonce = typeof cipher.nonce === 'string' ? decodeBase64Strict(cipher.nonce) : undefined;
  const ciphertext = typeof obj.ciphertext === 'string' ? decodeBase64Strict(obj.ciphertext) : undefined;
  if (!salt || salt.length === 0) throw bad('has no valid base64 salt');
  if (!nonce || nonce.length !== NONCE_BYTES) throw bad(`nonce must be ${NONCE_BYTES} bytes of base64`);
  if (!ciphertext || ciphertext.length < 16)
    throw bad('ciphertext is missing or shorter than the 16-byte authenticator');
  return { params, salt, nonce, ciphertext };
}

/**
 * go-securesystemslib's `encrypted.Decrypt`. A failed secretbox open means the password is
 * wrong (or the file was altered; the two cannot be told apart, by design).
 */
export async function decryptEnvelope(
  json: Uint8Array | string,
  password: Password,
  where = 'encrypted key',
): Promise<Buffer> {
  const env = parseEnvelope(json, where);
  const key = await deriveKey(password, env.salt, env.params);
  try {
    return Buffer.from(xsalsa20poly1305(key, env.nonce).decrypt(env.ciphertext));
  } catch {
    throw new SluiceError(
      'SIGNING_KEY_PASSWORD',
      'unauthorized',
      `${where}: incorrect password (or the key file was modified)`,
      {
        location: where,
      },
    );
  } finally {
    key.fill(0);
  }
}

/** A P-256 private key as cosign's encrypted PEM. */
export async function encryptPrivateKey(
  key: KeyObject,
  password: Password,
  options: EncryptOptions = {},
): Promise<string> {
  requireP256Private(key, 'private key');
  const pkcs8 = key.export({ type: 'pkcs8', format: 'der' });
  try {
    return encodePem(SIGSTORE_PRIVATE_KEY_PEM, await encryptEnvelope(pkcs8, password, options));
  } finally {
    pkcs8.fill(0);
  }
}

export interface KeyPair {
  privateKeyPem: string;
  publicKeyPem: string;
  /** Hex SHA-256 of the public key's SPKI DER. */
  keyId: string;
}

/** `cosign generate-key-pair`: a fresh ECDSA P-256 key, encrypted under `password`. */
export async function generateKeyPair(password: Password, options: EncryptOptions = {}): Promise<KeyPair> {
  const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  return {
    privateKeyPem: await encryptPrivateKey(privateKey, password, options),
    publicKeyPem: publicKeyPem(publicKey),
    keyId: keyIdOf(publicKey),
  };
}

export function publicKeyPem(key: KeyObject): string {
  return encodePem('PUBLIC KEY', key.export({ type: 'spki', format: 'der' }));
}

export interface WriteKeyPairOptions extends EncryptOptions {
  /** Path prefix: `<prefix>.key` and `<prefix>.pub` (cosign's `--output-key-prefix`, default `cosign`). */
  prefix?: string;
  /** Replace existing files instead of refusing. */
  overwrite?: boolean;
}

/**
 * Writes `<prefix>.key` (mode 0600) and `<prefix>.pub` (0644) like cosign. Refuses to replace
 * existing files unless `overwrite`: silently replacing a signing key orphans every signature
 * made with it.
 */
export async function writeKeyPair(
  password: Password,
  options: WriteKeyPairOptions = {},
): Promise<{ privateKeyPath: string; publicKeyPath: string; keyId: string }> {
  const prefix = options.prefix ?? 'cosign';
  const privateKeyPath = `${prefix}.key`;
  const publicKeyPath = `${prefix}.pub`;
  if (!options.overwrite) {
    for (const p of [privateKeyPath, publicKeyPath]) {
      if (await exists(p)) {
        throw new SluiceError(
          'SIGNING_KEY_EXISTS',
          'conflict',
          `${p} already exists; choose another prefix or allow overwriting`,
          {
            location: p,
          },
        );
      }
    }
  }
  const pair = await generateKeyPair(password, options);
  const flags = options.overwrite ? 'w' : 'wx';
  await writeFileMode(privateKeyPath, pair.privateKeyPem, 0o600, flags);
  try {
    await writeFileMode(publicKeyPath, pair.publicKeyPem, 0o644, flags);
  } catch (err) {
    await rm(privateKeyPath, { force: true });
    throw err;
  }
  return { privateKeyPath, publicKeyPath, keyId: pair.keyId };
}

async function writeFileMode(file: string, text: string, mode: number, flags: string): Promise<void> {
  let handle;
  try {
    handle = await open(file, flags, mode);
    // The mode given to open only applies when the file is created.
    await handle.chmod(mode);
    await handle.writeFile(text, 'utf8');
  } catch (err) {
    const code = (err as { code?: string }).code;
    if (code === 'EEXIST') {
      throw new SluiceError('SIGNING_KEY_EXISTS', 'conflict', `${file} already exists`, { location: file }, err);
    }
    throw new SluiceError(
      'SIGNING_KEY_WRITE_FAILED',
      'internal',
      `cannot write ${file}: ${code ?? String(err)}`,
      { location: file },
      err,
    );
  } finally {
    await handle?.close();
  }
}

/** Whether a private key PEM needs a password (cosign's encrypted formats). */
export function isEncryptedPrivateKeyPem(pem: string): boolean {
  return parsePemBlocks(pem)?.some((b) => ENCRYPTED_TYPES.includes(b.type)) ?? false;
}

/**
 * A private key from PEM text: cosign's encrypted formats (both headers) with `password`, or
 * a plain `EC PRIVATE KEY` / `PRIVATE KEY` (PKCS#8) as `cosign import-key-pair` reads.
 * `where` names the source in errors (a path, never the content).
 */
export async function importPrivateKeyPem(
  pem: string,
  password: Password | undefined,
  where = 'private key',
): Promise<KeyObject> {
  const blocks = parsePemBlocks(pem);
  if (!blocks) throw invalidKey(where, 'is not well-formed PEM');
  const block = blocks.find((b) => ENCRYPTED_TYPES.includes(b.type) || PLAIN_PRIVATE_TYPES.includes(b.type));
  if (!block) {
    const found = blocks.map((b) => b.type).join(', ') || 'no PEM block';
    throw invalidKey(
      where,
      `holds ${found}; expected ${SIGSTORE_PRIVATE_KEY_PEM}, ${COSIGN_PRIVATE_KEY_PEM}, EC PRIVATE KEY or PRIVATE KEY`,
    );
  }
  if (block.hasHeaders)
    throw invalidKey(where, 'uses legacy OpenSSL PEM encryption headers, which cosign does not support');
  let der: Buffer;
  let format: 'pkcs8' | 'sec1';
  if (ENCRYPTED_TYPES.includes(block.type)) {
    if (password === undefined) {
      throw new SluiceError(
        'SIGNING_PASSWORD_MISSING',
        'invalid-input',
        `${where} is encrypted and no password was given`,
        {
          location: where,
        },
      );
    }
    der = await decryptEnvelope(block.der, password, where);
    format = 'pkcs8';
  } else {
    der = block.der;
    format = block.type === 'EC PRIVATE KEY' ? 'sec1' : 'pkcs8';
  }
  let key: KeyObject;
  try {
    key = createPrivateKey({ key: der, format: 'der', type: format });
  } catch {
    throw invalidKey(where, `does not contain a valid ${format === 'sec1' ? 'SEC 1 EC' : 'PKCS#8'} private key`);
  } finally {
    if (der !== block.der) der.fill(0);
  }
  requireP256Private(key, where);
  return key;
}

/** Reads and decrypts a private key file. */
export async function readPrivateKeyFile(file: string, password: Password | undefined): Promise<KeyObject> {
  return importPrivateKeyPem(await readKeyFile(file), password, file);
}

function requireP256Private(key: KeyObject, where: string): void {
  if (key.type !== 'private' || !isP256(key)) {
    const kind =
      key.asymmetricKeyType === 'ec' ? `EC ${key.asymmetricKeyDetails?.namedCurve ?? '?'}` : key.asymmetricKeyType;
    throw new SluiceError(
      'SIGNING_KEY_UNSUPPORTED',
      'invalid-input',
      `${where} is a ${kind} key; Sluice signs with ECDSA P-256 keys only`,
      {
        location: where,
      },
    );
  }
}

function invalidKey(where: string, why: string): SluiceError {
  return new SluiceError('SIGNING_KEY_INVALID', 'invalid-input', `${where} ${why}`, { location: where });
}

/** The text of a key file, bounded (a key file is a few hundred bytes). */
export async function readKeyFile(file: string): Promise<string> {
  return readInputText(file, {
    what: 'key file',
    limit: MAX_KEY_FILE_BYTES,
    unreadable: (errno) =>
      errno === 'ENOENT'
        ? new SluiceError('SIGNING_KEY_NOT_FOUND', 'not-found', `key file ${file} does not exist`, { location: file })
        : new SluiceError('SIGNING_KEY_UNREADABLE', 'invalid-input', `cannot read key file ${file}: ${errno}`, {
            location: file,
          }),
  });
}

async function exists(p: string): Promise<boolean> {
  try {
    await stat(p);
    return true;
  } catch {
    return false;
  }
}

export interface VerificationKey {
  /** Hex SHA-256 of the SPKI DER. */
  keyId: string;
  key: KeyObject;
  /** Where the key came from (file path or "inline PEM"), for reports. */
  source: string;
}

export interface PublicKeySet {
  readonly keys: readonly VerificationKey[];
}

/** Builds a key set from KeyObjects (public or private: only the public half is kept). */
export function publicKeySet(keys: Iterable<KeyObject>, source = 'inline key'): PublicKeySet {
  const out = new Map<string, VerificationKey>();
  for (const k of keys) {
    const pub = k.type === 'private' ? createPublicKey(k) : k;
    if (!isP256(pub)) {
      throw new SluiceError(
        'PUBLIC_KEY_UNSUPPORTED',
        'invalid-input',
        `${source}: only ECDSA P-256 public keys are supported`,
        { location: source },
      );
    }
    const keyId = keyIdOf(pub);
    if (!out.has(keyId)) out.set(keyId, { keyId, key: pub, source });
  }
  return { keys: [...out.values()] };
}

/** Every `PUBLIC KEY` block of a PEM text; `source` names it in errors. */
export function publicKeysFromPem(pem: string, source = 'inline PEM'): VerificationKey[] {
  const blocks = parsePemBlocks(pem);
  if (!blocks) throw publicKeyError(source, 'is not well-formed PEM');
  if (blocks.length === 0) throw publicKeyError(source, 'contains no PEM block');
  const keys: VerificationKey[] = [];
  for (const block of blocks) {
    if (block.type !== 'PUBLIC KEY') {
      // Never echo the block: a private key pasted here is a secret.
      throw publicKeyError(source, `contains a "${block.type}" block; verification takes PUBLIC KEY (SPKI) PEM only`);
    }
    let key: KeyObject;
    try {
      key = createPublicKey({ key: block.der, format: 'der', type: 'spki' });
    } catch {
      throw publicKeyError(source, 'has a PUBLIC KEY block that is not a valid SPKI key');
    }
    if (!isP256(key)) {
      const kind =
        key.asymmetricKeyType === 'ec' ? `EC ${key.asymmetricKeyDetails?.namedCurve ?? '?'}` : key.asymmetricKeyType;
      throw new SluiceError(
        'PUBLIC_KEY_UNSUPPORTED',
        'invalid-input',
        `${source} holds a ${kind} key; only ECDSA P-256 keys are supported`,
        {
          location: source,
        },
      );
    }
    keys.push({ keyId: keyIdOf(key), key, source });
  }
  return keys;
}

function publicKeyError(source: string, why: string): SluiceError {
  return new SluiceError('PUBLIC_KEY_INVALID', 'invalid-input', `${source} ${why}`, { location: source });
}

/**
 * The verification key set named by `source`: PEM text (starts with `-----BEGIN`), a PEM file
 * (one or more PUBLIC KEY blocks), or a directory whose `*.pub` / `*.pem` files are each read.
 */
export async function loadPublicKeys(source: string): Promise<PublicKeySet> {
  if (source.trimStart().startsWith('-----BEGIN')) return dedupe(publicKeysFromPem(source));
  let info;
  try {
    info = await stat(source);
  } catch (err) {
    const code = (err as { code?: string }).code;
    if (code === 'ENOENT')
      throw new SluiceError('PUBLIC_KEY_NOT_FOUND', 'not-found', `public key ${source} does not exist`, {
        location: source,
      });
    throw publicKeyError(source, `cannot be read: ${code ?? String(err)}`);
  }
  if (info.isFile()) return dedupe(publicKeysFromPem(await readKeyFile(source), source));
  if (!info.isDirectory()) throw publicKeyError(source, 'is neither a file nor a directory');
  const names = (await readdir(source)).filter((n) => n.endsWith('.pub') || n.endsWith('.pem')).sort();
  if (names.length === 0) throw publicKeyError(source, 'contains no *.pub or *.pem files');
  if (names.length > MAX_KEYS_IN_DIRECTORY)
    throw publicKeyError(source, `holds ${names.length} key files; at most ${MAX_KEYS_IN_DIRECTORY}`);
  const keys: VerificationKey[] = [];
  for (const name of names) {
    const file = path.join(source, name);
    keys.push(...publicKeysFromPem(await readKeyFile(file), file));
  }
  return dedupe(keys);
}

function dedupe(keys: VerificationKey[]): PublicKeySet {
  const seen = new Map<string, VerificationKey>();
  for (const k of keys) if (!seen.has(k.keyId)) seen.set(k.keyId, k);
  return { keys: [...seen.values()] };
}

function asRecord(v: unknown): Record<string, unknown> | undefined {
  return v !== null && typeof v === 'object' && !Array.isArray(v) ? (v as Record<string, unknown>) : undefined;
}
