/**
 * The cluster side of the webhook: ValidatingWebhookConfiguration (and the mutating one
 * when `admission.mutate` is on), `admissionregistration.k8s.io/v1` (k8s.io/api
 * admissionregistration/v1 types.go; Kubernetes docs "Dynamic Admission Control").
 *
 * Failure policy: when Sluice cannot be reached, prod must fail closed and everything else
 * fail open. A namespaceSelector cannot express `*-prod`, so the configuration carries two
 * webhooks told apart by a CEL matchCondition on `request.namespace` (GA in Kubernetes 1.30,
 * beta and on by default since 1.28): `Fail` for the namespaces whose first matching rule
 * enforces, `Ignore` for the rest. Without matchConditions (older clusters) there is one
 * webhook, failing closed when any rule enforces.
 *
 * A Sluice outage must never deadlock its own namespace or the control plane: the
 * namespaceSelector keeps kube-system, Sluice's namespace and `admission.exclude` away from
 * every webhook (`kubernetes.io/metadata.name NotIn [...]`, a label every namespace carries
 * since Kubernetes 1.21).
 */
import { X509Certificate } from 'node:crypto';
import { SluiceError } from '../errors.ts';
import { excludedNamespaces, type AdmissionSettings, type NamespaceRule } from './decide.ts';
import { EPHEMERAL_SUBRESOURCE, WORKLOAD_TYPES } from './workloads.ts';

export const VALIDATE_PATH = '/admission/validate';
export const MUTATE_PATH = '/admission/mutate';
export const WEBHOOK_NAMES = {
  enforced: 'enforced.admission.sluice.dev',
  advisory: 'advisory.admission.sluice.dev',
  single: 'admission.sluice.dev',
  pin: 'pin.admission.sluice.dev',
} as const;

/** The answer comes from cache well before; 5 s leaves the API server room (default 10, max 30). */
export const DEFAULT_TIMEOUT_SECONDS = 5;
const MAX_CA_FILE = 1024 * 1024;
const DNS_LABEL = /^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/;
const NAMESPACE_PATTERN = /^[a-z0-9*?-]{1,63}$/;

export interface ManifestOptions {
  settings: AdmissionSettings;
  /** Namespace Sluice runs in. */
  namespace: string;
  /** Service in front of `sluice serve`. */
  service: string;
  /** Service port (Kubernetes defaults to 443). */
  port?: number;
  /** `caBundleOf(pem)`; leave out when something injects it. */
  caBundle?: string;
  timeoutSeconds?: number;
  /** Split fail-closed and fail-open namespaces with CEL matchConditions (default true). */
  matchConditions?: boolean;
  /** metadata.name of the configurations (default "sluice"). */
  name?: string;
  /** OpenShift's service-ca operator fills and rotates caBundle. */
  openshiftInjectCA?: boolean;
  /** cert-manager's cainjector fills caBundle from this Certificate (`namespace/name`). */
  certManagerCertificate?: string;
}

type Json = { [key: string]: unknown };

function usage(message: string, context: Record<string, unknown> = {}): SluiceError {
  return new SluiceError('ADMISSION_MANIFEST_INVALID', 'invalid-input', message, {
    operation: 'admission-manifests',
    ...context,
  });
}

/**
 * The caBundle for a CA file's text: every certificate in it, base64 of the PEM. `source`
 * names the file in errors. A file with a private key in it is refused: it would end up in
 * a cluster object anyone with read access to webhook configurations can see.
 */
export function caBundleOf(pem: string, source: string): string {
  if (pem.length > MAX_CA_FILE) throw usage(`${source}: CA file is larger than 1 MiB`, { location: source });
  if (/-----BEGIN [A-Z ]*PRIVATE KEY-----/.test(pem)) {
    throw usage(`${source}: the file contains a private key; give the CA certificate only`, { location: source });
  }
  const blocks = pem.match(/-----BEGIN CERTIFICATE-----[\s\S]*?-----END CERTIFICATE-----/g) ?? [];
  if (blocks.length === 0) {
    throw usage(`${source}: no PEM certificate (-----BEGIN CERTIFICATE-----) found`, { location: source });
  }
  blocks.forEach((block, i) => {
    try {
      new X509Certificate(block);
    } catch (err) {
      throw usage(`${source}: certificate ${i + 1} does not parse (${(err as Error).message})`, { location: source });
    }
  });
  return Buffer.from(`${blocks.join('\n')}\n`, 'utf8').toString('base64');
}

/** RE2 (CEL `matches`) for a namespace glob, the same language as `namespaceMatches`. */
export function namespaceRegex(pattern: string): string {
  if (!NAMESPACE_PATTERN.test(pattern)) {
    throw usage(`namespace pattern "${pattern}" must use lowercase letters, digits, "-", "*" and "?"`);
  }
  return `^${pattern.replace(/\*/g, '.*').replace(/\?/g, '.')}$`;
}

/**
 * CEL that is true for the namespaces whose first matching rule enforces; undefined when
 * no rule enforces. `X ? true : Y` is written `X || Y` and `X ? false : Y` as `!X && Y`.
 */
export function enforcedNamespaceCondition(rules: readonly NamespaceRule[]): string | undefined {
  let expr = 'false';
  for (const rule of [...rules].reverse()) {
    const m = `request.namespace.matches('${namespaceRegex(rule.pattern)}')`;
    if (rule.mode === 'enforce') expr = expr === 'false' ? m : `${m} || (${expr})`;
    else expr = expr === 'false' ? 'false' : `!${m} && (${expr})`;
  }
  return expr === 'false' ? undefined : expr;
}

function rules(): Json[] {
  const groups = new Map<string, { version: string; resources: string[] }>();
  for (const t of WORKLOAD_TYPES) {
    const g = groups.get(t.group) ?? { version: t.version, resources: [] };
    g.resources.push(t.resource);
    if (t.kind === 'Pod') g.resources.push(`${t.resource}/${EPHEMERAL_SUBRESOURCE}`);
    groups.set(t.group, g);
  }
  return [...groups].map(([group, g]) => ({
    apiGroups: [group],
    apiVersions: [g.version],
    operations: ['CREATE', 'UPDATE'],
    resources: g.resources,
    scope: 'Namespaced',
  }));
}

/** Every namespace never sent to the webhooks. */
export function namespaceSelector(settings: AdmissionSettings, sluiceNamespace: string): Json {
  return {
    matchExpressions: [
      { key: 'kubernetes.io/metadata.name', operator: 'NotIn', values: excludedNamespaces(settings, sluiceNamespace) },
    ],
  };
}

/** The configurations to apply, validating first. */
export function admissionWebhookConfigurations(options: ManifestOptions): Json[] {
  const { settings, namespace, service } = options;
  if (!DNS_LABEL.test(namespace)) throw usage(`--namespace "${namespace}" is not a namespace name`);
  if (!DNS_LABEL.test(service)) throw usage(`--service "${service}" is not a service name`);
  const timeoutSeconds = options.timeoutSeconds ?? DEFAULT_TIMEOUT_SECONDS;
  if (!Number.isInteger(timeoutSeconds) || timeoutSeconds < 1 || timeoutSeconds > 30) {
    throw usage(
      `timeout must be a whole number of seconds from 1 to 30 (the API server's range), not ${timeoutSeconds}`,
    );
  }
  const port = options.port ?? 443;
  if (!Number.isInteger(port) || port < 1 || port > 65535) throw usage(`port ${port} is out of range`);
  for (const name of settings.exclude) {
    if (!DNS_LABEL.test(name)) throw usage(`admission.exclude entry "${name}" is not a namespace name`);
  }
  const cert = options.certManagerCertificate;
  if (cert !== undefined && !/^[a-z0-9-]+\/[a-z0-9.-]+$/.test(cert)) {
    throw usage(`cert-manager certificate "${cert}" must be namespace/name`);
  }

  const name = options.name ?? 'sluice';
  const annotations: Record<string, string> = {};
  if (options.openshiftInjectCA) annotations['service.beta.openshift.io/inject-cabundle'] = 'true';
  if (cert !== undefined) annotations['cert-manager.io/inject-ca-from'] = cert;
  const metadata: Json = {
    name,
    labels: { 'app.kubernetes.io/name': 'sluice', 'app.kubernetes.io/component': 'admission' },
  };
  if (Object.keys(annotations).length > 0) metadata.annotations = annotations;

  const clientConfig = (path: string): Json => {
    const c: Json = { service: { namespace, name: service, path, port } };
    if (options.caBundle !== undefined) c.caBundle = options.caBundle;
    return c;
  };
  const common = (webhookName: string, path: string, failurePolicy: 'Fail' | 'Ignore'): Json => ({
    name: webhookName,
    admissionReviewVersions: ['v1'],
    sideEffects: 'None',
    timeoutSeconds,
    failurePolicy,
    matchPolicy: 'Equivalent',
    clientConfig: clientConfig(path),
    namespaceSelector: namespaceSelector(settings, namespace),
    rules: rules(),
  });

  const enforced = enforcedNamespaceCondition(settings.namespaces);
  const everywhere =
    settings.namespaces.every((r) => r.mode === 'enforce') && settings.namespaces.some((r) => /^\*+$/.test(r.pattern));
  let webhooks: Json[];
  if (enforced === undefined) webhooks = [common(WEBHOOK_NAMES.single, VALIDATE_PATH, 'Ignore')];
  else if (everywhere || options.matchConditions === false) {
    webhooks = [common(WEBHOOK_NAMES.single, VALIDATE_PATH, 'Fail')];
  } else {
    webhooks = [
      {
        ...common(WEBHOOK_NAMES.enforced, VALIDATE_PATH, 'Fail'),
        matchConditions: [{ name: 'enforced-namespace', expression: enforced }],
      },
      {
        ...common(WEBHOOK_NAMES.advisory, VALIDATE_PATH, 'Ignore'),
        matchConditions: [{ name: 'not-enforced-namespace', expression: `!(${enforced})` }],
      },
    ];
  }

  const out: Json[] = [
    { apiVersion: 'admissionregistration.k8s.io/v1', kind: 'ValidatingWebhookConfiguration', metadata, webhooks },
  ];
  if (settings.mutate) {
    out.push({
      apiVersion: 'admissionregistration.k8s.io/v1',
      kind: 'MutatingWebhookConfiguration',
      metadata: structuredClone(metadata),
      webhooks: [
        // Pinning only spares running workloads a moved tag; the validating webhook, which
        // sees the pinned object, still decides. So an outage here fails open everywhere,
        // and reinvocation pins again after other mutators rewrote an image.
        { ...common(WEBHOOK_NAMES.pin, MUTATE_PATH, 'Ignore'), reinvocationPolicy: 'IfNeeded' },
      ],
    });
  }
  return out;
}
