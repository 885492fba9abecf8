/** A registry the policy lists, as capabilities name it (store key) and reach it (host, URL). */
export interface RegistryRef {
  /** The policy's registry name (store key). */
  name: string;
  /** host[:port] as in image references. */
  host: string;
  url: string;
  kind: string;
  /** How long one sync of this registry may take (the policy's `limits.syncTimeout`). */
  syncTimeoutMs?: number;
}
