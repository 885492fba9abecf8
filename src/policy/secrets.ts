/**
 * Secrets in the policy are references, never values: `env:NAME` (an environment variable)
 * or `file:PATH` (a file, relative paths against the policy file's directory). They are
 * resolved only when used, so a policy can be validated on a machine that lacks them, and
 * errors name the reference, never what it holds.
 */
import { isAbsolute, resolve } from 'node:path';
import { SluiceError } from '../errors.ts';
import { readInputFile } from '../files.ts';
import type { Credential } from '../oci/credentials.ts';
import { ownValue } from '../util/own.ts';

export type SecretRef = { kind: 'env'; name: string } | { kind: 'file'; path: string };

const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;
/** Secrets are small; a large file behind a reference is a mistake (a key ring, a log). */
const MAX_SECRET_BYTES = 64 * 1024;

export const SECRET_REF_FORMS = 'env:NAME or file:PATH';

/** Parses a reference; undefined when the text is not one (for instance an inline secret). */
export function parseSecretRef(text: string): SecretRef | undefined {
  if (text.startsWith('env:')) {
    const name = text.slice(4);
    return ENV_NAME.test(name) ? { kind: 'env', name } : undefined;
  }
  if (text.startsWith('file:')) {
    const path = text.slice(5);
    return path.trim() === '' || path.includes('\0') ? undefined : { kind: 'file', path };
  }
  return undefined;
}

export function isSecretRef(text: string): boolean {
  return parseSecretRef(text) !== undefined;
}

export interface ResolveOptions {
  /** Directory relative `file:` paths resolve against (the policy's `baseDir`); default cwd. */
  baseDir?: string;
  env?: NodeJS.ProcessEnv;
}

function unresolved(ref: string, why: string): SluiceError {
  return new SluiceError('SECRET_UNRESOLVED', 'invalid-input', `secret reference ${ref}: ${why}`, { secretRef: ref });
}

/** Reads what a reference points to, without a single trailing newline. */
export async function resolveSecretRef(ref: string, options: ResolveOptions = {}): Promise<string> {
  const parsed = parseSecretRef(ref);
  // The text may itself be a secret pasted where a reference belongs: never repeat it.
  if (!parsed) throw unresolved('(not shown)', `not a secret reference; expected ${SECRET_REF_FORMS}`);
  let value: string;
  if (parsed.kind === 'env') {
    const env = options.env ?? process.env;
    // `env:constructor` names a variable, never what process.env inherits.
    const v = ownValue(env, parsed.name);
    if (v === undefined) throw unresolved(ref, `environment variable ${parsed.name} is not set`);
    value = v;
  } else {
    const path = isAbsolute(parsed.path) ? parsed.path : resolve(options.baseDir ?? '.', parsed.path);
    const buf = await readInputFile(path, {
      what: `secret reference ${ref}`,
      limit: MAX_SECRET_BYTES,
      unreadable: (errno) => unresolved(ref, `cannot read ${path} (${errno})`),
    });
    value = buf.toString('utf8');
  }
  value = value.replace(/\r?\n$/, '');
  if (value === '') throw unresolved(ref, 'is empty');
  return value;
}

/**
 * Interprets a registry credential secret. Three forms, tried in order:
 * JSON `{"username": "...", "password": "..."}`, `user:password`, or a bare bearer token
 * (no colon), which is sent as-is.
 */
export function parseCredentialSecret(text: string, ref: string): Credential {
  const trimmed = text.trim();
  if (trimmed.startsWith('{')) {
    let json: unknown;
    try {
      json = JSON.parse(trimmed);
    } catch {
      throw unresolved(ref, 'holds malformed JSON; expected {"username": ..., "password": ...}');
    }
    const o = json as Record<string, unknown>;
    if (typeof o.username !== 'string' || typeof o.password !== 'string' || o.username === '') {
      throw unresolved(ref, 'JSON must have string fields "username" and "password"');
    }
    return { username: o.username, password: o.password };
  }
  const colon = trimmed.indexOf(':');
  if (colon === 0) throw unresolved(ref, 'user:password form with an empty user name');
  if (colon > 0) return { username: trimmed.slice(0, colon), password: trimmed.slice(colon + 1) };
  return { registryToken: trimmed };
}

/** Resolves a registry `credentials` reference into what the OCI auth layer takes. */
export async function resolveCredential(ref: string, options: ResolveOptions = {}): Promise<Credential> {
  return parseCredentialSecret(await resolveSecretRef(ref, options), ref);
}
