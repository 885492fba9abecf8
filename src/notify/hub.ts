/**
 * Fans one lifecycle event out to every notification channel of the policy that subscribes to
 * it. Notifications are a side channel: `publish` never throws, a failing or hanging channel
 * never delays the others beyond its own timeout, and every outcome is returned (and passed to
 * `onResult`) so the caller can log and count failures.
 *
 * Channel secrets (the webhook URL, the HMAC key) are resolved on first use, so a policy whose
 * secrets are missing on this machine still loads; a channel whose secret cannot be resolved
 * fails each delivery (with the reason, never the value) until it can.
 */
import { SluiceError, asSluiceError } from '../errors.ts';
import type { LifecyclePolicy, Notification, NotificationKind } from '../policy/schema.ts';
import { resolveSecretRef } from '../policy/secrets.ts';
import type { LifecycleEvent, LifecycleEventType, Notifier } from './event.ts';
import { OutboundClient, formatMs } from '../http/index.ts';
import { describeTarget } from './http.ts';
import { SlackNotifier, type SlackNotifierOptions } from './slack.ts';
import { WebhookNotifier, type WebhookNotifierOptions } from './webhook.ts';

export const DEFAULT_CHANNEL_TIMEOUT_MS = 10_000;

export interface DeliveryResult {
  channel: string;
  kind: NotificationKind;
  eventId: string;
  eventType: LifecycleEventType;
  ok: boolean;
  /** Why the delivery failed; its message and context never hold the URL or a secret. */
  error?: SluiceError;
  durationMs: number;
}

export interface NotificationHubOptions {
  /** Directory relative `file:` references resolve against (the policy's `baseDir`). */
  baseDir?: string;
  env?: NodeJS.ProcessEnv;
  /** Whole delivery to one channel, retries included; default 10 s. */
  timeoutMs?: number;
  /** Outbound HTTP for every channel; default one client for this hub. */
  client?: OutboundClient;
  /** Called once per channel and event; exceptions it throws are ignored. */
  onResult?: (result: DeliveryResult) => void;
  slack?: Pick<SlackNotifierOptions, 'timeoutMs' | 'maxRetryAfterMs'>;
  webhook?: Pick<WebhookNotifierOptions, 'timeoutMs' | 'attempts' | 'retryDelayMs' | 'maxRetryAfterMs'>;
  /** Builds a channel's notifier from its resolved URL and secret (other transports, tests). */
  createNotifier?: (channel: Notification, url: string, secret: string | undefined) => Notifier;
}

export class NotificationHub {
  readonly #channels: readonly Notification[];
  readonly #options: NotificationHubOptions;
  readonly #notifiers = new Map<string, Promise<Notifier>>();
  #client: OutboundClient | undefined;

  constructor(channels: readonly Notification[], options: NotificationHubOptions = {}) {
    this.#channels = channels;
    this.#options = options;
  }

  static fromPolicy(
    policy: Pick<LifecyclePolicy, 'notifications' | 'baseDir'>,
    options: NotificationHubOptions = {},
  ): NotificationHub {
    return new NotificationHub(policy.notifications, { baseDir: policy.baseDir, ...options });
  }

  /** The channels an event of this type goes to, in policy order. */
  channelsFor(type: LifecycleEventType): Notification[] {
    return this.#channels.filter((c) => c.events.includes('*') || c.events.includes(type));
  }

  /** Delivers to every matching channel concurrently; resolves when all are done. Never rejects. */
  async publish(event: LifecycleEvent): Promise<DeliveryResult[]> {
    return Promise.all(this.channelsFor(event.type).map((channel) => this.#deliver(channel, event)));
  }

  async #deliver(channel: Notification, event: LifecycleEvent): Promise<DeliveryResult> {
    const started = performance.now();
    const timeoutMs = this.#options.timeoutMs ?? DEFAULT_CHANNEL_TIMEOUT_MS;
    const target = { channel: channel.name, adapter: channel.kind };
    const controller = new AbortController();
    let timer: NodeJS.Timeout | undefined;
    const deadline = new Promise<never>((_, reject) => {
      timer = setTimeout(() => {
        controller.abort();
        reject(
          new SluiceError(
            'NOTIFY_TIMEOUT',
            'unavailable',
            `${describeTarget(target)}: not delivered within ${formatMs(timeoutMs)}`,
            { ...target, reason: 'timeout' },
          ),
        );
      }, timeoutMs);
    });
    let error: SluiceError | undefined;
    try {
      // The race also ends a notifier that ignores the abort signal.
      await Promise.race([this.#notifier(channel).then((n) => n.send(event, controller.signal)), deadline]);
    } catch (err) {
      error = asSluiceError(err);
      if (error.code === 'INTERNAL') {
        // An unexpected exception's text is not ours to repeat: it might quote the URL.
        error = new SluiceError(
          'NOTIFY_FAILED',
          'internal',
          `${describeTarget(target)}: delivery failed unexpectedly`,
          {
            ...target,
          },
        );
      }
    } finally {
      clearTimeout(timer);
    }
    const result: DeliveryResult = {
      channel: channel.name,
      kind: channel.kind,
      eventId: event.id,
      eventType: event.type,
      ok: error === undefined,
      durationMs: Math.round(performance.now() - started),
      ...(error ? { error } : {}),
    };
    try {
      this.#options.onResult?.(result);
    } catch {
      // A failing observer must not turn a notification into a failed operation.
    }
    return result;
  }

  /** Resolves the channel's secrets once; a failed resolution is retried on the next event. */
  #notifier(channel: Notification): Promise<Notifier> {
    let p = this.#notifiers.get(channel.name);
    if (!p) {
      p = this.#build(channel);
      this.#notifiers.set(channel.name, p);
      p.catch(() => this.#notifiers.delete(channel.name));
    }
    return p;
  }

  async #build(channel: Notification): Promise<Notifier> {
    const target = { channel: channel.name, adapter: channel.kind };
    const opts = { baseDir: this.#options.baseDir, env: this.#options.env };
    let url: string;
    let secret: string | undefined;
    try {
      url = (await resolveSecretRef(channel.url, opts)).trim();
      if (channel.kind === 'webhook' && channel.secret !== undefined)
        secret = await resolveSecretRef(channel.secret, opts);
    } catch (err) {
      const e = asSluiceError(err);
      throw new SluiceError(e.code, e.category, `${describeTarget(target)}: ${e.message}`, { ...e.context, ...target });
    }
    if (this.#options.createNotifier) return this.#options.createNotifier(channel, url, secret);
    const common = { name: channel.name, client: (this.#client ??= this.#options.client ?? new OutboundClient()) };
    return channel.kind === 'slack'
      ? new SlackNotifier(url, { ...common, ...this.#options.slack })
      : new WebhookNotifier(url, secret, { ...common, ...this.#options.webhook });
  }
}
