/**
 * `spec.server`: `sluice serve` and its webhook secrets.
 */
import { object, optional, required, withDefault } from '../validate.ts';
import { duration, hostPort, pathString, secretRef } from './scalars.ts';

const webhookSecret = object({ secret: required(secretRef) });

export const server = object({
  listen: withDefault(hostPort, '127.0.0.1:8080'),
  webhooks: withDefault(
    object({ distribution: optional(webhookSecret), quay: optional(webhookSecret), harbor: optional(webhookSecret) }),
    {},
  ),
  syncInterval: withDefault(duration(), '15m'),
  tls: optional(object({ certFile: required(pathString), keyFile: required(pathString) })),
});
