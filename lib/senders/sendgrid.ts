import { rejectUnknownOptions, StepUpConfigError } from '../config-error';
import type { Client as SendgridClient } from '@sendgrid/client';
import type { MailDataRequired, MailService as SendgridMailService } from '@sendgrid/mail';
import { loadOptionalPeer } from '../optional-peer';
import { describeAction, type Action } from '../action';
import { withTimeout } from '../timeout';
import { checkBaseUrl, checkTimeout, minutesUntil } from './provider-options';
import type { CodeMessage, Sender } from './sender';

/** What the subject, text and html templates of {@link sendgridSender} receive. */
export interface EmailTemplateContext {
  /** The one-time code (digits only). */
  readonly code: string;
  readonly expiresAt: Date;
  /** Whole minutes until `expiresAt`, rounded up, at least 1. */
  readonly minutes: number;
  /** The locale the caller asked for, when it asked for one. */
  readonly locale: string | undefined;
  /** What the code approves, when the client bound it to an action (escape it in HTML). */
  readonly action: Action | undefined;
}

/** An email address, optionally with a display name. */
export type EmailSender = string | { readonly email: string; readonly name?: string };

/** Options of {@link sendgridSender}. */
export interface SendgridSenderOptions {
  /** SendGrid API key (`SG.…`). Required. Never appears in errors. */
  readonly apiKey: string;
  /** The sender address: `'noreply@example.com'` or `{ email, name }`. Required; must be a verified sender in SendGrid. */
  readonly from: EmailSender;
  /** Subject line, or a function of the message. Default: "Your verification code". Ignored with `templateId`. */
  readonly subject?: string | ((context: EmailTemplateContext) => string);
  /** Plain-text body. Default: a short sentence with the code and its lifetime. Ignored with `templateId`. */
  readonly text?: (context: EmailTemplateContext) => string;
  /**
   * HTML body. Default: the same sentence as `text` in a minimal document. A custom
   * template is responsible for escaping whatever it interpolates. Ignored with `templateId`.
   */
  readonly html?: (context: EmailTemplateContext) => string;
  /**
   * A SendGrid *dynamic* template id (`d-…`). When set, the mail carries no
   * subject or content; the template receives `dynamicTemplateData: { code, expiresInMinutes }`.
   */
  readonly templateId?: string;
  /** Overrides the API base URL (default `https://api.sendgrid.com`), e.g. for a proxy or a test stand-in. */
  readonly apiBaseUrl?: string;
  /** How long one send may take before it rejects, in milliseconds. Default 10000. */
  readonly timeoutMs?: number;
}

const DEFAULT_SUBJECT = 'Your verification code';

/**
 * A {@link Sender} for `channel: 'email'` through @sendgrid/mail.
 *
 * It uses a MailService and a Client of its own, never the module-level
 * singletons, so several senders (or the host app's own use of @sendgrid/mail)
 * don't overwrite each other's key, base URL or timeout.
 *
 * Rejections are plain `Error`s whose message names the outcome (HTTP status,
 * timeout, network error code) and never carries the code, the address or the
 * API key: the SDK's own errors hold the request config (Authorization header,
 * body), so they are not passed on, not even as `cause`.
 */
export function sendgridSender(options: SendgridSenderOptions): Sender {
  rejectUnknownOptions('sendgridSender()', options, ['apiKey', 'from', 'subject', 'text', 'html', 'templateId', 'apiBaseUrl', 'timeoutMs']);
  if (typeof options?.apiKey !== 'string' || options.apiKey.trim() === '') {
    throw new StepUpConfigError('ERR_STEP_UP_MISSING_OPTION', 'sendgridSender: `apiKey` is required');
  }
  if (!isEmailSender(options.from)) {
    throw new StepUpConfigError('ERR_STEP_UP_MISSING_OPTION', 'sendgridSender: `from` is required (an email address or { email, name })');
  }
  if (options.templateId !== undefined && !/^d-\S+$/.test(options.templateId)) {
    // Legacy templates silently drop dynamicTemplateData, so the code would never arrive.
    throw new StepUpConfigError('ERR_STEP_UP_INVALID_OPTION', 'sendgridSender: `templateId` must be a dynamic template id ("d-…")');
  }
  const timeoutMs = checkTimeout('sendgridSender', options.timeoutMs);
  const baseUrl = options.apiBaseUrl === undefined ? undefined : checkBaseUrl('sendgridSender', options.apiBaseUrl).href;

  // Optional peer dependencies, loaded only now: an app without email codes installs neither.
  const { Client } = loadOptionalPeer('sendgridSender', '@sendgrid/client', () => require('@sendgrid/client') as { Client: typeof SendgridClient });
  const { MailService } = loadOptionalPeer('sendgridSender', '@sendgrid/mail', () => require('@sendgrid/mail') as { MailService: typeof SendgridMailService });
  const client = new Client();
  // setApiKey resets baseUrl to the region host, so the override must come after it.
  client.setApiKey(options.apiKey);
  if (baseUrl !== undefined) client.setDefaultRequest('baseUrl', baseUrl);
  const mail = new MailService();
  mail.setClient(client);
  // MailService#setTimeout does client.setDefaultRequest('timeout', ms), which
  // Client#createRequest merges into the axios config: axios' own request timeout.
  mail.setTimeout(timeoutMs);

  const { from, templateId } = options;
  const subject = options.subject ?? DEFAULT_SUBJECT;
  const text = options.text ?? defaultText;
  const html = options.html ?? defaultHtml;

  return {
    async send(message: CodeMessage): Promise<void> {
      if (message.channel !== 'email') {
        throw new Error(`sendgridSender delivers email only, not channel "${String(message.channel)}"`);
      }
      const context: EmailTemplateContext = {
        code: message.code,
        expiresAt: message.expiresAt,
        minutes: minutesUntil(message.expiresAt),
        locale: message.locale,
        action: message.action,
      };
      const data: MailDataRequired =
        templateId !== undefined
          ? {
              to: message.to,
              from,
              templateId,
              dynamicTemplateData: {
                code: context.code,
                expiresInMinutes: context.minutes,
                ...(context.action !== undefined ? { action: context.action, actionText: describeAction(context.action) } : {}),
              },
            }
          : {
              to: message.to,
              from,
              subject: typeof subject === 'function' ? subject(context) : subject,
              text: text(context),
              html: html(context),
            };
      try {
        // axios' timeout guards the socket; this deadline (a little later, so the
        // SDK normally wins and tears its request down) bounds the whole call,
        // e.g. against a server that trickles its answer.
        await withTimeout(mail.send(data), timeoutMs + DEADLINE_GRACE_MS, () => timedOut(timeoutMs));
      } catch (error) {
        throw toSafeError(error, timeoutMs);
      }
    },
  };
}

/** Margin between the SDK's timeout and the overall deadline. */
const DEADLINE_GRACE_MS = 100;

function defaultText({ code, minutes, action }: EmailTemplateContext): string {
  const approves = action !== undefined ? ` Code ${code} approves ${describeAction(action)}. Use it only if that is what you are doing.\n` : '';
  return (
    `Your verification code is ${code}. It expires in ${minutes} ${minutes === 1 ? 'minute' : 'minutes'}.\n` +
    approves +
    `If you did not ask for it, ignore this email. Never share this code with anyone.`
  );
}

function defaultHtml({ code, minutes, action }: EmailTemplateContext): string {
  // Every interpolated value is escaped: the action's fields come from the client's request.
  const approves =
    action !== undefined ? `<p>It approves <strong>${escapeHtml(describeAction(action))}</strong>. Use it only if that is what you are doing.</p>` : '';
  return (
    '<!doctype html><html><body>' +
    `<p>Your verification code is <strong>${escapeHtml(code)}</strong>.</p>` +
    approves +
    `<p>It expires in ${minutes} ${minutes === 1 ? 'minute' : 'minutes'}.</p>` +
    '<p>If you did not ask for it, ignore this email. Never share this code with anyone.</p>' +
    '</body></html>'
  );
}

function escapeHtml(value: string): string {
  return value.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}


function isEmailSender(from: unknown): from is EmailSender {
  if (typeof from === 'string') return from.trim() !== '';
  return (
    typeof from === 'object' &&
    from !== null &&
    typeof (from as { email?: unknown }).email === 'string' &&
    (from as { email: string }).email.trim() !== ''
  );
}



/** The timeout rejection; a class of its own so it is recognised and passed on as is. */
class SendgridTimeoutError extends Error {
  constructor(timeoutMs: number) {
    super(`SendGrid did not answer within ${timeoutMs} ms`);
    this.name = 'Error';
  }
}

function timedOut(timeoutMs: number): Error {
  return new SendgridTimeoutError(timeoutMs);
}

/** Maps whatever the SDK threw to an error that is safe to log. */
function toSafeError(error: unknown, timeoutMs: number): Error {
  if (error instanceof SendgridTimeoutError) return error;
  if (typeof error !== 'object' || error === null) return new Error('SendGrid request failed');
  const { code, response, isAxiosError } = error as { code?: unknown; response?: unknown; isAxiosError?: unknown };
  // @sendgrid/helpers ResponseError: `code` is the HTTP status, `response` the body.
  if (response !== undefined && typeof code === 'number') {
    return new Error(`SendGrid refused the message (status ${code})`);
  }
  if (isAxiosError === true) {
    if (code === 'ECONNABORTED' || code === 'ETIMEDOUT') return timedOut(timeoutMs);
    if (typeof code === 'string' && /^[A-Z][A-Z0-9_]*$/.test(code)) {
      return new Error(`SendGrid request failed (${code})`);
    }
    return new Error('SendGrid request failed');
  }
  // Anything else was thrown while building the mail (invalid data) — its text is not vetted.
  return new Error('SendGrid request failed before reaching the API');
}
