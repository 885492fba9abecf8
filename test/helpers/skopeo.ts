/**
 * skopeo 1.9 as the independent client that tests check Sluice against: it pushes fixtures
 * and reads back what a registry really holds.
 *
 * skopeo runs with an empty auth file and registries.conf of its own, so nothing in the
 * machine's container configuration (logins, mirrors, short-name aliases) leaks into tests.
 */
import { createHash } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { makeTempDirSync, run } from './proc.ts';

/** What skopeo needs to know about a registry; a registry or proxy handle satisfies it. */
export interface SkopeoTarget {
  /** `127.0.0.1:PORT` */
  host: string;
  /** Scheme decides whether TLS is used. */
  url: string;
  auth?: 'none' | 'htpasswd' | 'token';
  users?: Record<string, string>;
  /** Dir with only `ca.crt` (see tls.ts); used for https unless `trustCa: false`. */
  caDir?: string;
}

export interface SkopeoAccess {
  /** User to authenticate as. Default `alice` if the registry has her, else its first user. */
  user?: string;
  /** Overrides the password from the handle's user table (wrong-password tests). */
  password?: string;
  /** Send no credentials even though the registry has users. */
  anonymous?: boolean;
  /** For https: pass the CA dir (default true). False makes verification fail. */
  trustCa?: boolean;
  /** For https: skip certificate verification entirely. */
  insecure?: boolean;
}

/** `src` and `dest` for `copy`; `plain` for `inspect`, `list-tags` and `delete`. */
export type SkopeoRole = 'src' | 'dest' | 'plain';

let isolatedEnv: NodeJS.ProcessEnv | undefined;

function skopeoEnv(): NodeJS.ProcessEnv {
  if (!isolatedEnv) {
    const dir = makeTempDirSync('skopeo');
    const authFile = path.join(dir, 'auth.json');
    const registriesConf = path.join(dir, 'registries.conf');
    writeFileSync(authFile, '{"auths":{}}\n');
    writeFileSync(registriesConf, '');
    isolatedEnv = {
      ...process.env,
      REGISTRY_AUTH_FILE: authFile,
      CONTAINERS_REGISTRIES_CONF: registriesConf,
      XDG_RUNTIME_DIR: dir,
    };
  }
  return isolatedEnv;
}

/**
 * TLS and credential flags for one side of a skopeo command, derived from the handle.
 * @example skopeo(['copy', ...skopeoArgsFor(src, 'src'), ...skopeoArgsFor(dst, 'dest'), from, to])
 */
export function skopeoArgsFor(registry: SkopeoTarget, role: SkopeoRole, access: SkopeoAccess = {}): string[] {
  const prefix = role === 'plain' ? '--' : `--${role}-`;
  const args: string[] = [];
  if (registry.url.startsWith('https:')) {
    args.push(`${prefix}tls-verify=${access.insecure ? 'false' : 'true'}`);
    if ((access.trustCa ?? true) && !access.insecure && registry.caDir) {
      args.push(`${prefix}cert-dir`, registry.caDir);
    }
  } else {
    // For a plain-http registry skopeo needs tls-verify=false to fall back from https.
    args.push(`${prefix}tls-verify=false`);
  }
  const users = registry.users ?? {};
  if (access.anonymous) {
    args.push(`${prefix}no-creds`);
  } else if (access.user !== undefined || (registry.auth !== undefined && registry.auth !== 'none')) {
    const user = access.user ?? ('alice' in users ? 'alice' : Object.keys(users)[0]);
    if (user !== undefined) {
      const password = access.password ?? users[user] ?? '';
      args.push(`${prefix}creds`, `${user}:${password}`);
    }
  }
  return args;
}

/**
 * Runs skopeo with the given arguments (global policy flags are added) and returns stdout.
 * Throws a CommandError whose message includes skopeo's stderr.
 */
export async function skopeo(args: readonly string[], options: { timeoutMs?: number } = {}): Promise<Buffer> {
  const { stdout } = await run('skopeo', ['--insecure-policy', ...args], {
    env: skopeoEnv(),
    timeoutMs: options.timeoutMs ?? 300_000,
  });
  return stdout;
}

/** `docker://HOST/ref` for a `repo:tag` or `repo@digest` reference. */
export function dockerRef(registry: SkopeoTarget, ref: string): string {
  return `docker://${registry.host}/${ref}`;
}

/** The manifest or index bytes exactly as the registry serves them. */
export async function skopeoInspectRaw(registry: SkopeoTarget, ref: string, access?: SkopeoAccess): Promise<Buffer> {
  return skopeo(['inspect', '--raw', ...skopeoArgsFor(registry, 'plain', access), dockerRef(registry, ref)]);
}

/** Parsed `skopeo inspect` (for an index: the entry matching this machine's platform). */
export async function skopeoInspect(
  registry: SkopeoTarget,
  ref: string,
  access?: SkopeoAccess,
): Promise<Record<string, unknown>> {
  const out = await skopeo([
    'inspect',
    '--no-tags',
    ...skopeoArgsFor(registry, 'plain', access),
    dockerRef(registry, ref),
  ]);
  return JSON.parse(out.toString('utf8')) as Record<string, unknown>;
}

/** The image config blob of `ref` (for an index: this machine's platform). */
export async function skopeoInspectConfig(
  registry: SkopeoTarget,
  ref: string,
  access?: SkopeoAccess,
): Promise<Record<string, unknown>> {
  const out = await skopeo([
    'inspect',
    '--raw',
    '--config',
    ...skopeoArgsFor(registry, 'plain', access),
    dockerRef(registry, ref),
  ]);
  return JSON.parse(out.toString('utf8')) as Record<string, unknown>;
}

/**
 * Digest of the manifest `ref` resolves to, computed from the raw bytes (for an index this is
 * the index digest, unlike `skopeo inspect`'s per-platform view).
 */
export async function skopeoDigest(registry: SkopeoTarget, ref: string, access?: SkopeoAccess): Promise<string> {
  const raw = await skopeoInspectRaw(registry, ref, access);
  return `sha256:${createHash('sha256').update(raw).digest('hex')}`;
}

/** Tags of `repo`, as listed by the registry. */
export async function skopeoListTags(registry: SkopeoTarget, repo: string, access?: SkopeoAccess): Promise<string[]> {
  const out = await skopeo(['list-tags', ...skopeoArgsFor(registry, 'plain', access), dockerRef(registry, repo)]);
  return (JSON.parse(out.toString('utf8')) as { Tags: string[] | null }).Tags ?? [];
}

/** Deletes the manifest `ref` points at (by digest; every tag on it goes too). */
export async function skopeoDelete(registry: SkopeoTarget, ref: string, access?: SkopeoAccess): Promise<void> {
  await skopeo(['delete', ...skopeoArgsFor(registry, 'plain', access), dockerRef(registry, ref)]);
}

/** Copies `from` on one registry to `to` on another (or the same), all platforms. */
export async function skopeoCopy(
  source: SkopeoTarget,
  from: string,
  target: SkopeoTarget,
  to: string,
  options: { srcAccess?: SkopeoAccess; destAccess?: SkopeoAccess; format?: 'oci' | 'v2s2'; all?: boolean } = {},
): Promise<void> {
  await skopeo([
    'copy',
    '--quiet',
    ...((options.all ?? true) ? ['--all'] : []),
    ...(options.format ? ['--format', options.format] : []),
    ...skopeoArgsFor(source, 'src', options.srcAccess),
    ...skopeoArgsFor(target, 'dest', options.destAccess),
    dockerRef(source, from),
    dockerRef(target, to),
  ]);
}
