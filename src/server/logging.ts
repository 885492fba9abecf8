/**
 * Structured JSON logs (Fastify's pino) to stderr. Credentials are kept out: request logs
 * carry method, URL and peer only, the URL with secret-bearing query parameters replaced, and
 * headers that carry credentials are redacted should anything log them.
 */
import type { FastifyRequest } from 'fastify';
import { escapeControls } from '../text.ts';

export const REDACTED = '[REDACTED]';

const SECRET_PARAM = /([?&](?:secret|token|access_token|password|key)=)[^&#]*/gi;

/** A request URL safe to log. */
export function redactUrl(url: string): string {
  return url.replace(SECRET_PARAM, `$1${REDACTED}`);
}

export const REDACT_PATHS = [
  'req.headers.authorization',
  'req.headers.cookie',
  'req.headers["x-sluice-webhook-secret"]',
  'req.headers["proxy-authorization"]',
  'req.query.secret',
  'headers.authorization',
  'headers.cookie',
  'headers["x-sluice-webhook-secret"]',
  'res.headers["set-cookie"]',
];

export interface LoggerOptions {
  level?: string;
  /** Where JSON lines go; default stderr. */
  stream?: NodeJS.WritableStream;
}

/**
 * Where the JSON lines go, with control characters escaped (src/text.ts): pino escapes C0
 * in strings, but DEL, C1 and bidi characters from a request or a registry would reach the
 * terminal of whoever tails the log raw. The escapes are JSON's, so the records are unchanged.
 */
export function terminalSafeStream(stream: NodeJS.WritableStream): { write(line: string): boolean } {
  return { write: (line) => stream.write(escapeControls(line)) };
}

/** Options for Fastify's `logger`. */
export function loggerConfig(options: LoggerOptions): Record<string, unknown> {
  return {
    level: options.level ?? 'info',
    stream: terminalSafeStream(options.stream ?? process.stderr),
    redact: { paths: REDACT_PATHS, censor: REDACTED },
    serializers: {
      req: (req: FastifyRequest) => ({
        method: req.method,
        url: redactUrl(req.url),
        remoteAddress: req.ip,
      }),
      res: (res: { statusCode: number }) => ({ statusCode: res.statusCode }),
      err: (err: Error & { code?: unknown }) => ({
        type: err.name,
        message: err.message,
        ...(typeof err.code === 'string' ? { code: err.code } : {}),
        stack: err.stack,
      }),
    },
  };
}
