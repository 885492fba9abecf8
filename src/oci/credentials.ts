/**
 * Where registry credentials come from: explicit configuration first, then the files that
 * podman/skopeo and docker users already have. Matching is by exact host (and, for
 * containers-auth.json, by repository prefix at a path boundary), never by substring, so a
 * credential for `quay.io` cannot be sent to `quay.io.evil.example`.
 */
import { execFile } from 'node:child_process';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { SluiceError, isSluiceError } from '../errors.ts';
import { MAX_AUTH_FILE_BYTES, readInputText } from '../files.ts';
import { DOCKER_HUB } from './reference.ts';

export interface Credential {
  username?: string;
  password?: string;
  /** OAuth2 refresh token (docker config `identitytoken`), exchanged at the token realm. */
  identityToken?: string;
  /** A ready bearer token sent as-is (`registrytoken`). */
  registryToken?: string;
}

export interface CredentialSource {
  lookup(registry: string, repository?: string): Promise<Credential | undefined>;
}

interface AuthFileEntry {
  auth?: string;
  username?: string;
  password?: string;
  identitytoken?: string;
  registrytoken?: string;
}

interface AuthFile {
  path: string;
  auths: Record<string, AuthFileEntry>;
  credHelpers: Record<string, string>;
  credsStore?: string;
}

/** `https://index.docker.io/v1/` → `docker.io`; `quay.io/ns/repo` stays a prefix key. */
export function normaliseAuthKey(key: string): string {
  let k = key.trim().replace(/^https?:\/\//, '');
  k = k.replace(/\/v[12]\/?$/, '').replace(/\/+$/, '');
  const slash = k.indexOf('/');
  const host = (slash < 0 ? k : k.slice(0, slash)).toLowerCase();
  const path = slash < 0 ? '' : k.slice(slash);
  const normalisedHost = host === 'index.docker.io' || host === 'registry-1.docker.io' ? DOCKER_HUB : host;
  return normalisedHost + path;
}

function decodeEntry(entry: AuthFileEntry, where: string): Credential {
  const cred: Credential = {};
  if (entry.auth) {
    const decoded = Buffer.from(entry.auth, 'base64').toString('utf8');
    const colon = decoded.indexOf(':');
    if (colon < 0) {
      throw new SluiceError(
        'CREDENTIALS_INVALID',
        'invalid-input',
        `malformed "auth" entry in ${where}: expected base64(user:password)`,
        {
          location: where,
        },
      );
    }
    cred.username = decoded.slice(0, colon);
    cred.password = decoded.slice(colon + 1);
  }
  if (entry.username) cred.username = entry.username;
  if (entry.password) cred.password = entry.password;
  if (entry.identitytoken) cred.identityToken = entry.identitytoken;
  if (entry.registrytoken) cred.registryToken = entry.registrytoken;
  return cred;
}

async function readAuthFile(path: string): Promise<AuthFile | undefined> {
  let text: string;
  try {
    text = await readInputText(path, { what: 'registry credentials file', limit: MAX_AUTH_FILE_BYTES });
  } catch (err) {
    // Credential files are optional and looked for in several places; one that is there but
    // too large is a mistake to report, not a file to skip.
    if (isSluiceError(err, 'INPUT_TOO_LARGE')) throw err;
    return undefined;
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (err) {
    throw new SluiceError(
      'CREDENTIALS_INVALID',
      'invalid-input',
      `${path} is not valid JSON: ${(err as Error).message}`,
      {
        location: path,
      },
    );
  }
  const obj = (json ?? {}) as Record<string, unknown>;
  // Keyed by host; no prototype, so `constructor` is a host like any other (and `__proto__` one too).
  const auths: Record<string, AuthFileEntry> = Object.create(null);
  if (obj.auths && typeof obj.auths === 'object') {
    for (const [k, v] of Object.entries(obj.auths as Record<string, AuthFileEntry>)) auths[normaliseAuthKey(k)] = v;
  }
  const credHelpers: Record<string, string> = Object.create(null);
  if (obj.credHelpers && typeof obj.credHelpers === 'object') {
    for (const [k, v] of Object.entries(obj.credHelpers as Record<string, string>)) {
      credHelpers[normaliseAuthKey(k)] = v;
    }
  }
  const file: AuthFile = { path, auths, credHelpers };
  if (typeof obj.credsStore === 'string') file.credsStore = obj.credsStore;
  return file;
}

/** Most specific key first: `host/a/b`, `host/a`, `host`. */
function candidateKeys(registry: string, repository?: string): string[] {
  const keys: string[] = [];
  if (repository) {
    const parts = repository.split('/');
    for (let i = parts.length; i > 0; i--) keys.push(`${registry}/${parts.slice(0, i).join('/')}`);
  }
  keys.push(registry);
  return keys;
}

function runCredentialHelper(helper: string, registry: string): Promise<Credential | undefined> {
  if (!/^[a-zA-Z0-9_.-]+$/.test(helper)) {
    return Promise.reject(
      new SluiceError('CREDENTIALS_INVALID', 'invalid-input', `credential helper name "${helper}" is not valid`),
    );
  }
  const server = registry === DOCKER_HUB ? 'https://index.docker.io/v1/' : registry;
  return new Promise((resolve, reject) => {
    const child = execFile(`docker-credential-${helper}`, ['get'], { timeout: 15_000 }, (err, stdout) => {
      if (err) {
        // "credentials not found" is a normal answer: no credential for this host.
        if (/not found/i.test(String(stdout)) || /not found/i.test(err.message)) return resolve(undefined);
        return reject(
          new SluiceError(
            'CREDENTIAL_HELPER_FAILED',
            'unauthorized',
            `credential helper docker-credential-${helper} failed for ${registry}`,
            { registry },
          ),
        );
      }
      try {
        const out = JSON.parse(stdout) as { Username?: string; Secret?: string };
        if (!out.Secret) return resolve(undefined);
        // Docker's convention: username "<token>" means the secret is an identity token.
        if (out.Username === '<token>') return resolve({ identityToken: out.Secret });
        resolve({ username: out.Username ?? '', password: out.Secret });
      } catch {
        reject(
          new SluiceError(
            'CREDENTIAL_HELPER_FAILED',
            'unauthorized',
            `docker-credential-${helper} returned malformed output`,
            {
              registry,
            },
          ),
        );
      }
    });
    child.stdin?.end(server);
  });
}

export interface CredentialStoreOptions {
  env?: NodeJS.ProcessEnv;
  home?: string;
  /** Credentials from Sluice's own configuration, keyed by host[:port] (or host/repo prefix). */
  explicit?: Record<string, Credential>;
}

/** The standard lookup order: explicit config, REGISTRY_AUTH_FILE, containers auth.json, docker config. */
export function authFilePaths(env: NodeJS.ProcessEnv = process.env, home: string = homedir()): string[] {
  const paths: string[] = [];
  if (env.REGISTRY_AUTH_FILE) paths.push(env.REGISTRY_AUTH_FILE);
  if (env.XDG_RUNTIME_DIR) paths.push(join(env.XDG_RUNTIME_DIR, 'containers', 'auth.json'));
  paths.push(join(env.XDG_CONFIG_HOME ?? join(home, '.config'), 'containers', 'auth.json'));
  paths.push(join(env.DOCKER_CONFIG ?? join(home, '.docker'), 'config.json'));
  return paths;
}

export class CredentialStore implements CredentialSource {
  private readonly explicit: Record<string, Credential>;
  private readonly paths: string[];
  private files: Promise<AuthFile[]> | undefined;

  constructor(options: CredentialStoreOptions = {}) {
    this.explicit = Object.create(null);
    for (const [k, v] of Object.entries(options.explicit ?? {})) this.explicit[normaliseAuthKey(k)] = v;
    this.paths = authFilePaths(options.env ?? process.env, options.home ?? homedir());
  }

  private loadFiles(): Promise<AuthFile[]> {
    this.files ??= Promise.all(this.paths.map(readAuthFile)).then((fs) => fs.filter((f): f is AuthFile => !!f));
    return this.files;
  }

  async lookup(registry: string, repository?: string): Promise<Credential | undefined> {
    const keys = candidateKeys(registry.toLowerCase(), repository);
    for (const key of keys) {
      const cred = this.explicit[key];
      if (cred) return cred;
    }
    for (const file of await this.loadFiles()) {
      for (const key of keys) {
        const helper = file.credHelpers[key];
        if (typeof helper === 'string' && helper !== '') return runCredentialHelper(helper, registry);
        const entry = file.auths[key];
        if (entry && typeof entry === 'object') return decodeEntry(entry, file.path);
      }
      if (file.credsStore) {
        const cred = await runCredentialHelper(file.credsStore, registry);
        if (cred) return cred;
      }
    }
    return undefined;
  }
}

/** A fixed credential for one registry, e.g. from `--creds user:pass` or a policy secret reference. */
export function parseUserPassword(text: string, where: string): Credential {
  const colon = text.indexOf(':');
  if (colon <= 0) {
    throw new SluiceError('CREDENTIALS_INVALID', 'invalid-input', `${where}: expected "user:password"`, {
      location: where,
    });
  }
  return { username: text.slice(0, colon), password: text.slice(colon + 1) };
}
