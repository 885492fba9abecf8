/**
 * Real workload objects and the AdmissionReviews an API server wraps them in.
 *
 * Objects come from Debian's `kubectl` in client dry-run (`kubectl create deployment|job|
 * cronjob ... --dry-run=client -o json`, `kubectl run ... --dry-run=client -o json`), so their
 * shape is kubectl's, not ours. `kubectl run` asks the server's discovery endpoints which
 * resources exist even in client dry-run; no API server runs here, so a loopback stand-in
 * answers exactly those discovery calls (`/version`, `/api`, `/apis`, `/api/v1`) and nothing
 * else. kubectl never reads the user's kubeconfig or cache: both point into a temp dir.
 *
 * The review is built the way kube-apiserver builds it (k8s.io/apiserver
 * `pkg/admission/plugin/webhook/request/admissionreview.go` CreateV1AdmissionReview, over the
 * k8s.io/api `admission/v1/types.go` fields): `kind`/`resource` of the matched rule (equal to
 * `requestKind`/`requestResource` when no conversion happened), `name` (empty under
 * generateName), `namespace`, `operation`, `userInfo`, `object` (after defaulting; for
 * validating webhooks also after `metadata.uid` and `creationTimestamp` are set), `oldObject`
 * (UPDATE only, null otherwise), `dryRun`, and `options` (`CreateOptions`/`UpdateOptions` of
 * `meta.k8s.io/v1`). Defaults the server would add that do not touch images are left out.
 */
import { randomUUID } from 'node:crypto';
import { writeFile } from 'node:fs/promises';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { makeTempDir, run } from './proc.ts';

export type JsonObject = { [key: string]: unknown };

let discovery: Promise<{ url: string; dir: string }> | undefined;

/** The discovery stand-in and the temp dir for kubectl's config and cache, started once. */
function kubectlEnvironment(): Promise<{ url: string; dir: string }> {
  discovery ??= (async () => {
    const dir = await makeTempDir('kubectl');
    await writeFile(path.join(dir, 'config'), '');
    const server = http.createServer((req, res) => {
      const url = (req.url ?? '').split('?')[0];
      const body =
        url === '/version'
          ? { major: '1', minor: '32', gitVersion: 'v1.32.0' }
          : url === '/api'
            ? { kind: 'APIVersions', versions: ['v1'], serverAddressByClientCIDRs: [] }
            : url === '/apis'
              ? { kind: 'APIGroupList', apiVersion: 'v1', groups: [] }
              : url === '/api/v1'
                ? {
                    kind: 'APIResourceList',
                    groupVersion: 'v1',
                    resources: [
                      { name: 'pods', singularName: 'pod', namespaced: true, kind: 'Pod', verbs: ['create', 'get'] },
                    ],
                  }
                : undefined;
      res.setHeader('content-type', 'application/json');
      if (body === undefined) res.statusCode = 404;
      res.end(JSON.stringify(body ?? { kind: 'Status', status: 'Failure', code: 404 }));
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    server.unref();
    return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, dir };
  })();
  return discovery;
}

/** Runs `kubectl <args> --dry-run=client -o json` and returns the object it prints. */
export async function kubectlObject(args: readonly string[]): Promise<JsonObject> {
  const env = await kubectlEnvironment();
  const { stdout } = await run(
    'kubectl',
    [...args, '--dry-run=client', '-o', 'json', `--server=${env.url}`, `--cache-dir=${path.join(env.dir, 'cache')}`],
    { env: { ...process.env, KUBECONFIG: path.join(env.dir, 'config'), HOME: env.dir }, timeoutMs: 30_000 },
  );
  return JSON.parse(stdout.toString('utf8')) as JsonObject;
}

const PLURALS: Record<string, string> = {
  Pod: 'pods',
  Deployment: 'deployments',
  ReplicaSet: 'replicasets',
  StatefulSet: 'statefulsets',
  DaemonSet: 'daemonsets',
  Job: 'jobs',
  CronJob: 'cronjobs',
  DeploymentConfig: 'deploymentconfigs',
  Service: 'services',
};

export interface ReviewOptions {
  operation?: 'CREATE' | 'UPDATE' | 'DELETE';
  oldObject?: JsonObject;
  uid?: string;
  /** Defaults to the object's namespace, else "default". */
  namespace?: string;
  subResource?: string;
  username?: string;
  groups?: string[];
  dryRun?: boolean;
  /** For a validating webhook the server has already set metadata.uid and creationTimestamp (default true). */
  validating?: boolean;
}

/** An AdmissionReview request for `object`, as the API server sends it. */
export function admissionReview(object: JsonObject, options: ReviewOptions = {}): JsonObject {
  const apiVersion = String(object.apiVersion);
  const kind = String(object.kind);
  const [group, version] = apiVersion.includes('/') ? apiVersion.split('/') : ['', apiVersion];
  const metadata = { ...((object.metadata as JsonObject | undefined) ?? {}) };
  const namespace = options.namespace ?? (typeof metadata.namespace === 'string' ? metadata.namespace : 'default');
  const operation = options.operation ?? 'CREATE';
  metadata.namespace = namespace;
  if (options.validating !== false && operation === 'CREATE') {
    metadata.uid = randomUUID();
    metadata.creationTimestamp = new Date().toISOString().replace(/\.\d{3}Z$/, 'Z');
  }
  const gvk = { group, version, kind };
  const gvr = { group, version, resource: PLURALS[kind] ?? `${kind.toLowerCase()}s` };
  const request: JsonObject = {
    uid: options.uid ?? randomUUID(),
    kind: gvk,
    resource: gvr,
    requestKind: gvk,
    requestResource: gvr,
    name: typeof metadata.name === 'string' ? metadata.name : '',
    namespace,
    operation,
    userInfo: {
      username: options.username ?? 'kubernetes-admin',
      groups: options.groups ?? ['system:masters', 'system:authenticated'],
    },
    object: operation === 'DELETE' ? null : { ...object, metadata },
    oldObject: operation === 'CREATE' ? null : (options.oldObject ?? null),
    dryRun: options.dryRun ?? false,
    options:
      operation === 'CREATE'
        ? {
            kind: 'CreateOptions',
            apiVersion: 'meta.k8s.io/v1',
            fieldManager: 'kubectl-create',
            fieldValidation: 'Strict',
          }
        : operation === 'UPDATE'
          ? {
              kind: 'UpdateOptions',
              apiVersion: 'meta.k8s.io/v1',
              fieldManager: 'kubectl-edit',
              fieldValidation: 'Strict',
            }
          : { kind: 'DeleteOptions', apiVersion: 'meta.k8s.io/v1', propagationPolicy: 'Background' },
  };
  if (options.subResource !== undefined) {
    request.subResource = options.subResource;
    request.requestSubResource = options.subResource;
  }
  return { kind: 'AdmissionReview', apiVersion: 'admission.k8s.io/v1', request };
}

/** The workload kinds kubectl cannot create, built from a kubectl Deployment's pod template. */
export function fromDeployment(
  deployment: JsonObject,
  kind: 'ReplicaSet' | 'StatefulSet' | 'DaemonSet' | 'DeploymentConfig',
): JsonObject {
  const spec = structuredClone(deployment.spec) as JsonObject;
  const metadata = structuredClone(deployment.metadata) as JsonObject;
  delete spec.strategy;
  if (kind === 'StatefulSet') spec.serviceName = String(metadata.name);
  if (kind === 'DaemonSet') delete spec.replicas;
  if (kind === 'DeploymentConfig') {
    // apps.openshift.io/v1 selects with a plain map and has its own strategy and triggers.
    spec.selector = (spec.selector as JsonObject).matchLabels;
    spec.triggers = [{ type: 'ConfigChange' }];
    return { kind, apiVersion: 'apps.openshift.io/v1', metadata, spec, status: {} };
  }
  return { kind, apiVersion: 'apps/v1', metadata, spec, status: {} };
}
