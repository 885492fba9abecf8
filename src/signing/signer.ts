/**
 * Signers: something that holds (or reaches) an ECDSA P-256 private key and signs payload
 * bytes. Both kinds produce what cosign puts in `dev.cosignproject.cosign/signature`: ASN.1 DER
 * ECDSA over SHA-256 of the exact payload bytes.
 */
import { createPublicKey, sign as cryptoSign, type KeyObject } from 'node:crypto';
import { SluiceError } from '../errors.ts';
import { isEncryptedPrivateKeyPem, importPrivateKeyPem, readKeyFile, type Password } from './keys.ts';
import { buildPayload, type PayloadInput } from './payload.ts';
import { resolveSigningPassword, type PasswordOptions } from './password.ts';
import { VaultTransitSigner, parseVaultKeyRef, vaultOptionsFromEnv, type VaultOptions } from './vault.ts';

export { VaultTransitSigner, parseVaultKeyRef, vaultOptionsFromEnv } from './vault.ts';
export type { VaultKeyRef, VaultKubernetesAuth, VaultOptions } from './vault.ts';
export { resolveSigningPassword, PASSWORD_ENV_VARS } from './password.ts';
export type { PasswordOptions, PromptInput } from './password.ts';

export interface Signer {
  /** What the user named: a file path or `vault://<mount>/keys/<name>`. */
  readonly keyRef: string;
  publicKey(): Promise<KeyObject>;
  /** ASN.1 DER ECDSA over SHA-256 of `payload`. */
  sign(payload: Uint8Array): Promise<Buffer>;
}

/** A Signer over a private key held in memory (decrypted from a cosign key file). */
export class FileSigner implements Signer {
  readonly keyRef: string;
  private readonly key: KeyObject;
  private readonly pub: KeyObject;

  constructor(keyRef: string, privateKey: KeyObject) {
    if (privateKey.type !== 'private') {
      throw new SluiceError('SIGNING_KEY_INVALID', 'invalid-input', `${keyRef} is not a private key`, {
        location: keyRef,
      });
    }
    this.keyRef = keyRef;
    this.key = privateKey;
    this.pub = createPublicKey(privateKey);
  }

  /** Reads a cosign key file (encrypted or plain PEM); `password` is needed for encrypted ones. */
  static async fromFile(file: string, password: Password | undefined): Promise<FileSigner> {
    const pem = await readKeyFile(file);
    return new FileSigner(file, await importPrivateKeyPem(pem, password, file));
  }

  static async fromPem(pem: string, password: Password | undefined, keyRef = 'inline key'): Promise<FileSigner> {
    return new FileSigner(keyRef, await importPrivateKeyPem(pem, password, keyRef));
  }

  async publicKey(): Promise<KeyObject> {
    return this.pub;
  }

  async sign(payload: Uint8Array): Promise<Buffer> {
    return cryptoSign('sha256', payload, { key: this.key, dsaEncoding: 'der' });
  }
}

export interface KeyRefOptions {
  env?: Record<string, string | undefined>;
  /** The password for encrypted key files; resolved from env or a prompt when absent. */
  password?: Password | (() => Promise<Password>);
  /** Passed to `resolveSigningPassword` when no password is given. */
  passwordOptions?: PasswordOptions;
  /** Vault settings; default from `env`. */
  vault?: VaultOptions;
}

const OTHER_KMS = /^(awskms|gcpkms|azurekms|k8s|pkcs11|gitlab):/;

/**
 * The Signer a `--key` value names: `vault://<mount>/keys/<name>` (or cosign's
 * `hashivault://<name>`) for Vault transit, anything else a private key file path.
 */
export async function parseKeyRef(ref: string, options: KeyRefOptions = {}): Promise<Signer> {
  const env = options.env ?? process.env;
  if (ref.startsWith('vault://') || ref.startsWith('hashivault://')) {
    const vault = { ...(options.vault ?? vaultOptionsFromEnv(env)) };
    return new VaultTransitSigner(parseVaultKeyRef(ref, env), vault);
  }
  if (OTHER_KMS.test(ref)) {
    throw new SluiceError(
      'SIGNING_KEY_REF_UNSUPPORTED',
      'invalid-input',
      `key reference "${ref}" uses a KMS Sluice does not support; use a cosign key file or vault://<mount>/keys/<name>`,
      { reference: ref },
    );
  }
  const file = ref.startsWith('file://') ? ref.slice('file://'.length) : ref;
  const pem = await readKeyFile(file);
  let password: Password | undefined;
  if (isEncryptedPrivateKeyPem(pem)) {
    const given = options.password;
    password =
      typeof given === 'function'
        ? await given()
        : (given ?? (await resolveSigningPassword({ env, ...options.passwordOptions })));
  }
  return new FileSigner(file, await importPrivateKeyPem(pem, password, file));
}

export interface SignedPayload {
  /** The payload bytes: the layer blob of cosign's `.sig` manifest. */
  payload: Buffer;
  /** DER signature. */
  signature: Buffer;
  /** Standard base64 of `signature`: the `dev.cosignproject.cosign/signature` annotation. */
  signatureB64: string;
}

/** Builds cosign's simple-signing payload for a digest and signs it. */
export async function signImageDigest(signer: Signer, input: PayloadInput): Promise<SignedPayload> {
  const payload = buildPayload(input);
  const signature = await signer.sign(payload);
  return { payload, signature, signatureB64: signature.toString('base64') };
}
