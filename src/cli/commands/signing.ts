/** Signing commands: keygen, sign, verify. Each parses, calls src/signing, renders. */
import type { Command } from 'commander';
import { SluiceError } from '../../errors.ts';
import { parseReference } from '../../oci/reference.ts';
import { loadPublicKeys, publicKeySet, writeKeyPair, type PublicKeySet } from '../../signing/keys.ts';
import { resolveSigningPassword } from '../../signing/password.ts';
import { signImage } from '../../signing/sign.ts';
import { parseKeyRef } from '../../signing/signer.ts';
import { summarize, verifyImage, type VerifyImageResult } from '../../signing/verify-image.ts';
import type { CliContext, GlobalOptions } from '../context.ts';
import { cliActor } from '../../auth/actor.ts';
import { signingAudit } from '../../promotion/hooks.ts';
import type { SigningAudit } from '../../signing/audit.ts';
import { emit, shortDigest } from '../output.ts';

function collect(value: string, previous: string[]): string[] {
  return [...previous, value];
}

/** `-a key=value` flags into a map; a key given twice is a mistake, not a silent override. */
export function parseAnnotationFlags(values: readonly string[]): Record<string, string> | undefined {
  if (values.length === 0) return undefined;
  const out: Record<string, string> = {};
  for (const v of values) {
    const eq = v.indexOf('=');
    if (eq <= 0) throw new SluiceError('USAGE', 'usage', `annotation "${v}" must be key=value`);
    const key = v.slice(0, eq);
    if (Object.hasOwn(out, key)) throw new SluiceError('USAGE', 'usage', `annotation "${key}" is given more than once`);
    Object.defineProperty(out, key, { value: v.slice(eq + 1), enumerable: true, writable: true, configurable: true });
  }
  return out;
}

const isVaultRef = (ref: string) => ref.startsWith('vault://') || ref.startsWith('hashivault://');

async function verificationKeys(ref: string, env: NodeJS.ProcessEnv): Promise<PublicKeySet> {
  if (isVaultRef(ref)) {
    const signer = await parseKeyRef(ref, { env });
    return publicKeySet([await signer.publicKey()], signer.keyRef);
  }
  return loadPublicKeys(ref);
}

interface SignCliOptions {
  key: string;
  annotation: string[];
  recursive?: boolean;
  referrer?: boolean;
}

interface VerifyCliOptions {
  key: string;
  annotation: string[];
  insecureIgnoreTlog?: boolean;
}

export function registerSigningCommands(program: Command, ctx: CliContext): void {
  program
    .command('keygen')
    .description(
      'generate an ECDSA P-256 key pair as cosign does: <prefix>.key (encrypted with a password from SLUICE_SIGNING_PASSWORD, COSIGN_PASSWORD or a prompt) and <prefix>.pub',
    )
    .option('--output-key-prefix <prefix>', 'path prefix of the two files', 'cosign')
    .option('--force', 'replace existing key files')
    .action(async (opts: { outputKeyPrefix: string; force?: boolean }, cmd: Command) => {
      const g = ctx.globals(cmd);
      const password = await resolveSigningPassword({ env: ctx.env, confirm: true });
      const r = await writeKeyPair(password, { prefix: opts.outputKeyPrefix, overwrite: !!opts.force });
      emit(ctx.w, g.output, r, {
        text: () =>
          `Private key written to ${r.privateKeyPath}\nPublic key written to ${r.publicKeyPath}\nKey ID: ${r.keyId}\n`,
      });
    });

  program
    .command('sign')
    .description('sign the digest an image reference resolves to (cosign format, appended to sha256-<hex>.sig)')
    .argument('<ref>', 'image reference (registry/repo:tag or @digest)')
    .requiredOption('--key <keyref>', 'cosign private key file, or vault://<mount>/keys/<name> (Vault transit)')
    .option('-a, --annotation <key=value>', 'annotation to include in the signed payload (repeatable)', collect, [])
    .option('--recursive', 'for a multi-platform index, also sign every platform manifest')
    .option('--referrer', 'also push each signature as an OCI referrer of the signed manifest')
    .action(async (refText: string, opts: SignCliOptions, cmd: Command) => {
      const g = ctx.globals(cmd);
      const ref = parseReference(refText);
      const annotations = parseAnnotationFlags(opts.annotation);
      const signer = await parseKeyRef(opts.key, { env: ctx.env });
      const audit = await auditTo(ctx, g);
      const results = await signImage(await ctx.pool(g), ref, signer, {
        ...(audit ? { audit } : {}),
        ...(annotations ? { annotations } : {}),
        recursive: !!opts.recursive,
        referrer: !!opts.referrer,
      });
      emit(ctx.w, g.output, results, {
        rows: results,
        columns: [
          { header: 'DIGEST', value: (r) => (g.output === 'wide' ? r.digest : shortDigest(r.digest)) },
          { header: 'KEY', value: (r) => r.keyId.slice(0, 16) },
          { header: 'SIGNATURES', value: (r) => r.signatures },
          {
            header: 'STORED',
            value: (r) => `${r.signatureTag}${r.referrer ? ` + referrer ${shortDigest(r.referrer.digest)}` : ''}`,
          },
          { header: 'PAYLOAD DIGEST', value: (r) => r.payloadDigest, wide: true },
        ],
        name: (r) => r.reference,
      });
    });

  program
    .command('verify')
    .description(
      'verify the signatures of the digest an image reference resolves to; exit 1 unless one verifies with the given key(s)',
    )
    .argument('<ref>', 'image reference (registry/repo:tag or @digest)')
    .requiredOption(
      '--key <key>',
      'public key PEM file, a directory of *.pub/*.pem keys (any may match), or vault://<mount>/keys/<name>',
    )
    .option('-a, --annotation <key=value>', 'annotation the signed payload must carry (repeatable)', collect, [])
    .option(
      '--insecure-ignore-tlog',
      'accept signatures carrying transparency-log or timestamp material Sluice cannot check, on the key signature alone',
    )
    .action(async (refText: string, opts: VerifyCliOptions, cmd: Command) => {
      const g = ctx.globals(cmd);
      const ref = parseReference(refText);
      const requiredAnnotations = parseAnnotationFlags(opts.annotation);
      const keys = await verificationKeys(opts.key, ctx.env);
      const audit = await auditTo(ctx, g);
      const result = await verifyImage(await ctx.pool(g), ref, keys, {
        ...(audit ? { audit } : {}),
        ...(requiredAnnotations ? { requiredAnnotations } : {}),
        ignoreTransparencyLog: !!opts.insecureIgnoreTlog,
      });
      emit(ctx.w, g.output, result, { text: () => renderVerification(result) });
      if (result.valid.length === 0) {
        throw new SluiceError(
          result.found === 0 ? 'SIGNATURE_NOT_FOUND' : 'SIGNATURE_REJECTED',
          'policy-violation',
          summarize(result),
          { registry: result.registry, repository: result.repository, digest: result.digest },
        );
      }
    });
}

export function renderVerification(r: VerifyImageResult): string {
  const lines = [`Verification of ${r.reference}`, `Digest:    ${r.digest}`];
  if (r.found === 0) {
    lines.push('No signatures found.');
    return lines.join('\n') + '\n';
  }
  lines.push(`Valid:     ${r.valid.length}`, `Rejected:  ${r.rejected.length}`);
  for (const v of r.valid) {
    lines.push('', `VALID     ${v.source}`, `  key:     ${v.keyId}${v.keySource ? ` (${v.keySource})` : ''}`);
    if (v.unverifiedTlogEntries || v.unverifiedTimestamps) {
      lines.push(
        `  warning: ${v.unverifiedTlogEntries ?? 0} transparency-log entr(ies) and ${v.unverifiedTimestamps ?? 0} timestamp(s) were NOT verified`,
      );
    }
    lines.push(`  payload: ${v.payload ?? JSON.stringify(v.claim)}`);
  }
  for (const x of r.rejected) lines.push('', `REJECTED  ${x.source}`, `  ${x.code}: ${x.reason}`);
  return lines.join('\n') + '\n';
}

/**
 * Where a workspace is (a policy file), every signature created or verified goes to its audit
 * log, as the acting user; standalone use (no policy, no state) has no audit log to write to.
 */
async function auditTo(ctx: CliContext, g: GlobalOptions): Promise<SigningAudit | undefined> {
  const rt = await ctx.optionalRuntime(g);
  return rt ? signingAudit(rt, cliActor(rt.policy, ctx.env).name) : undefined;
}
