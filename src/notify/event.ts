/**
 * What Sluice tells the outside world about: one lifecycle event (a promotion succeeded, a gate
 * failed, ...) that every matching notification channel receives. Channels render it their own
 * way (a Slack message, a CloudEvent); the event itself is transport-neutral.
 */
import { randomUUID } from 'node:crypto';
import type { NotificationEvent } from '../policy/schema.ts';

/** Event types a lifecycle event can have: the policy's list without the `*` wildcard. */
export type LifecycleEventType = Exclude<NotificationEvent, '*'>;

export interface LifecycleEvent {
  type: LifecycleEventType;
  /** A UUID; receivers de-duplicate retried deliveries on it (`Idempotency-Key`). */
  id: string;
  time: Date;
  /** What the event is about, e.g. `registry/repo@sha256:...`. */
  subject: string;
  /** One human-readable line. */
  summary: string;
  /**
   * Details. Well-known keys that channels show prominently: `stage`, `actor`, `result`.
   * Must be JSON-serialisable and must not hold secrets.
   */
  data: Record<string, unknown>;
}

/** A destination for lifecycle events. `signal` cuts a delivery short (the hub's timeout). */
export interface Notifier {
  send(event: LifecycleEvent, signal?: AbortSignal): Promise<void>;
}

/** A new event with a fresh id, stamped now unless `time` is given. */
export function lifecycleEvent(
  type: LifecycleEventType,
  fields: { subject: string; summary: string; data?: Record<string, unknown>; time?: Date; id?: string },
): LifecycleEvent {
  return {
    type,
    id: fields.id ?? randomUUID(),
    time: fields.time ?? new Date(),
    subject: fields.subject,
    summary: fields.summary,
    data: fields.data ?? {},
  };
}

/** `promotion.succeeded` → `Promotion succeeded`, `audit.chain-broken` → `Audit chain broken`. */
export function eventTitle(type: LifecycleEventType): string {
  const words = type.replace(/[.-]/g, ' ');
  return words.charAt(0).toUpperCase() + words.slice(1);
}
