/**
 * Wires the capabilities promotion calls out to (signing, notifications) from the runtime.
 * Key references in the policy are `file:PATH` (relative to the policy file), `dir:PATH`
 * (a key set, verification only), `env:NAME` (a PEM in a variable) or `vault://…`/`hashivault://…`.
 */
import { isAbsolute, resolve } from 'node:path';
import { asSluiceError, SluiceError } from '../errors.ts';
import type { Runtime } from '../runtime.ts';
import { loadPublicKeys, publicKeySet } from '../signing/keys.ts';
import { parseKeyRef } from '../signing/signer.ts';
import { signImage } from '../signing/sign.ts';
import { verifyImage } from '../signing/verify-image.ts';
import type { PublicKeySet } from '../signing/keys.ts';
import type { SigningAudit } from '../signing/audit.ts';
import type { PromotionHooks } from './service.ts';
import { ownValue } from '../util/own.ts';

function localPath(rt: Runtime, path: string): string {
  return isAbsolute(path) ? path : resolve(rt.policy.baseDir, path);
}

/** A policy key reference as something the signing module reads. */
export function keySource(rt: Runtime, ref: string, env: NodeJS.ProcessEnv = process.env): string {
  if (ref.startsWith('file:')) return localPath(rt, ref.slice(5));
  if (ref.startsWith('dir:')) return localPath(rt, ref.slice(4));
  if (ref.startsWith('env:')) {
    const value = ownValue(env, ref.slice(4));
    if (!value) throw new SluiceError('KEY_UNRESOLVED', 'invalid-input', `key reference ${ref}: variable is not set`);
    return value;
  }
  return ref;
}

async function keySet(rt: Runtime, refs: string[]): Promise<PublicKeySet> {
  const sets = await Promise.all(refs.map((r) => loadPublicKeys(keySource(rt, r, rt.env))));
  return publicKeySet(
    sets.flatMap((s) => s.keys.map((k) => k.key)),
    refs.join(', '),
  );
}

/** Signatures created and verified go to the audit log as `actor`. */
export function signingAudit(rt: Runtime, actor: string): SigningAudit {
  return async (entry) => {
    await rt.audit(rt.store, {
      actor,
      action: entry.action,
      repository: entry.repository,
      digest: entry.digest || null,
      tag: entry.tag ?? null,
      reason: entry.reason,
      result: entry.result,
      details: entry.details,
    });
  };
}

export async function promotionHooks(rt: Runtime): Promise<PromotionHooks> {
  return {
    async verifySignature(loc, refs) {
      try {
        const keys = await keySet(rt, refs);
        const result = await verifyImage(
          rt.pool,
          { registry: loc.registry, repository: loc.repository, digest: loc.digest },
          keys,
          {
            audit: signingAudit(rt, 'system:promotion'),
          },
        );
        if (result.valid.length > 0)
          return { valid: true, reason: 'verified', keyIds: [...new Set(result.valid.map((v) => v.keyId))] };
        const why = result.rejected.map((r) => `${r.source}: ${r.reason}`).join('; ');
        return { valid: false, reason: why || 'no signatures found', keyIds: [] };
      } catch (err) {
        return { valid: false, reason: asSluiceError(err).message, keyIds: [] };
      }
    },
    async sign(loc, ref) {
      const signer = await parseKeyRef(keySource(rt, ref, rt.env), { env: rt.env });
      await signImage(rt.pool, { registry: loc.registry, repository: loc.repository, digest: loc.digest }, signer, {
        audit: signingAudit(rt, 'system:promotion'),
      });
    },
    notify: (n) => rt.events.publish(n.type, { subject: n.subject, summary: n.summary, data: n.data }),
  };
}
