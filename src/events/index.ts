/** The in-process lifecycle event bus: capabilities publish, others subscribe. */
export {
  EventBus,
  type EventBusOptions,
  type EventPublisher,
  type EventSubscriptions,
  type LifecycleEventName,
  type Subscriber,
  type SubscriberFailure,
} from './bus.ts';
export type { ImageLocation, LifecycleEvents, Notice } from './types.ts';
