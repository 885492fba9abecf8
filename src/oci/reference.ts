/**
 * Image references, following the grammar of CNCF Distribution's `reference` package:
 *
 *   reference := name [ ":" tag ] [ "@" digest ]
 *   name      := [domain '/'] path-component ['/' path-component]*
 *
 * plus Docker's normalisation (no domain → docker.io, single component → library/x).
 * Errors say what is wrong in words a user can act on, quoting the input.
 */
import { SluiceError } from '../errors.ts';
import { excerpt } from '../text.ts';
import { parseDigest } from './digest.ts';

export const DOCKER_HUB = 'docker.io';

export interface Reference {
  /** host[:port] as the user wrote it, lower-cased; docker.io for Docker Hub. */
  registry: string;
  /** Repository path inside the registry, e.g. `acme-dev/api` or `library/alpine`. */
  repository: string;
  tag?: string;
  digest?: string;
}

export interface RepositoryRef {
  registry: string;
  repository: string;
}

const PATH_COMPONENT = /^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*$/;
const TAG = /^[\w][\w.-]{0,127}$/;
const DOMAIN_COMPONENT = /^(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])$/;
const IPV6_HOST = /^\[[0-9a-fA-F:.]+\]$/;
const MAX_NAME_LENGTH = 255;

function invalid(input: string, why: string): SluiceError {
  const shown = excerpt(input);
  return new SluiceError('REFERENCE_INVALID', 'invalid-input', `invalid reference "${shown}": ${why}`, {
    reference: shown,
  });
}

const NO_USER_INFO =
  'a reference carries no user info (user:password@); give credentials with --authfile or the registry credentials of the policy';

/**
 * Refuses `user:password@host/repo` as URLs write it, naming only what follows the user info.
 * A digest is the only `@` a reference has, and nothing after a digest holds `/`; so an `@`
 * with a `/` after it, or a second `@`, ends user info (which may itself hold `@` and `/`).
 */
function refuseUserInfo(input: string): void {
  const first = input.indexOf('@');
  if (first < 0) return;
  let end = -1;
  for (let at = first; at >= 0; at = input.indexOf('@', at + 1)) {
    if (input.includes('/', at + 1)) end = at;
  }
  if (end < 0 && input.indexOf('@', first + 1) < 0) return;
  // Without a `/` to go by, where the user info ends is a guess: show nothing of it.
  const rest = end < 0 ? '' : input.slice(end + 1);
  throw new SluiceError(
    'REFERENCE_INVALID',
    'invalid-input',
    `invalid reference ${rest ? `"…@${excerpt(rest)}"` : '(not shown)'}: ${NO_USER_INFO}`,
    { reference: rest ? `…@${excerpt(rest)}` : '(not shown)' },
  );
}

/** Strips the `docker://` transport prefix skopeo users type; rejects other transports by name. */
function stripTransport(input: string): string {
  if (input.startsWith('docker://')) return input.slice('docker://'.length);
  const m = /^([a-z-]+):(?!\d)/.exec(input);
  if (m && ['oci', 'oci-archive', 'docker-archive', 'docker-daemon', 'containers-storage', 'dir'].includes(m[1]!)) {
    throw invalid(input, `transport "${m[1]}:" is not supported; Sluice talks to registries (docker://)`);
  }
  return input;
}

function looksLikeDomain(component: string): boolean {
  return component.includes('.') || component.includes(':') || component === 'localhost' || /[A-Z]/.test(component);
}

function validateDomain(input: string, domain: string): void {
  let host = domain;
  let port: string | undefined;
  if (domain.startsWith('[')) {
    const end = domain.indexOf(']');
    host = domain.slice(0, end + 1);
    const rest = domain.slice(end + 1);
    if (rest) {
      if (!rest.startsWith(':')) throw invalid(input, `malformed registry host "${excerpt(domain, 64)}"`);
      port = rest.slice(1);
    }
    if (!IPV6_HOST.test(host)) throw invalid(input, `malformed IPv6 registry host "${excerpt(host, 64)}"`);
  } else {
    const colon = domain.indexOf(':');
    if (colon >= 0) {
      host = domain.slice(0, colon);
      port = domain.slice(colon + 1);
    }
    for (const part of host.split('.')) {
      if (!DOMAIN_COMPONENT.test(part))
        throw invalid(input, `registry host "${excerpt(host, 64)}" is not a valid host name`);
    }
  }
  if (port !== undefined) {
    if (!/^\d+$/.test(port)) {
      // `repo:v1/x` reads as host "repo" with port "v1"; what the user meant was a tag with a slash.
      if (!host.includes('.') && host !== 'localhost' && !domain.startsWith('[')) {
        throw invalid(input, `tag contains '/'`);
      }
      throw invalid(input, `port "${excerpt(port, 16)}" of registry "${excerpt(domain, 64)}" is not a number`);
    }
    const n = Number(port);
    if (n < 1 || n > 65535)
      throw invalid(input, `port ${excerpt(port, 16)} of registry "${excerpt(domain, 64)}" is out of range`);
  }
}

function validatePath(input: string, path: string): void {
  if (path === '') throw invalid(input, 'repository name is empty');
  for (const component of path.split('/')) {
    if (component === '')
      throw invalid(input, 'repository name contains an empty path component ("//" or a trailing "/")');
    if (/[A-Z]/.test(component))
      throw invalid(input, `repository name must be lowercase ("${excerpt(component, 64)}")`);
    if (!PATH_COMPONENT.test(component)) {
      throw invalid(
        input,
        `repository path component "${excerpt(component, 64)}" may only contain a-z, 0-9 and single separators (".", "_", "__", "-") between them`,
      );
    }
  }
}

function validateTag(input: string, tag: string): void {
  if (tag === '') throw invalid(input, 'tag is empty');
  if (tag.includes('/')) throw invalid(input, `tag contains '/'`);
  if (tag.length > 128) throw invalid(input, `tag is ${tag.length} characters long (at most 128)`);
  if (!TAG.test(tag)) {
    throw invalid(
      input,
      `tag "${tag}" may only contain letters, digits, "_", "." and "-", and must not start with "." or "-"`,
    );
  }
}

export interface ParseOptions {
  /** Registry used when the reference names none. Defaults to Docker Hub, as every tool does. */
  defaultRegistry?: string;
  /** Whether a reference with neither tag nor digest gets `latest` (default true). */
  defaultTag?: boolean;
}

/** Parses an image reference; `docker://` is tolerated. Throws REFERENCE_INVALID with the reason. */
export function parseReference(raw: string, options: ParseOptions = {}): Reference {
  refuseUserInfo(raw);
  const input = raw.trim();
  if (input === '') throw invalid(raw, 'reference is empty');
  if (/\s/.test(input)) throw invalid(raw, 'reference contains whitespace');
  const text = stripTransport(input);

  let rest = text;
  let digest: string | undefined;
  const at = rest.indexOf('@');
  if (at >= 0) {
    const digestText = rest.slice(at + 1);
    rest = rest.slice(0, at);
    try {
      digest = parseDigest(digestText).digest;
    } catch (err) {
      // What precedes the `@` may be user info (`admin:hunter2@localhost:5000`): not repeated.
      throw invalid(`…@${digestText}`, err instanceof SluiceError ? err.message : String(err));
    }
  }

  let tag: string | undefined;
  const lastSlash = rest.lastIndexOf('/');
  const lastColon = rest.lastIndexOf(':');
  if (lastColon > lastSlash) {
    tag = rest.slice(lastColon + 1);
    rest = rest.slice(0, lastColon);
    validateTag(raw, tag);
  }

  const { registry, repository } = splitName(raw, rest, options.defaultRegistry);
  const ref: Reference = { registry, repository };
  if (tag !== undefined) ref.tag = tag;
  if (digest !== undefined) ref.digest = digest;
  if (tag === undefined && digest === undefined && options.defaultTag !== false) ref.tag = 'latest';
  return ref;
}

function splitName(raw: string, name: string, defaultRegistry?: string): RepositoryRef {
  if (name === '') throw invalid(raw, 'repository name is empty');
  const slash = name.indexOf('/');
  let registry: string;
  let path: string;
  if (slash >= 0 && looksLikeDomain(name.slice(0, slash))) {
    registry = name.slice(0, slash);
    path = name.slice(slash + 1);
    validateDomain(raw, registry);
    registry = registry.toLowerCase();
  } else {
    registry = defaultRegistry ?? DOCKER_HUB;
    path = name;
  }
  if (registry === 'index.docker.io' || registry === 'registry-1.docker.io') registry = DOCKER_HUB;
  validatePath(raw, path);
  if (registry === DOCKER_HUB && !path.includes('/')) path = `library/${path}`;
  if (registry.length + 1 + path.length > MAX_NAME_LENGTH) {
    throw invalid(raw, `name is longer than ${MAX_NAME_LENGTH} characters`);
  }
  return { registry, repository: path };
}

/** Parses `registry/repo` (no tag, no digest), as `sluice ls` takes. */
export function parseRepository(raw: string, options: ParseOptions = {}): RepositoryRef {
  const ref = parseReference(raw, { ...options, defaultTag: false });
  if (ref.tag !== undefined || ref.digest !== undefined) {
    throw invalid(raw, 'expected a repository without tag or digest');
  }
  return { registry: ref.registry, repository: ref.repository };
}

/** Parses a registry host[:port], tolerating a scheme and a trailing slash. */
export function parseRegistryHost(raw: string): string {
  if (raw.includes('@')) {
    throw new SluiceError('REFERENCE_INVALID', 'invalid-input', `invalid registry (not shown): ${NO_USER_INFO}`, {
      reference: '(not shown)',
    });
  }
  let text = raw.trim().replace(/^docker:\/\//, '');
  text = text.replace(/^https?:\/\//, '').replace(/\/+$/, '');
  if (text === '' || text.includes('/')) {
    throw new SluiceError(
      'REFERENCE_INVALID',
      'invalid-input',
      `invalid registry "${excerpt(raw)}": expected host[:port]`,
      { reference: excerpt(raw) },
    );
  }
  validateDomain(raw, text);
  const host = text.toLowerCase();
  return host === 'index.docker.io' || host === 'registry-1.docker.io' ? DOCKER_HUB : host;
}

export function formatReference(ref: Reference): string {
  let out = `${ref.registry}/${ref.repository}`;
  if (ref.tag !== undefined) out += `:${ref.tag}`;
  if (ref.digest !== undefined) out += `@${ref.digest}`;
  return out;
}

export function formatRepository(ref: RepositoryRef): string {
  return `${ref.registry}/${ref.repository}`;
}

/** What a request for this reference asks the registry for: the digest when there is one. */
export function manifestReferenceOf(ref: Reference): string {
  const target = ref.digest ?? ref.tag;
  if (target === undefined) throw invalid(formatReference(ref), 'has neither tag nor digest');
  return target;
}

export function isValidTag(tag: string): boolean {
  return TAG.test(tag);
}
