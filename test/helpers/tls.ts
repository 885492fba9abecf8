/**
 * Test certificates made with the `openssl` CLI (Node cannot create X.509 certificates).
 *
 * Keys are EC P-256 by default because they are generated in milliseconds; RSA is available
 * for the token signer, where RS256 is the other algorithm registries commonly see.
 */
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { makeTempDir, run } from './proc.ts';

/** A CA and a server certificate it signed. */
export interface TestPki {
  /** Dir holding every file below. */
  dir: string;
  caFile: string;
  caKeyFile: string;
  caPem: string;
  /** Server certificate, SAN IP:127.0.0.1, IP:127.0.0.2, DNS:localhost. */
  certFile: string;
  keyFile: string;
  certPem: string;
  keyPem: string;
  /**
   * A dir containing only `ca.crt`: the layout skopeo's `--cert-dir` and Docker's `certs.d`
   * expect. It must not hold the server key: skopeo treats `*.key` there as a client key and
   * fails when no matching `*.cert` exists.
   */
  caDir: string;
}

/** A self-signed certificate and its key, used to sign registry tokens. */
export interface SigningMaterial {
  alg: 'ES256' | 'RS256';
  keyFile: string;
  certFile: string;
  keyPem: string;
  certPem: string;
}

const DEFAULT_SANS = ['IP:127.0.0.1', 'IP:127.0.0.2', 'DNS:localhost'];

function keyArgs(kind: 'ec' | 'rsa'): string[] {
  return kind === 'ec' ? ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1'] : ['-newkey', 'rsa:2048'];
}

/**
 * Creates a fresh CA and a server certificate signed by it, in a new temp dir.
 * Most tests want the shared {@link getTestPki}; a second PKI is for "wrong CA" cases.
 */
export async function createPki(options: { sans?: string[]; commonName?: string } = {}): Promise<TestPki> {
  const dir = await makeTempDir('pki');
  const caFile = path.join(dir, 'ca.pem');
  const caKeyFile = path.join(dir, 'ca-key.pem');
  const certFile = path.join(dir, 'server.pem');
  const keyFile = path.join(dir, 'server-key.pem');
  const csrFile = path.join(dir, 'server.csr');
  const extFile = path.join(dir, 'server.ext');
  const sans = options.sans ?? DEFAULT_SANS;

  await run('openssl', [
    'req',
    '-x509',
    ...keyArgs('ec'),
    '-nodes',
    '-keyout',
    caKeyFile,
    '-out',
    caFile,
    '-days',
    '3650',
    '-subj',
    '/CN=Sluice Test CA',
    '-addext',
    'basicConstraints=critical,CA:TRUE',
    '-addext',
    'keyUsage=critical,keyCertSign,cRLSign',
  ]);
  await run('openssl', [
    'req',
    '-new',
    ...keyArgs('ec'),
    '-nodes',
    '-keyout',
    keyFile,
    '-out',
    csrFile,
    '-subj',
    `/CN=${options.commonName ?? 'localhost'}`,
  ]);
  // Go (registry, skopeo) ignores the CN and requires the SAN; Node checks it too.
  await writeFile(
    extFile,
    [
      'basicConstraints=critical,CA:FALSE',
      'keyUsage=critical,digitalSignature,keyEncipherment',
      'extendedKeyUsage=serverAuth,clientAuth',
      `subjectAltName=${sans.join(',')}`,
      '',
    ].join('\n'),
  );
  await run('openssl', [
    'x509',
    '-req',
    '-in',
    csrFile,
    '-CA',
    caFile,
    '-CAkey',
    caKeyFile,
    '-CAcreateserial',
    '-out',
    certFile,
    '-days',
    '825',
    '-sha256',
    '-extfile',
    extFile,
  ]);

  const caDir = path.join(dir, 'certs.d');
  await mkdir(caDir);
  const caPem = await readFile(caFile, 'utf8');
  await writeFile(path.join(caDir, 'ca.crt'), caPem);

  return {
    dir,
    caFile,
    caKeyFile,
    caPem,
    certFile,
    keyFile,
    certPem: await readFile(certFile, 'utf8'),
    keyPem: await readFile(keyFile, 'utf8'),
    caDir,
  };
}

let sharedPki: Promise<TestPki> | undefined;

/** The process-wide test PKI, created on first use. */
export function getTestPki(): Promise<TestPki> {
  if (!sharedPki) {
    sharedPki = createPki();
    // A failed generation must not poison every later test in the process.
    sharedPki.catch(() => {
      sharedPki = undefined;
    });
  }
  return sharedPki;
}

const signing = new Map<SigningMaterial['alg'], Promise<SigningMaterial>>();

async function createSigningMaterial(alg: SigningMaterial['alg']): Promise<SigningMaterial> {
  const dir = await makeTempDir('token-signer');
  const keyFile = path.join(dir, 'signer-key.pem');
  const certFile = path.join(dir, 'signer.pem');
  await run('openssl', [
    'req',
    '-x509',
    ...keyArgs(alg === 'ES256' ? 'ec' : 'rsa'),
    '-nodes',
    '-keyout',
    keyFile,
    '-out',
    certFile,
    '-days',
    '3650',
    '-subj',
    '/CN=Sluice Test Token Signer',
  ]);
  return {
    alg,
    keyFile,
    certFile,
    keyPem: await readFile(keyFile, 'utf8'),
    certPem: await readFile(certFile, 'utf8'),
  };
}

/** The process-wide token signing key and certificate for `alg`, created on first use. */
export function getSigningMaterial(alg: SigningMaterial['alg'] = 'ES256'): Promise<SigningMaterial> {
  let material = signing.get(alg);
  if (!material) {
    material = createSigningMaterial(alg);
    material.catch(() => signing.delete(alg));
    signing.set(alg, material);
  }
  return material;
}
