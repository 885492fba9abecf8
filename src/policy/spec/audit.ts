/**
 * `spec.audit`: audit log retention and forwarding.
 */
import { SYSLOG_PROTOCOLS } from '../schema.ts';
import { object, oneOf, optional, required, string, withDefault } from '../validate.ts';
import { hostPort } from './scalars.ts';

export const audit = object({
  syslog: optional(
    object({
      address: required(hostPort),
      appName: withDefault(
        string({ expected: 'an app name (letters, digits, "-", "_", ".")', pattern: /^[A-Za-z0-9._-]{1,48}$/ }),
        'sluice',
      ),
      protocol: withDefault(oneOf(SYSLOG_PROTOCOLS), 'tcp'),
    }),
  ),
});
