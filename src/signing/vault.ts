/**
 * Signing with a HashiCorp Vault transit key: the private key never leaves Vault. Two
 * endpoints are used, as documented in Vault's transit API:
 *
 *   GET  /v1/<mount>/keys/<name>              → data.type, data.latest_version,
 *                                               data.keys["<v>"].public_key (PEM)
 *   POST /v1/<mount>/sign/<name>/sha2-256     {input: base64, key_version, marshaling_algorithm: "asn1"}
 *                                             → data.signature "vault:v<N>:<base64 DER>"
 *
 * Authentication is a token (`VAULT_TOKEN`) or Kubernetes auth
 * (`POST /v1/auth/<mount>/login {role, jwt}` → auth.client_token, with the pod's service
 * account token as jwt). Tokens and JWTs stay inside this module: errors name the endpoint
 * and Vault's own error text, scrubbed of both.
 */
import { verify as cryptoVerify, createPublicKey, type KeyObject } from 'node:crypto';
import { SluiceError } from '../errors.ts';
import { OutboundClient, isLoopbackHostname, isHttpFailure } from '../http/index.ts';
import { MAX_CERTIFICATE_FILE_BYTES, readInputText } from '../files.ts';
import { decodeBase64Strict, derSignatureProblem, isP256 } from './encoding.ts';
import type { Signer } from './signer.ts';

export interface VaultKubernetesAuth {
  role: string;
  /** Auth method mount, default `kubernetes`. */
  mount?: string;
  /** Service-account token file, default the in-pod projected token. */
  tokenFile?: string;
}

export interface VaultOptions {
  /** `VAULT_ADDR`, e.g. `https://vault.example.com:8200`. */
  address?: string;
  /** `VAULT_TOKEN`; takes precedence over Kubernetes auth. */
  token?: string;
  /** `VAULT_NAMESPACE` (Vault Enterprise / HCP). */
  namespace?: string;
  /** `VAULT_CACERT`: PEM file of the CA that issued Vault's certificate. */
  caCertFile?: string;
  kubernetes?: VaultKubernetesAuth;
  timeoutMs?: number;
}

export const DEFAULT_K8S_TOKEN_FILE = '/var/run/secrets/kubernetes.io/serviceaccount/token';
const MAX_RESPONSE_BYTES = 1024 * 1024;
const MAX_JWT_BYTES = 64 * 1024;
const SEGMENT = /^[A-Za-z0-9_][A-Za-z0-9._-]*$/;

/**
 * Vault settings from the environment, with the names the Vault CLI uses. Kubernetes auth is
 * selected by `SLUICE_VAULT_K8S_ROLE` (plus optional `SLUICE_VAULT_K8S_MOUNT`,
 * `SLUICE_VAULT_K8S_TOKEN_FILE`).
 */
export function vaultOptionsFromEnv(env: Record<string, string | undefined> = process.env): VaultOptions {
  const nonEmpty = (v: string | undefined) => (v === undefined || v === '' ? undefined : v);
  const role = nonEmpty(env.SLUICE_VAULT_K8S_ROLE);
  return {
    address: nonEmpty(env.VAULT_ADDR),
    token: nonEmpty(env.VAULT_TOKEN),
    namespace: nonEmpty(env.VAULT_NAMESPACE),
    caCertFile: nonEmpty(env.VAULT_CACERT),
    kubernetes: role
      ? { role, mount: nonEmpty(env.SLUICE_VAULT_K8S_MOUNT), tokenFile: nonEmpty(env.SLUICE_VAULT_K8S_TOKEN_FILE) }
      : undefined,
  };
}

export interface VaultKeyRef {
  mount: string;
  name: string;
  /** Canonical form, `vault://<mount>/keys/<name>`. */
  ref: string;
}

/**
 * `vault://<mount>/keys/<name>` (the mount may be nested: `vault://team/transit/keys/release`),
 * or cosign's `hashivault://<name>` with the mount from `TRANSIT_SECRET_ENGINE_PATH`
 * (default `transit`). Segments are restricted to Vault's path characters so nothing from the
 * reference can steer the request elsewhere (`..`, `?`, `%2f`).
 */
export function parseVaultKeyRef(ref: string, env: Record<string, string | undefined> = process.env): VaultKeyRef {
  const bad = (why: string) =>
    new SluiceError(
      'SIGNING_KEY_REF_INVALID',
      'invalid-input',
      `key reference "${ref}" ${why}; expected vault://<mount>/keys/<name>`,
      {
        reference: ref,
      },
    );
  let mount: string;
  let name: string;
  if (ref.startsWith('hashivault://')) {
    mount = env.TRANSIT_SECRET_ENGINE_PATH || 'transit';
    name = ref.slice('hashivault://'.length);
  } else if (ref.startsWith('vault://')) {
    const rest = ref.slice('vault://'.length);
    const at = rest.lastIndexOf('/keys/');
    if (at <= 0) throw bad('has no "/keys/" segment');
    mount = rest.slice(0, at);
    name = rest.slice(at + '/keys/'.length);
  } else {
    throw bad('is not a Vault reference');
  }
  const mountSegments = mount.split('/');
  if (!mountSegments.every((s) => SEGMENT.test(s))) throw bad(`has an invalid mount path "${mount}"`);
  if (!SEGMENT.test(name)) throw bad(`has an invalid key name "${name}"`);
  return { mount, name, ref: `vault://${mount}/keys/${name}` };
}

/** `VAULT_ADDR` checked: http(s) only, and plain http only to loopback (the token would travel in clear). */
function vaultBase(address: string | undefined): URL {
  if (!address)
    throw new SluiceError(
      'VAULT_ADDRESS_MISSING',
      'invalid-input',
      'VAULT_ADDR is not set; it must name the Vault server (https://host:8200)',
    );
  let url: URL;
  try {
    url = new URL(address);
  } catch {
    throw new SluiceError('VAULT_ADDRESS_INVALID', 'invalid-input', `VAULT_ADDR "${address}" is not a URL`);
  }
  if (url.username || url.password) {
    throw new SluiceError(
      'VAULT_ADDRESS_INVALID',
      'invalid-input',
      'VAULT_ADDR must not carry credentials; use VAULT_TOKEN or Kubernetes auth',
    );
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:') {
    throw new SluiceError('VAULT_ADDRESS_INVALID', 'invalid-input', `VAULT_ADDR "${url.origin}" must be an https URL`);
  }
  if (url.protocol === 'http:' && !isLoopbackHostname(url.hostname)) {
    throw new SluiceError(
      'VAULT_INSECURE',
      'invalid-input',
      `VAULT_ADDR ${url.origin} is plain http: the Vault token would cross the network unencrypted; use https (only loopback addresses may use http)`,
    );
  }
  url.search = '';
  url.hash = '';
  return url;
}

type Json = Record<string, unknown>;

/** The HTTP side: one Vault server, one identity. */
class VaultClient {
  private readonly base: URL;
  private readonly options: VaultOptions;
  private readonly timeoutMs: number;
  private client: Promise<OutboundClient> | undefined;
  private token: string | undefined;
  private jwt: string | undefined;

  constructor(options: VaultOptions) {
    this.base = vaultBase(options.address);
    this.options = options;
    this.timeoutMs = options.timeoutMs ?? 30_000;
    this.token = options.token;
    if (!options.token && !options.kubernetes) {
      throw new SluiceError(
        'VAULT_AUTH_MISSING',
        'unauthorized',
        'no Vault credentials: set VAULT_TOKEN, or SLUICE_VAULT_K8S_ROLE to log in with the Kubernetes service account',
      );
    }
  }

  get address(): string {
    return this.base.origin;
  }

  /** An authenticated call; a Kubernetes-auth token that Vault rejects is renewed once. */
  async call(method: 'GET' | 'POST', path: string, body?: Json): Promise<Json> {
    const token = await this.ensureToken();
    try {
      return await this.send(method, path, body, token);
    } catch (err) {
      const renewable = !this.options.token && this.options.kubernetes;
      if (renewable && err instanceof SluiceError && err.context.httpStatus === 403) {
        this.token = undefined;
        return this.send(method, path, body, await this.ensureToken());
      }
      throw err;
    }
  }

  private async ensureToken(): Promise<string> {
    if (this.token) return this.token;
    const k8s = this.options.kubernetes;
    if (!k8s) throw new SluiceError('VAULT_AUTH_MISSING', 'unauthorized', 'no Vault token');
    const mount = k8s.mount ?? 'kubernetes';
    if (!mount.split('/').every((s) => SEGMENT.test(s))) {
      throw new SluiceError(
        'VAULT_AUTH_MOUNT_INVALID',
        'invalid-input',
        `Kubernetes auth mount "${mount}" is not a valid Vault path`,
      );
    }
    const jwt = await this.readJwt(k8s.tokenFile ?? DEFAULT_K8S_TOKEN_FILE);
    let res: Json;
    try {
      res = await this.send('POST', `auth/${mount}/login`, { role: k8s.role, jwt }, undefined);
    } catch (err) {
      if (err instanceof SluiceError && (err.context.httpStatus === 400 || err.context.httpStatus === 403)) {
        throw new SluiceError(
          'VAULT_LOGIN_FAILED',
          'unauthorized',
          `Vault Kubernetes login as role "${k8s.role}" at auth/${mount}/login was refused: ${err.message}`,
          { ...err.context },
          err,
        );
      }
      throw err;
    }
    const auth = asJson(res.auth);
    const token = auth?.client_token;
    if (typeof token !== 'string' || token === '') {
      throw new SluiceError(
        'VAULT_RESPONSE_INVALID',
        'integrity',
        `Vault auth/${mount}/login answered without auth.client_token`,
        {
          operation: `POST /v1/auth/${mount}/login`,
        },
      );
    }
    this.token = token;
    return token;
  }

  private async readJwt(file: string): Promise<string> {
    const text = (
      await readInputText(file, {
        what: 'Kubernetes service account token',
        limit: MAX_JWT_BYTES,
        unreadable: (errno) =>
          new SluiceError(
            'VAULT_AUTH_INVALID',
            'unauthorized',
            `cannot read the Kubernetes service account token ${file}: ${errno}`,
            { location: file },
          ),
      })
    ).trim();
    if (text === '')
      throw new SluiceError('VAULT_AUTH_INVALID', 'unauthorized', `Kubernetes service account token ${file} is empty`, {
        location: file,
      });
    this.jwt = text;
    return text;
  }

  private redact(text: string): string {
    let out = text;
    for (const secret of [this.token, this.options.token, this.jwt]) {
      if (secret && secret.length >= 4) out = out.split(secret).join('[redacted]');
    }
    return out;
  }

  private async send(
    method: 'GET' | 'POST',
    path: string,
    body: Json | undefined,
    token: string | undefined,
  ): Promise<Json> {
    const basePath = this.base.pathname.replace(/\/+$/, '');
    const url = `${this.base.origin}${basePath}/v1/${path}`;
    const operation = `${method} ${basePath}/v1/${path}`;
    const headers: Record<string, string> = { accept: 'application/json', 'x-vault-request': 'true' };
    if (body !== undefined) headers['content-type'] = 'application/json';
    if (token !== undefined) headers['x-vault-token'] = token;
    if (this.options.namespace) headers['x-vault-namespace'] = this.options.namespace;
    const context = { operation, vaultAddress: this.base.origin };
    const client = await this.outbound();
    let res;
    try {
      // Redirects are not followed: one would carry the token to wherever Location points;
      // Vault standbys forward requests themselves, so a redirect means a misconfigured address.
      res = await client.request({
        method,
        url,
        headers,
        body: body === undefined ? undefined : JSON.stringify(body),
        timeoutMs: this.timeoutMs,
        maxResponseBytes: MAX_RESPONSE_BYTES,
      });
    } catch (err) {
      throw this.networkError(err, operation);
    }
    if (res.status >= 300 && res.status < 400) {
      const location = res.header('location') ?? '?';
      throw new SluiceError(
        'VAULT_REDIRECT_REFUSED',
        'unavailable',
        `Vault ${operation} answered ${res.status} redirecting to ${location.slice(0, 200)}; Sluice does not follow Vault redirects (the token would go along): set VAULT_ADDR to the node it names`,
        { ...context, httpStatus: res.status },
      );
    }
    const text = res.text();
    if (res.status < 200 || res.status >= 300) throw this.httpError(res.status, text, operation, context);
    if (text.trim() === '') return {};
    let doc: unknown;
    try {
      doc = JSON.parse(text);
    } catch {
      throw new SluiceError(
        'VAULT_RESPONSE_INVALID',
        'integrity',
        `Vault ${operation} answered ${res.status} with a body that is not JSON`,
        {
          ...context,
          httpStatus: res.status,
        },
      );
    }
    const json = asJson(doc);
    if (!json)
      throw new SluiceError(
        'VAULT_RESPONSE_INVALID',
        'integrity',
        `Vault ${operation} answered with JSON that is not an object`,
        context,
      );
    return json;
  }

  /** The server's client, trusting VAULT_CACERT when it is set (read once). */
  private outbound(): Promise<OutboundClient> {
    const file = this.options.caCertFile;
    if (!file) return (this.client ??= Promise.resolve(new OutboundClient()));
    this.client ??= readInputText(file, {
      what: 'VAULT_CACERT',
      limit: MAX_CERTIFICATE_FILE_BYTES,
      unreadable: (errno) =>
        new SluiceError('VAULT_CACERT_UNREADABLE', 'invalid-input', `cannot read VAULT_CACERT ${file}: ${errno}`, {
          location: file,
        }),
    }).then(
      (caPem) => new OutboundClient({ caPem }),
      (err: unknown) => {
        this.client = undefined;
        throw err;
      },
    );
    return this.client;
  }

  private httpError(status: number, text: string, operation: string, context: Record<string, unknown>): SluiceError {
    let detail = '';
    try {
      const errors = asJson(JSON.parse(text))?.errors;
      if (Array.isArray(errors)) detail = errors.filter((e) => typeof e === 'string').join('; ');
    } catch {
      detail = '';
    }
    detail = this.redact(detail).slice(0, 500) || '(no error text)';
    const ctx = { ...context, httpStatus: status };
    const msg = `Vault ${operation} failed with ${status}: ${detail}`;
    if (status === 403) {
      return new SluiceError(
        'VAULT_PERMISSION_DENIED',
        'forbidden',
        `${msg} (the token is invalid or expired, or its policy does not allow this path)`,
        ctx,
      );
    }
    if (status === 401) return new SluiceError('VAULT_UNAUTHORIZED', 'unauthorized', msg, ctx);
    if (status === 404) return new SluiceError('VAULT_NOT_FOUND', 'not-found', msg, ctx);
    if (status === 400) return new SluiceError('VAULT_BAD_REQUEST', 'invalid-input', msg, ctx);
    return new SluiceError('VAULT_UNAVAILABLE', 'unavailable', msg, ctx);
  }

  private networkError(err: unknown, operation: string): SluiceError {
    const context = { operation, vaultAddress: this.base.origin };
    const kind = isHttpFailure(err) ? err.kind : 'network';
    const code = isHttpFailure(err) ? err.code : undefined;
    if (kind === 'timeout' || kind === 'connect-timeout' || kind === 'aborted') {
      return new SluiceError(
        'VAULT_UNREACHABLE',
        'unavailable',
        `Vault ${operation} got no answer within ${this.timeoutMs} ms`,
        context,
      );
    }
    if (kind === 'too-large') {
      return new SluiceError(
        'VAULT_RESPONSE_INVALID',
        'integrity',
        `Vault ${operation} answered more than ${MAX_RESPONSE_BYTES} bytes`,
        context,
      );
    }
    if (kind === 'tls-untrusted') {
      return new SluiceError(
        'VAULT_TLS_UNTRUSTED',
        'unavailable',
        `Vault at ${this.base.origin}: TLS certificate not trusted (${code}); set VAULT_CACERT to the CA that issued it`,
        context,
      );
    }
    const why = this.redact(code ?? (err instanceof Error ? err.message : String(err)));
    return new SluiceError(
      'VAULT_UNREACHABLE',
      'unavailable',
      `cannot reach Vault at ${this.base.origin} (${operation}): ${why}`,
      context,
    );
  }
}

interface TransitKey {
  version: number;
  publicKey: KeyObject;
}

/** A Signer backed by a Vault transit `ecdsa-p256` key. */
export class VaultTransitSigner implements Signer {
  readonly keyRef: string;
  readonly mount: string;
  readonly keyName: string;
  private readonly client: VaultClient;
  private current: Promise<TransitKey> | undefined;

  constructor(ref: string | VaultKeyRef, options: VaultOptions = vaultOptionsFromEnv()) {
    const parsed = typeof ref === 'string' ? parseVaultKeyRef(ref) : ref;
    this.keyRef = parsed.ref;
    this.mount = parsed.mount;
    this.keyName = parsed.name;
    this.client = new VaultClient(options);
  }

  async publicKey(): Promise<KeyObject> {
    return (await this.key()).publicKey;
  }

  /**
   * Signs with the key version whose public key `publicKey()` reports, so a rotation between
   * the two calls cannot produce a signature that the published key does not verify. The
   * returned signature is checked against that key before it is handed out.
   */
  async sign(payload: Uint8Array): Promise<Buffer> {
    const key = await this.key();
    const path = `${this.mount}/sign/${this.keyName}/sha2-256`;
    const res = await this.client.call('POST', path, {
      input: Buffer.from(payload).toString('base64'),
      key_version: key.version,
      marshaling_algorithm: 'asn1',
    });
    const operation = `POST /v1/${path}`;
    const invalid = (why: string) =>
      new SluiceError('VAULT_SIGNATURE_INVALID', 'integrity', `Vault ${operation}: ${why}`, {
        operation,
        vaultAddress: this.client.address,
      });
    const signature = asJson(res.data)?.signature;
    if (typeof signature !== 'string') throw invalid('response has no data.signature');
    const m = /^vault:v(\d+):(.*)$/.exec(signature);
    if (!m) throw invalid('data.signature is not of the form vault:v<N>:<base64>');
    if (Number(m[1]) !== key.version) throw invalid(`signed with key version ${m[1]}, requested ${key.version}`);
    const der = decodeBase64Strict(m[2] ?? '');
    if (!der) throw invalid('data.signature is not standard base64');
    const problem = derSignatureProblem(der);
    if (problem) throw invalid(`${problem} (is marshaling_algorithm asn1 honoured?)`);
    if (!cryptoVerify('sha256', payload, key.publicKey, der)) {
      throw invalid(`the signature does not verify with version ${key.version} of ${this.keyRef}`);
    }
    return der;
  }

  private key(): Promise<TransitKey> {
    this.current ??= this.fetchKey().catch((err: unknown) => {
      this.current = undefined;
      throw err;
    });
    return this.current;
  }

  private async fetchKey(): Promise<TransitKey> {
    const path = `${this.mount}/keys/${this.keyName}`;
    const operation = `GET /v1/${path}`;
    const res = await this.client.call('GET', path);
    const invalid = (why: string) =>
      new SluiceError('VAULT_RESPONSE_INVALID', 'integrity', `Vault ${operation}: ${why}`, {
        operation,
        vaultAddress: this.client.address,
      });
    const data = asJson(res.data);
    if (!data) throw invalid('response has no data object');
    if (data.type !== 'ecdsa-p256') {
      throw new SluiceError(
        'VAULT_KEY_UNSUPPORTED',
        'invalid-input',
        `${this.keyRef} is a "${String(data.type)}" key; cosign-compatible signing needs a transit key of type ecdsa-p256`,
        { operation },
      );
    }
    const version = data.latest_version;
    if (typeof version !== 'number' || !Number.isSafeInteger(version) || version < 1)
      throw invalid('data.latest_version is not a positive integer');
    const entry = asJson(asJson(data.keys)?.[String(version)]);
    const pem = entry?.public_key;
    if (typeof pem !== 'string') throw invalid(`data.keys["${version}"].public_key is missing`);
    let publicKey: KeyObject;
    try {
      publicKey = createPublicKey({ key: pem, format: 'pem' });
    } catch {
      throw invalid(`data.keys["${version}"].public_key is not a PEM public key`);
    }
    if (!isP256(publicKey)) throw invalid(`data.keys["${version}"].public_key is not a P-256 key`);
    return { version, publicKey };
  }
}

function asJson(v: unknown): Json | undefined {
  return v !== null && typeof v === 'object' && !Array.isArray(v) ? (v as Json) : undefined;
}
