import { RegistryClient, type RegistryClientOptions } from './client.ts';
import { CredentialStore, type CredentialSource } from './credentials.ts';

/** Per-registry settings that come from configuration or flags. */
export type RegistrySettings = Omit<RegistryClientOptions, 'registry' | 'credentials'>;

export interface RegistryPoolOptions {
  credentials?: CredentialSource;
  /** Keyed by host[:port]. */
  registries?: Record<string, RegistrySettings>;
  /** Applied to every registry without its own entry (e.g. --insecure, --ca-file on the CLI). */
  defaults?: RegistrySettings;
}

/** One client per registry, shared by every operation so connections, tokens and limits are shared too. */
export class RegistryPool {
  private readonly clients = new Map<string, RegistryClient>();
  private readonly options: RegistryPoolOptions;
  private readonly credentials: CredentialSource;

  constructor(options: RegistryPoolOptions = {}) {
    this.options = options;
    this.credentials = options.credentials ?? new CredentialStore();
  }

  get(registry: string): RegistryClient {
    let client = this.clients.get(registry);
    if (!client) {
      const table = this.options.registries;
      // A host named `constructor` has no settings but its own.
      const settings = (table && Object.hasOwn(table, registry) ? table[registry] : undefined) ?? {};
      client = new RegistryClient({ ...this.options.defaults, ...settings, registry, credentials: this.credentials });
      this.clients.set(registry, client);
    }
    return client;
  }

  close(): void {
    for (const c of this.clients.values()) c.close();
    this.clients.clear();
  }
}
