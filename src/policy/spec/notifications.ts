/**
 * `spec.notifications`: where lifecycle events are sent.
 */
import { NOTIFICATION_EVENTS, NOTIFICATION_KINDS } from '../schema.ts';
import { defines, object, oneOf, optional, required, uniqueArray } from '../validate.ts';
import { name, secretRef } from './scalars.ts';

export const notification = object(
  {
    name: required(defines('notification', 'notification', name('notification'))),
    kind: required(oneOf(NOTIFICATION_KINDS)),
    url: required(secretRef),
    secret: optional(secretRef),
    events: required(uniqueArray(oneOf(NOTIFICATION_EVENTS), 'event', { min: 1 })),
  },
  {
    check: (n, h) => {
      // Reported even when the value itself is faulty (an inline secret): both need fixing.
      if (n.kind === 'slack' && h.has('secret')) {
        h.report(
          'secret',
          'no `secret` on a slack channel',
          'kind: slack',
          '`secret` (the HMAC key that signs the body) only applies to `webhook` channels; Slack incoming webhooks are authenticated by their URL',
        );
      }
    },
  },
);
