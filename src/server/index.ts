/** `sluice serve`: HTTP API, registry webhooks, metrics and the scheduler. */
export {
  DEFAULT_LISTEN,
  OPENAPI_PATH,
  exampleUrl,
  parseListen,
  serverRoutes,
  sluiceVersion,
  startServer,
} from './app.ts';
export type { ServerHandle, ServerOptions } from './app.ts';
export { apiRoutes } from './api-routes.ts';
export { errorBody, statusOf, toSluiceError } from './errors.ts';
export { REDACTED, redactUrl } from './logging.ts';
export { ServerMetrics, WEBHOOK_RESULTS } from './metrics.ts';
export type { WebhookResult } from './metrics.ts';
export { expandPath, fastifyUrl, isMutating, openApiDocument, openApiPath } from './routes.ts';
export type {
  HttpMethod,
  JsonSchema,
  RouteAuth,
  RouteContext,
  RouteExample,
  RouteRequest,
  RouteResponse,
  RouteSpec,
} from './routes.ts';
export {
  WEBHOOK_SECRET_HEADER,
  WebhookReceiver,
  presentedSecret,
  resolveWebhookSecrets,
  secretsEqual,
  webhookRoutes,
} from './webhooks.ts';
export type { DeliveryResult } from './webhooks.ts';
