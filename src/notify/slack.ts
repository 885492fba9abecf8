/**
 * Slack incoming webhooks. The shapes follow Slack's documentation:
 *
 * - "Sending messages using incoming webhooks" (docs.slack.dev/messaging/sending-messages-using-incoming-webhooks):
 *   `POST <webhook URL>` with `Content-type: application/json` and `{"text": ..., "blocks": [...]}`;
 *   `text` is the fallback shown in notifications, `blocks` the Block Kit layout
 *   (`header` with plain_text up to 150 characters, `section` with mrkdwn text up to 3000 and
 *   at most 10 `fields` of up to 2000, `context`). Success is HTTP 200 with the body `ok`.
 * - Errors are plain-text bodies with an HTTP status ("Improving error conditions for Incoming
 *   Webhooks", api.slack.com/changelog/2016-05-17-changes-to-errors-for-incoming-webhooks):
 *   400 `invalid_payload` / `user_not_found`, 403 `action_prohibited`, 404 `channel_not_found`,
 *   410 `channel_is_archived`, 500 `rollup_error`. The "Handling errors" table of the
 *   incoming-webhooks page adds `no_service` (webhook disabled, removed or invalid), `no_team`,
 *   `team_disabled`, `invalid_token`, `posting_to_general_channel_denied` and
 *   `too_many_attachments`; a deactivated hook answers 404 `no_active_hooks`. Any other
 *   status is still a failure, classified by status alone.
 * - Rate limits (api.slack.com/docs/rate-limits): about one message per second; beyond it
 *   HTTP 429 with `Retry-After: <seconds>`. The wait is honoured once.
 *
 * Mrkdwn text escapes `&`, `<` and `>` (Slack's "Formatting text" rules), so an image
 * reference or summary can never turn into a link or a mention.
 */
import type { ReceiverAnswerCategory } from '../error-codes.ts';
import { SluiceError } from '../errors.ts';
import { eventTitle, type LifecycleEvent, type Notifier } from './event.ts';
import { OutboundClient, RetryBudget, categoryForStatus, formatMs, parseRetryAfter } from '../http/index.ts';
import {
  DEFAULT_REQUEST_TIMEOUT_MS,
  abortedError,
  checkWebhookUrl,
  describeTarget,
  post,
  type PostResult,
  type Target,
} from './http.ts';

export interface SlackNotifierOptions {
  /** Channel name (from the policy) used in errors; default `slack`. */
  name?: string;
  /** Shared by the channels of one hub; default a client of this notifier's own. */
  client?: OutboundClient;
  /** Per request; default 10 s. */
  timeoutMs?: number;
  /** Longest Retry-After waited for (ms); a longer one fails at once. Default 10 s. */
  maxRetryAfterMs?: number;
}

/** Without a Retry-After, wait the one second Slack's rate-limit guidance allows per message. */
const DEFAULT_RETRY_AFTER_MS = 1000;

/** Per documented error body: what kind of failure it is and what to do about it. */
const SLACK_ERRORS: Record<string, { category: ReceiverAnswerCategory; explain: string }> = {
  invalid_payload: {
    category: 'internal',
    explain: 'Slack could not parse the message Sluice built',
  },
  user_not_found: { category: 'invalid-input', explain: 'the user the webhook posts to does not exist' },
  too_many_attachments: { category: 'internal', explain: 'the message has too many attachments' },
  action_prohibited: {
    category: 'forbidden',
    explain: 'a workspace restriction prohibits this webhook from posting here',
  },
  posting_to_general_channel_denied: {
    category: 'forbidden',
    explain: 'only workspace admins may post to this channel',
  },
  team_disabled: { category: 'forbidden', explain: 'the Slack workspace is disabled' },
  channel_not_found: { category: 'not-found', explain: "the webhook's channel no longer exists" },
  channel_is_archived: {
    category: 'not-found',
    explain: "the webhook's channel is archived and accepts no messages; unarchive it or create a new webhook",
  },
  no_service: {
    category: 'unauthorized',
    explain: 'the webhook is disabled, removed or invalid; create a new one and update the secret',
  },
  no_active_hooks: {
    category: 'unauthorized',
    explain: 'the webhook is no longer active; create a new one and update the secret',
  },
  no_team: {
    category: 'unauthorized',
    explain: "the webhook's workspace no longer exists or the app was removed from it",
  },
  invalid_token: {
    category: 'unauthorized',
    explain: 'the token in the webhook URL is invalid; create a new webhook and update the secret',
  },
  rollup_error: { category: 'unavailable', explain: 'Slack failed internally' },
};

export class SlackNotifier implements Notifier {
  readonly #url: string;
  readonly #target: Target;
  readonly #client: OutboundClient;
  readonly #timeoutMs: number;
  readonly #maxRetryAfterMs: number;

  constructor(url: string, options: SlackNotifierOptions = {}) {
    this.#target = { channel: options.name ?? 'slack', adapter: 'slack' };
    checkWebhookUrl(url, this.#target);
    this.#url = url;
    this.#client = options.client ?? new OutboundClient();
    this.#timeoutMs = options.timeoutMs ?? DEFAULT_REQUEST_TIMEOUT_MS;
    this.#maxRetryAfterMs = options.maxRetryAfterMs ?? 10_000;
  }

  async send(event: LifecycleEvent, signal?: AbortSignal): Promise<void> {
    const body = JSON.stringify(slackMessage(event));
    const request = {
      headers: { 'content-type': 'application/json', 'user-agent': 'sluice' },
      body,
      timeoutMs: this.#timeoutMs,
      signal,
    };
    let res = await post(this.#client, this.#url, request, this.#target);
    if (res.status === 429) {
      // Slack's guidance allows one message a second: the wait is honoured once.
      const budget = new RetryBudget({
        attempts: 2,
        baseDelayMs: 0,
        maxRetryAfterMs: this.#maxRetryAfterMs,
        defaultRetryAfterMs: DEFAULT_RETRY_AFTER_MS,
      });
      const asked = parseRetryAfter(res.header('retry-after'));
      const wait = asked ?? DEFAULT_RETRY_AFTER_MS;
      const next = budget.next(asked);
      if (!next.retry) throw rateLimited(this.#target, wait, false);
      await budget.wait(next.waitMs, signal).catch(() => {
        throw abortedError(this.#target);
      });
      res = await post(this.#client, this.#url, request, this.#target);
      if (res.status === 429) throw rateLimited(this.#target, wait, true);
    }
    checkSlackResponse(res, this.#target);
  }
}

function rateLimited(target: Target, waitMs: number, retried: boolean): SluiceError {
  const message = retried
    ? `Slack rate-limited the webhook again (HTTP 429) after waiting ${formatMs(waitMs)}`
    : `Slack rate-limited the webhook (HTTP 429) and asks to wait ${formatMs(waitMs)}, longer than Sluice waits`;
  return new SluiceError('NOTIFY_UNAVAILABLE', 'unavailable', `${describeTarget(target)}: ${message}`, {
    ...target,
    httpStatus: 429,
    reason: 'rate_limited',
    retryAfterMs: waitMs,
  });
}

/** 200 `ok` (or `{"ok": true}` from workflow webhooks) is delivered; everything else is explained. */
function checkSlackResponse(res: PostResult, target: Target): void {
  const text = res.body.trim();
  if (res.status === 200) {
    if (text === 'ok' || isJsonOk(text)) return;
    throw new SluiceError(
      'NOTIFY_UNEXPECTED_RESPONSE',
      'integrity',
      `${describeTarget(target)}: the endpoint answered HTTP 200 without Slack's \`ok\`; is the URL a Slack incoming webhook?`,
      { ...target, httpStatus: 200 },
    );
  }
  // Documented error bodies are short snake_case words; anything else is not repeated.
  const slackError = /^[a-z0-9_]{1,64}$/.test(text) ? text : undefined;
  const known =
    slackError !== undefined && Object.hasOwn(SLACK_ERRORS, slackError) ? SLACK_ERRORS[slackError] : undefined;
  const what = `Slack answered HTTP ${res.status}${slackError ? ` ${slackError}` : ''}`;
  if (res.status >= 300 && res.status < 400) {
    throw new SluiceError(
      'NOTIFY_REJECTED',
      'unavailable',
      `${describeTarget(target)}: ${what}, a redirect, which is not followed (the URL carries the token)`,
      { ...target, httpStatus: res.status },
    );
  }
  const category: ReceiverAnswerCategory =
    known?.category ?? (res.status >= 500 ? 'unavailable' : categoryForStatus(res.status));
  throw new SluiceError(
    category === 'unavailable' ? 'NOTIFY_UNAVAILABLE' : 'NOTIFY_REJECTED',
    category,
    `${describeTarget(target)}: ${what}${known ? `: ${known.explain}` : ''}`,
    { ...target, httpStatus: res.status, ...(slackError ? { reason: slackError } : {}) },
  );
}

function isJsonOk(text: string): boolean {
  if (!text.startsWith('{')) return false;
  try {
    return (JSON.parse(text) as { ok?: unknown }).ok === true;
  } catch {
    return false;
  }
}

// ---------------------------------------------------------------------------------------
// The message

export interface SlackMessage {
  text: string;
  blocks: Array<Record<string, unknown>>;
}

/** `&`, `<`, `>` are Slack's control characters in mrkdwn; everything else is literal enough. */
export function escapeMrkdwn(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}

function clip(text: string, max: number): string {
  return text.length <= max ? text : `${text.slice(0, max - 1)}…`;
}

function show(value: unknown): string {
  if (typeof value === 'string') return value;
  if (typeof value === 'number' || typeof value === 'boolean' || typeof value === 'bigint') return String(value);
  return JSON.stringify(value) ?? String(value);
}

function code(text: string): string {
  return text.includes('`') ? escapeMrkdwn(text) : `\`${escapeMrkdwn(text)}\``;
}

/** Header, the summary with fields for subject, stage, actor and result, and a context line. */
export function slackMessage(event: LifecycleEvent): SlackMessage {
  const title = eventTitle(event.type);
  const fields: Array<Record<string, unknown>> = [
    { type: 'mrkdwn', text: clip(`*Subject*\n${code(event.subject)}`, 2000) },
  ];
  for (const [label, key] of [
    ['Stage', 'stage'],
    ['Actor', 'actor'],
    ['Result', 'result'],
  ] as const) {
    const v = event.data[key];
    if (v === undefined || v === null || v === '') continue;
    fields.push({ type: 'mrkdwn', text: clip(`*${label}*\n${escapeMrkdwn(show(v))}`, 2000) });
  }
  return {
    text: clip(escapeMrkdwn(`${title}: ${event.summary}`), 3000),
    blocks: [
      { type: 'header', text: { type: 'plain_text', text: clip(title, 150), emoji: false } },
      { type: 'section', text: { type: 'mrkdwn', text: clip(escapeMrkdwn(event.summary), 3000) }, fields },
      {
        type: 'context',
        elements: [
          { type: 'mrkdwn', text: `${event.type} · ${event.time.toISOString()} · event ${escapeMrkdwn(event.id)}` },
        ],
      },
    ],
  };
}
