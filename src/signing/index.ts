/** The signing capability: keys, signers, signing and verifying images in a registry. */
export { signImage } from './sign.ts';
export type { SignImageOptions, SignResult } from './sign.ts';
export { verifyImage, summarize } from './verify-image.ts';
export type {
  RejectedSignature,
  RejectionCode,
  SignatureLayout,
  ValidSignature,
  VerifyImageOptions,
  VerifyImageResult,
} from './verify-image.ts';
export type { SigningAudit, SigningAuditEntry } from './audit.ts';
export {
  appendSignatureLayers,
  dockerReferenceOf,
  pushSignatureReferrer,
  readSignatureManifest,
  resolveImage,
  signatureLayer,
  SIGNATURE_ANNOTATION,
} from './store.ts';
export type { AppendOptions, AppendResult, ReferrerResult, ResolvedImage } from './store.ts';
export { FileSigner, parseKeyRef, signImageDigest } from './signer.ts';
export type { KeyRefOptions, Signer } from './signer.ts';
export { loadPublicKeys, publicKeySet, writeKeyPair, generateKeyPair } from './keys.ts';
export type { PublicKeySet, VerificationKey } from './keys.ts';
export { resolveSigningPassword, PASSWORD_ENV_VARS } from './password.ts';
