import { rejectUnknownOptions, StepUpConfigError } from '../config-error';
import type TwilioSdk from 'twilio';
import type TwilioRequestClient from 'twilio/lib/base/RequestClient';
import { loadOptionalPeer } from '../optional-peer';
import { describeAction, type Action } from '../action';
import { withTimeout } from '../timeout';
import { checkBaseUrl, checkTimeout, minutesUntil } from './provider-options';
import type { CodeMessage, Sender } from './sender';

/** What the `body` template of {@link twilioSender} receives. */
export interface SmsTemplateContext {
  /** The one-time code (digits only). */
  readonly code: string;
  readonly expiresAt: Date;
  /** Whole minutes until `expiresAt`, rounded up, at least 1. */
  readonly minutes: number;
  /** The locale the caller asked for, when it asked for one. */
  readonly locale: string | undefined;
  /** What the code approves, when the client bound it to an action. */
  readonly action: Action | undefined;
}

interface TwilioSenderBaseOptions {
  /** Account SID (`AC…`). Required. */
  readonly accountSid: string;
  /** Auth token. Required. Never appears in errors. */
  readonly authToken: string;
  /** SMS text. Default: "Your verification code is 123456. It expires in 10 minutes. Don't share it." */
  readonly body?: (context: SmsTemplateContext) => string;
  /**
   * Overrides the API origin (default `https://api.twilio.com`), e.g. for a proxy
   * or a test stand-in. The SDK's path and query are kept; a path in this URL is
   * prepended to them.
   */
  readonly apiBaseUrl?: string;
  /** How long one send may take before it rejects, in milliseconds. Default 10000. */
  readonly timeoutMs?: number;
}

/** Options of {@link twilioSender}: exactly one of `from` and `messagingServiceSid`. */
export type TwilioSenderOptions = TwilioSenderBaseOptions &
  (
    | {
        /** The sending phone number, E.164 (`+14155550100`). */
        readonly from: string;
        readonly messagingServiceSid?: undefined;
      }
    | {
        /** A Messaging Service SID (`MG…`), which picks the sending number itself. */
        readonly messagingServiceSid: string;
        readonly from?: undefined;
      }
  );

/** Margin between the SDK's timeout and the overall deadline. */
const DEADLINE_GRACE_MS = 100;
const E164 = /^\+[1-9]\d{6,14}$/;

/**
 * A {@link Sender} for `channel: 'phone'` (SMS) through the twilio SDK.
 *
 * Rejections are plain `Error`s whose message names the outcome (HTTP status
 * and Twilio error number, timeout, network error code) and never carries the
 * code, the number or the auth token: the SDK's own errors hold the request
 * config (Authorization header, form body), so they are not passed on, not even
 * as `cause`.
 */
export function twilioSender(options: TwilioSenderOptions): Sender {
  rejectUnknownOptions('twilioSender()', options, ['accountSid', 'authToken', 'from', 'messagingServiceSid', 'body', 'apiBaseUrl', 'timeoutMs']);
  if (typeof options?.accountSid !== 'string' || !/^AC\S+$/.test(options.accountSid)) {
    throw new StepUpConfigError('ERR_STEP_UP_MISSING_OPTION', 'twilioSender: `accountSid` is required and starts with "AC"');
  }
  if (typeof options.authToken !== 'string' || options.authToken.trim() === '') {
    throw new StepUpConfigError('ERR_STEP_UP_MISSING_OPTION', 'twilioSender: `authToken` is required');
  }
  const hasFrom = options.from !== undefined;
  const hasService = options.messagingServiceSid !== undefined;
  if (hasFrom === hasService) {
    throw new StepUpConfigError('ERR_STEP_UP_MISSING_OPTION', 'twilioSender: give exactly one of `from` and `messagingServiceSid`');
  }
  if (hasFrom && !E164.test(String(options.from))) {
    throw new StepUpConfigError('ERR_STEP_UP_INVALID_OPTION', 'twilioSender: `from` must be an E.164 phone number such as +14155550100');
  }
  if (hasService && (typeof options.messagingServiceSid !== 'string' || options.messagingServiceSid.trim() === '')) {
    throw new StepUpConfigError('ERR_STEP_UP_INVALID_OPTION', 'twilioSender: `messagingServiceSid` must be a non-empty string');
  }
  const timeoutMs = checkTimeout('twilioSender', options.timeoutMs);
  const baseUrl = options.apiBaseUrl === undefined ? undefined : checkBaseUrl('twilioSender', options.apiBaseUrl);

  // An optional peer dependency, loaded only now: an app without SMS codes does not install it.
  const twilio = loadOptionalPeer('twilioSender', 'twilio', () => require('twilio') as typeof TwilioSdk);

  // RequestClient's `timeout` is both the https.Agent socket timeout and the
  // default axios timeout of every request (BaseTwilio passes no per-request
  // timeout for messages.create, so the default applies).
  const httpClient =
    baseUrl === undefined
      ? new twilio.RequestClient({ timeout: timeoutMs })
      : originOverrideRequestClient(twilio, baseUrl, { timeout: timeoutMs });
  const client = twilio(options.accountSid, options.authToken, { httpClient, timeout: timeoutMs });

  const sendFrom = hasFrom ? { from: String(options.from) } : { messagingServiceSid: String(options.messagingServiceSid) };
  const body = options.body ?? defaultBody;

  return {
    async send(message: CodeMessage): Promise<void> {
      if (message.channel !== 'phone') {
        throw new Error(`twilioSender delivers SMS only, not channel "${String(message.channel)}"`);
      }
      const context: SmsTemplateContext = {
        code: message.code,
        expiresAt: message.expiresAt,
        minutes: minutesUntil(message.expiresAt),
        locale: message.locale,
        action: message.action,
      };
      try {
        // axios' timeout guards the request; this deadline (a little later, so the
        // SDK normally wins and tears its request down) bounds the whole call.
        await withTimeout(
          client.messages.create({ to: message.to, body: body(context), ...sendFrom }),
          timeoutMs + DEADLINE_GRACE_MS,
          () => new TwilioTimeoutError(timeoutMs),
        );
      } catch (error) {
        throw toSafeError(error, timeoutMs, twilio.RestException);
      }
    },
  };
}

/**
 * Twilio's own RequestClient (axios, auth header, timeout, form encoding), with
 * the origin of every URI swapped for the override. The SDK builds absolute
 * `https://api.twilio.com/…` URIs and has no base-URL option, so this hook —
 * the `httpClient` client option — is where the origin can be changed.
 * It subclasses rather than wraps so it satisfies the SDK's `RequestClient` type;
 * the class is made here because its base class comes from the SDK loaded by twilioSender().
 */
function originOverrideRequestClient(
  twilio: typeof TwilioSdk,
  base: URL,
  options: TwilioRequestClient.RequestClientOptions,
): TwilioRequestClient {
  class OriginOverrideRequestClient extends twilio.RequestClient {
    override request<TData>(opts: TwilioRequestClient.RequestOptions<TData>) {
      return super.request({ ...opts, uri: rewriteOrigin(opts.uri, base) });
    }
  }
  return new OriginOverrideRequestClient(options);
}

/** `https://api.twilio.com/2010-04-01/…?x` → `<base origin><base path>/2010-04-01/…?x`. */
function rewriteOrigin(uri: string, base: URL): string {
  const original = new URL(uri);
  const target = new URL(base.origin);
  target.pathname = base.pathname.replace(/\/+$/, '') + original.pathname;
  target.search = original.search;
  return target.href;
}

function defaultBody({ code, minutes, action }: SmsTemplateContext): string {
  const expiry = `It expires in ${minutes} ${minutes === 1 ? 'minute' : 'minutes'}. Don't share it.`;
  if (action !== undefined) return `Code ${code} to approve ${describeAction(action)}. ${expiry}`;
  return `Your verification code is ${code}. ${expiry}`;
}




/** The timeout rejection; a class of its own so it is recognised and passed on as is. */
class TwilioTimeoutError extends Error {
  constructor(timeoutMs: number) {
    super(`Twilio did not answer within ${timeoutMs} ms`);
    this.name = 'Error';
  }
}

/** Maps whatever the SDK threw to an error that is safe to log. */
function toSafeError(error: unknown, timeoutMs: number, RestException: typeof TwilioSdk.RestException): Error {
  if (error instanceof TwilioTimeoutError) return error;
  if (error instanceof RestException) {
    // `status` is the HTTP status, `code` Twilio's numeric error (e.g. 21211); its
    // `message` comes from the response body and may quote the number, so it is dropped.
    const twilioCode = typeof error.code === 'number' ? `, Twilio error ${error.code}` : '';
    return new Error(`Twilio refused the message (status ${error.status}${twilioCode})`);
  }
  if (typeof error === 'object' && error !== null && (error as { isAxiosError?: unknown }).isAxiosError === true) {
    const { code } = error as { code?: unknown };
    if (code === 'ECONNABORTED' || code === 'ETIMEDOUT') return new TwilioTimeoutError(timeoutMs);
    if (typeof code === 'string' && /^[A-Z][A-Z0-9_]*$/.test(code)) return new Error(`Twilio request failed (${code})`);
    return new Error('Twilio request failed');
  }
  // Anything else was thrown while building the request — its text is not vetted.
  return new Error('Twilio request failed before reaching the API');
}
