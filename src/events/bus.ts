/**
 * The in-process lifecycle event bus. A capability publishes what happened (evidence recorded,
 * tags changed, a promotion succeeded) and other capabilities subscribe to it, so a follow-up
 * such as auto-promotion or a notification is declared once by the capability that owns it
 * instead of being composed by hand in every shell.
 *
 * Subscribers are asynchronous and isolated: a subscriber that throws is reported through
 * `onSubscriberFailure` (logged, audited by the composition root) and never fails the publisher
 * or the other subscribers. Delivery is deterministic: subscribers of one event run one after
 * another in the order they subscribed, each seeing the state the previous one left. Events are
 * not queued behind each other, so a subscriber may publish and await a follow-up event without
 * deadlocking; a publisher that needs order awaits `publish`. `drain()` waits for every pending
 * delivery, including those published by subscribers (tests, CLI exit, server shutdown).
 */
import type { LifecycleEvents } from './types.ts';

export type LifecycleEventName = keyof LifecycleEvents;

export type Subscriber<K extends LifecycleEventName> = (event: LifecycleEvents[K]) => void | Promise<void>;

export interface SubscriberFailure {
  event: LifecycleEventName;
  /** The name given at subscription, so the failure names who failed. */
  subscriber: string;
  error: unknown;
}

export interface EventBusOptions {
  /** Called for every subscriber that throws or rejects; must not throw itself. */
  onSubscriberFailure?: (failure: SubscriberFailure) => void | Promise<void>;
}

/** What a capability needs to publish: nothing about who listens. */
export interface EventPublisher {
  /**
   * Queues delivery and resolves once every subscriber of this event has run (successfully or
   * not). It never rejects, so a publisher may await it or not without risking its own outcome.
   */
  publish<K extends LifecycleEventName>(name: K, event: LifecycleEvents[K]): Promise<void>;
}

export interface EventSubscriptions {
  /** Returns a function that removes the subscription. */
  subscribe<K extends LifecycleEventName>(name: K, subscriber: Subscriber<K>, label?: string): () => void;
}

interface Entry {
  label: string;
  run: (event: unknown) => void | Promise<void>;
}

export class EventBus implements EventPublisher, EventSubscriptions {
  readonly #subscribers = new Map<LifecycleEventName, Entry[]>();
  readonly #onFailure: EventBusOptions['onSubscriberFailure'];
  readonly #pending = new Set<Promise<void>>();

  constructor(options: EventBusOptions = {}) {
    this.#onFailure = options.onSubscriberFailure;
  }

  subscribe<K extends LifecycleEventName>(name: K, subscriber: Subscriber<K>, label?: string): () => void {
    const entry: Entry = {
      label: label ?? (subscriber.name || 'anonymous'),
      run: subscriber as (event: unknown) => void | Promise<void>,
    };
    const list = this.#subscribers.get(name) ?? [];
    list.push(entry);
    this.#subscribers.set(name, list);
    return () => {
      const current = this.#subscribers.get(name);
      const i = current?.indexOf(entry) ?? -1;
      if (current && i >= 0) current.splice(i, 1);
    };
  }

  publish<K extends LifecycleEventName>(name: K, event: LifecycleEvents[K]): Promise<void> {
    // Snapshot now: a subscription added while this event waits in the queue does not see it.
    const entries = [...(this.#subscribers.get(name) ?? [])];
    if (entries.length === 0) return Promise.resolve();
    const delivery = (async () => {
      // Start on a later tick: the publisher's own synchronous work finishes before any subscriber.
      await Promise.resolve();
      for (const entry of entries) await this.#deliver(name, entry, event);
    })().finally(() => this.#pending.delete(delivery));
    this.#pending.add(delivery);
    return delivery;
  }

  /** Number of publications not yet delivered to all their subscribers. */
  get pending(): number {
    return this.#pending.size;
  }

  /**
   * Resolves when every delivery queued so far, and any a subscriber published meanwhile, has
   * finished.
   */
  async drain(): Promise<void> {
    while (this.#pending.size > 0) await Promise.all([...this.#pending]);
  }

  async #deliver(name: LifecycleEventName, entry: Entry, event: unknown): Promise<void> {
    try {
      await entry.run(event);
    } catch (error) {
      try {
        await this.#onFailure?.({ event: name, subscriber: entry.label, error });
      } catch {
        // A failing failure report must not break the delivery chain either.
      }
    }
  }
}
