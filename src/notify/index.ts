/** Outbound notifications: lifecycle events to Slack incoming webhooks and signed CloudEvents webhooks. */
export { eventTitle, lifecycleEvent, type LifecycleEvent, type LifecycleEventType, type Notifier } from './event.ts';
export { parseRetryAfter } from '../http/index.ts';
export { SlackNotifier, escapeMrkdwn, slackMessage, type SlackMessage, type SlackNotifierOptions } from './slack.ts';
export {
  CLOUDEVENTS_CONTENT_TYPE,
  EVENT_SOURCE,
  EVENT_TYPE_PREFIX,
  IDEMPOTENCY_HEADER,
  SIGNATURE_HEADER,
  WebhookNotifier,
  signBody,
  toCloudEvent,
  verifyWebhookSignature,
  type CloudEvent,
  type WebhookNotifierOptions,
} from './webhook.ts';
export {
  DEFAULT_CHANNEL_TIMEOUT_MS,
  NotificationHub,
  type DeliveryResult,
  type NotificationHubOptions,
} from './hub.ts';
