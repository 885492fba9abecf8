/**
 * The composition root: loads the policy, opens the store, builds registry clients from the
 * policy's registry list, and wires audit and inventory. The CLI and the server both start
 * here and hold no wiring of their own.
 */
import { resolve } from 'node:path';
import { appendAudit, SyslogForwarder, type AuditInput, type AuditRecord, type AuditSink } from './audit/index.ts';
import type { InventoryDeps, RepositoryClass } from './inventory/sync.ts';
import type { RegistryRef } from './oci/registry-ref.ts';
import type { CredentialSource } from './oci/credentials.ts';
import { CredentialStore } from './oci/credentials.ts';
import { RegistryPool, type RegistrySettings } from './oci/pool.ts';
import {
  DEFAULT_POLICY_FILE,
  loadPolicy,
  parseRepositoryPath,
  teamByName,
  type LifecyclePolicy,
  type Registry,
} from './policy/index.ts';
import { openStore, type Store, type StoreTx } from './store/index.ts';
import { lifecycleEvent, type LifecycleEventType } from './notify/event.ts';
import { NotificationHub } from './notify/hub.ts';
import { registrySettings } from './registries/settings.ts';
import { EventBus } from './events/index.ts';
import { immutableVersionTagRule, tagChangeNotice } from './promotion/governance.ts';

export interface RuntimeOptions {
  /** Policy file; default ./sluice.yaml. */
  configPath?: string;
  /** `SLUICE_DATABASE_URL`; SQLite under `.sluice/` when absent. */
  databaseUrl?: string;
  /** Directory of `.sluice/`; default the policy file's directory. */
  dataDir?: string;
  env?: NodeJS.ProcessEnv;
  /** Flags (--insecure, --ca-file) for registries the policy does not list. */
  registryDefaults?: RegistrySettings;
  /** Extra credential files (--authfile). */
  authFile?: string;
  clock?: () => Date;
}

export interface Runtime {
  policy: LifecyclePolicy;
  policyPath: string;
  /** The environment secrets and passwords are read from. */
  env: NodeJS.ProcessEnv;
  store: Store;
  pool: RegistryPool;
  /** Registry credentials (policy secrets first, then the user's auth files). */
  credentials: CredentialSource;
  /** Appends to the hash-chained audit log (inside `h`'s transaction when it is one). */
  audit(h: Store | StoreTx, input: AuditInput): Promise<AuditRecord>;
  inventory: InventoryDeps;
  /** Registries of the policy, as the inventory names them. */
  registries: RegistryRef[];
  /** Finds the policy registry for an image reference's host[:port]. */
  registryForHost(host: string): RegistryRef | undefined;
  /**
   * Sends a lifecycle event to the policy's notification channels that subscribe to it. Never
   * throws; delivery failures go to `onNotificationFailure`. `close()` waits for deliveries.
   */
  notify(
    type: LifecycleEventType,
    event: { subject: string; summary: string; data?: Record<string, unknown> },
  ): Promise<void>;
  onNotificationFailure?: (channel: string, message: string) => void;
  /** The lifecycle event bus; `close()` waits for its deliveries. */
  events: EventBus;
  /** Told about a bus subscriber that failed (after the failure is audited). */
  onSubscriberFailure?: (event: string, subscriber: string, message: string) => void;
  now(): number;
  close(): Promise<void>;
}

/** Bus events the notification channels hear about (each carries a Notice). */
const NOTIFIED_EVENTS = [
  'promotion.succeeded',
  'promotion.failed',
  'gate.failed',
  'rollback.succeeded',
  'retention.notice',
  'retention.applied',
  'compliance.violation',
] as const;

export function registryRef(r: Registry): RegistryRef {
  return {
    name: r.name,
    host: r.host,
    url: r.url,
    kind: r.kind,
    ...(r.limits.syncTimeoutMs !== undefined ? { syncTimeoutMs: r.limits.syncTimeoutMs } : {}),
  };
}

export function classifier(policy: LifecyclePolicy, registryName: string): (repository: string) => RepositoryClass {
  return (repository) => {
    const owner = parseRepositoryPath(policy, repository, { registry: registryName });
    if (!owner) return { team: null, stage: null, category: null };
    const team = teamByName(policy, owner.team);
    return { team: owner.team, stage: owner.stage, category: team?.category ?? null };
  };
}

export async function openRuntime(options: RuntimeOptions = {}): Promise<Runtime> {
  const env = options.env ?? process.env;
  const policyPath = resolve(options.configPath ?? DEFAULT_POLICY_FILE);
  const policy = await loadPolicy(policyPath);
  const { settings, credentials } = await registrySettings(policy, env);
  const credEnv = options.authFile ? { ...env, REGISTRY_AUTH_FILE: options.authFile } : env;
  const credentialStore = new CredentialStore({ env: credEnv, explicit: credentials });
  const pool = new RegistryPool({
    registries: settings,
    credentials: credentialStore,
    defaults: options.registryDefaults,
  });
  const clock = options.clock ?? (() => new Date());
  const store = await openStore({
    url: options.databaseUrl ?? env.SLUICE_DATABASE_URL,
    dataDir: options.dataDir ?? policy.baseDir,
    clock,
  });
  const sinks: AuditSink[] = [];
  let syslog: SyslogForwarder | undefined;
  if (policy.audit.syslog) {
    const [host, port] = splitHostPort(policy.audit.syslog.address);
    syslog = new SyslogForwarder({ host, port, appName: policy.audit.syslog.appName });
    sinks.push(syslog);
  }
  const audit = (h: Store | StoreTx, input: AuditInput) => appendAudit(h, input, { sinks });
  const registries = policy.registries.map(registryRef);
  const byHost = new Map(registries.map((r) => [r.host, r]));
  const now = () => clock().getTime();
  const hub = policy.notifications.length ? NotificationHub.fromPolicy(policy, { env }) : undefined;
  const deliveries = new Set<Promise<void>>();
  const events = new EventBus({
    onSubscriberFailure: async ({ event, subscriber, error }) => {
      const message = error instanceof Error ? error.message : String(error);
      runtime.onSubscriberFailure?.(event, subscriber, message);
      await audit(store, {
        actor: 'system:events',
        action: 'event.subscriber-failed',
        reason: `${subscriber} failed on ${event}: ${message}`,
        result: 'failure',
      });
    },
  });
  const inventory: InventoryDeps = {
    store,
    client: (host) => pool.get(host),
    classify: (repository) => classifier(policy, registries[0]?.name ?? '')(repository),
    audit: async (tx, input) => {
      await audit(tx, input);
    },
    now,
  };
  const runtime: Runtime = {
    policy,
    policyPath,
    env,
    store,
    pool,
    credentials: credentialStore,
    audit,
    inventory,
    registries,
    registryForHost: (host) => byHost.get(host.toLowerCase()),
    now,
    events,
    notify(type, event) {
      if (!hub) return Promise.resolve();
      const delivery = hub
        .publish(lifecycleEvent(type, { ...event, time: clock() }))
        .then((results) => {
          for (const r of results)
            if (!r.ok) runtime.onNotificationFailure?.(r.channel, r.error?.message ?? 'delivery failed');
        })
        .finally(() => deliveries.delete(delivery));
      deliveries.add(delivery);
      return delivery;
    },
    async close() {
      await events.drain();
      await Promise.allSettled([...deliveries]);
      pool.close();
      await syslog?.close();
      await store.close();
    },
  };
  // Notifications follow events published on the bus instead of being sent by hand.
  for (const type of NOTIFIED_EVENTS)
    events.subscribe(
      type,
      (e) => runtime.notify(type, { subject: e.subject, summary: e.summary, data: e.data }),
      'notify',
    );
  return runtime;
}

/** Inventory dependencies bound to one registry (its classifier differs per registry). */
export function inventoryFor(rt: Runtime, reg: RegistryRef): InventoryDeps {
  const classify = classifier(rt.policy, reg.name);
  return {
    ...rt.inventory,
    classify,
    onViolation: (v) => void rt.events.publish('compliance.violation', tagChangeNotice(reg, v)),
    immutableTagViolation: immutableVersionTagRule(rt.policy, classify),
  };
}

function splitHostPort(address: string): [string, number] {
  const i = address.lastIndexOf(':');
  return [address.slice(0, i).replace(/^\[|\]$/g, ''), Number(address.slice(i + 1))];
}
