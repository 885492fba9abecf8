/**
 * The audit hook of the signing capability. Signing and verification report every signature
 * created and every verification made through it; the caller decides where entries go (the
 * hash-chained audit log in src/audit, in the server and the promotion engine).
 */

export interface SigningAuditEntry {
  /** `signature`: a signature was created (or creating one failed); `signature.verify`: an image was verified. */
  action: 'signature' | 'signature.verify';
  /** `registry/repository`. */
  repository: string;
  digest: string;
  /** The tag the user named, when there was one (the digest is what was acted on). */
  tag?: string;
  result: 'success' | 'failure';
  /** One sentence: what happened or why not. Never holds key material or passwords. */
  reason: string;
  /**
   * Field names avoid "key", "token" and the like: the audit log redacts values under such
   * names. Key identifiers (public) appear as `fingerprint` / `trusted`, the key reference as `signer`.
   */
  details: Record<string, unknown>;
}

export type SigningAudit = (entry: SigningAuditEntry) => Promise<void>;
