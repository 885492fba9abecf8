/**
 * A local HTTP server answering with the request and response shapes of Vault's documented
 * HTTP API: transit "Read Key" and "Sign Data", Kubernetes auth "Login", and Vault's
 * `{"errors": [...]}` error body. It signs with real P-256 keys, so callers can check the
 * signatures they get back. Shared by the unit tests and the signing integration tests.
 */
import { generateKeyPairSync, sign, type KeyObject } from 'node:crypto';
import http, { type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after } from 'node:test';

export interface Seen {
  method: string;
  url: string;
  headers: http.IncomingHttpHeaders;
  body: Record<string, unknown> | undefined;
}

export interface FakeVaultOptions {
  tokens?: Set<string>;
  keyType?: string;
  /** Overrides the sign response's `data.signature`. */
  signature?: (payload: Buffer, version: number) => string;
  /** Answers the next n authenticated requests with 403 even for a valid token. */
  expireNext?: number;
  role?: string;
  jwt?: string;
  authMount?: string;
  errorText?: string;
}

export class FakeVault {
  readonly seen: Seen[] = [];
  readonly keys = new Map<number, { privateKey: KeyObject; publicKey: KeyObject }>([
    [1, generateKeyPairSync('ec', { namedCurve: 'P-256' })],
    [2, generateKeyPairSync('ec', { namedCurve: 'P-256' })],
  ]);
  readonly opts: FakeVaultOptions;
  logins = 0;
  issued = 0;

  constructor(opts: FakeVaultOptions = {}) {
    this.opts = opts;
  }

  handler = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    const raw = Buffer.concat(chunks).toString();
    const body = raw ? (JSON.parse(raw) as Record<string, unknown>) : undefined;
    this.seen.push({ method: req.method ?? '', url: req.url ?? '', headers: req.headers, body });
    const send = (status: number, doc: unknown) => {
      res.writeHead(status, { 'content-type': 'application/json' });
      res.end(JSON.stringify(doc));
    };
    const tokens = this.opts.tokens ?? new Set(['hvs.static-token']);
    const authMount = this.opts.authMount ?? 'kubernetes';

    if (req.method === 'POST' && req.url === `/v1/auth/${authMount}/login`) {
      if (body?.role !== (this.opts.role ?? 'sluice') || body?.jwt !== this.opts.jwt)
        return send(403, { errors: ['permission denied'] });
      this.logins++;
      const token = `hvs.k8s-${++this.issued}`;
      tokens.add(token);
      return send(200, {
        request_id: 'r',
        auth: {
          client_token: token,
          accessor: 'afa306d0-be3d-c8d2-b0d7-2676e1c0d9b4',
          policies: ['default'],
          metadata: { role: 'sluice', service_account_name: 'sluice', service_account_namespace: 'ci' },
          lease_duration: 2764800,
          renewable: true,
        },
      });
    }
    const token = req.headers['x-vault-token'];
    if (typeof token !== 'string' || !tokens.has(token))
      return send(403, { errors: [this.opts.errorText ?? 'permission denied'] });
    if (this.opts.expireNext) {
      this.opts.expireNext--;
      tokens.delete(token);
      return send(403, { errors: ['permission denied'] });
    }
    if (req.method === 'GET' && req.url === '/v1/transit/keys/release') {
      const keys = Object.fromEntries(
        [...this.keys].map(([v, k]) => [
          String(v),
          {
            creation_time: '2026-01-02T03:04:05.000000Z',
            name: 'P-256',
            public_key: k.publicKey.export({ type: 'spki', format: 'pem' }),
          },
        ]),
      );
      return send(200, {
        request_id: 'r',
        data: {
          type: this.opts.keyType ?? 'ecdsa-p256',
          name: 'release',
          latest_version: 2,
          min_decryption_version: 1,
          min_encryption_version: 0,
          keys,
          supports_signing: true,
          exportable: false,
          deletion_allowed: false,
        },
      });
    }
    if (req.method === 'POST' && req.url === '/v1/transit/sign/release/sha2-256') {
      const version = Number(body?.key_version ?? 2);
      const key = this.keys.get(version);
      if (!key || typeof body?.input !== 'string') return send(400, { errors: ['invalid key version or input'] });
      const payload = Buffer.from(body.input, 'base64');
      const signature = this.opts.signature
        ? this.opts.signature(payload, version)
        : `vault:v${version}:${sign('sha256', payload, key.privateKey).toString('base64')}`;
      return send(200, { request_id: 'r', data: { signature, key_version: version } });
    }
    return send(404, { errors: [] });
  };
}

/** Serves `vault` on a random loopback port until the test file ends; returns its address. */
export async function serve(vault: FakeVault): Promise<string> {
  const server = http.createServer((req, res) => void vault.handler(req, res));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  after(() => server.close());
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}
