/**
 * The page's side of the HTTP contract: the session token, JSON calls, and
 * every error answer turned into plain words.
 */
import { readToken, writeToken } from './session-token';

/** `GET /api/my-account`. */
export interface Account {
  readonly id: string;
  readonly email: string;
  readonly phone: string | null;
}

export type Channel = 'email' | 'phone';

/** `GET /api/my-account/security`: which second factors the user has (never their secrets). */
export interface SecuritySummary {
  readonly passkeys: number;
  readonly totp: boolean;
}

/** `GET /api/demo-info`: which channels print codes to the server console instead of delivering them. */
export interface DemoInfo {
  readonly delivery: { readonly email: string; readonly phone: string };
}

/** `{ verificationRecordId, expiresAt }`, as the verification endpoints answer. */
export interface VerificationRecordAnswer {
  readonly verificationRecordId: string;
  readonly expiresAt: string;
}

/** A parsed JSON body, or an empty object when there was none or it was not JSON. */
export type Body = Readonly<Record<string, unknown>>;

/** Called when an answer to a request that carried the token is 401: the session is over. */
let onSessionEnded: () => void = () => undefined;

export function whenSessionEnds(listener: () => void): void {
  onSessionEnded = listener;
}

export function setAccessToken(token: string | null): void {
  writeToken(token);
}

export function hasAccessToken(): boolean {
  return readToken() !== null;
}

/** fetch with the bearer token, JSON headers, and no caching of account data. */
export async function apiFetch(input: RequestInfo | URL, init: RequestInit = {}): Promise<Response> {
  const headers = new Headers(init.headers);
  headers.set('Accept', 'application/json');
  if (init.body !== undefined && init.body !== null && !headers.has('Content-Type')) headers.set('Content-Type', 'application/json');
  const token = readToken();
  if (token !== null) headers.set('Authorization', `Bearer ${token}`);
  const response = await fetch(input, { ...init, headers, cache: 'no-store', credentials: 'same-origin' });
  // An expired, revoked or refused token: back to the sign-in form, wherever the request came from.
  if (response.status === 401 && token !== null && readToken() === token) onSessionEnded();
  return response;
}

/** The JSON body of a response, or `{}`: error answers are JSON by contract, but a proxy may say otherwise. */
export async function readBody(response: Response): Promise<Body> {
  if (response.status === 204) return {};
  try {
    const body: unknown = await response.json();
    return typeof body === 'object' && body !== null && !Array.isArray(body) ? (body as Body) : {};
  } catch {
    return {};
  }
}

export function isRecordAnswer(body: Body): body is Body & VerificationRecordAnswer {
  return typeof body.verificationRecordId === 'string' && typeof body.expiresAt === 'string';
}

export function isSecuritySummary(body: Body): body is Body & SecuritySummary {
  return typeof body.passkeys === 'number' && Number.isInteger(body.passkeys) && body.passkeys >= 0 && typeof body.totp === 'boolean';
}

export function isAccount(body: Body): body is Body & Account {
  return typeof body.id === 'string' && typeof body.email === 'string' && (typeof body.phone === 'string' || body.phone === null);
}

/** "45 seconds", "2 minutes", "1 minute 30 seconds". */
function duration(seconds: number): string {
  const minutes = Math.floor(seconds / 60);
  const rest = seconds % 60;
  const part = (n: number, unit: string) => `${n} ${unit}${n === 1 ? '' : 's'}`;
  if (minutes === 0) return part(rest, 'second');
  return rest === 0 ? part(minutes, 'minute') : `${part(minutes, 'minute')} ${part(rest, 'second')}`;
}

/** " Try again in 45 seconds." from Retry-After (seconds or an HTTP date), or a vaguer sentence without it. */
export function retryAfterText(response: Response): string {
  const raw = response.headers.get('Retry-After');
  let seconds = raw === null ? NaN : Number(raw);
  if (raw !== null && !Number.isFinite(seconds)) seconds = (Date.parse(raw) - Date.now()) / 1000;
  if (!Number.isFinite(seconds)) return ' Try again later.';
  return ` Try again in ${duration(Math.max(1, Math.ceil(seconds)))}.`;
}

/**
 * A wrong password, with the wrong passwords still allowed before password
 * checks lock (the server's `remainingAttempts`), and a clear warning before the last one.
 */
function wrongPassword(remaining: unknown): string {
  if (typeof remaining !== 'number') return 'That password is not correct.';
  if (remaining <= 0) return 'That password is not correct, and no attempts are left: password checks are locked for now.';
  if (remaining === 1) {
    return 'That password is not correct. Last attempt: one more wrong password locks password checks for a while.';
  }
  return `That password is not correct. ${remaining} attempts left.`;
}

const FIELD_NAMES: Readonly<Record<string, string>> = {
  amount: 'amount',
  currency: 'currency',
  destination: 'destination account',
  payee: 'payee account',
  password: 'password',
  email: 'email address',
  'identifier.value': 'email address or phone number',
  code: 'code',
};

/**
 * An error answer in plain words. Known codes get the page's own sentence; an
 * unknown one falls back to the server's message, which the caller shows as text.
 */
export function describeError(response: Response, body: Body): string {
  const code = typeof body.code === 'string' ? body.code : '';
  const serverMessage = typeof body.message === 'string' ? body.message : '';
  switch (code) {
    case 'auth.unauthorized':
      return 'Your session has ended. Sign in again.';
    case 'auth.invalid_credentials':
      return 'Wrong email or password.';
    case 'auth.too_many_attempts':
      return `Too many failed sign-ins.${retryAfterText(response)}`;
    case 'verification.invalid_credentials':
      return wrongPassword(body.remainingAttempts);
    case 'verification.too_many_attempts':
      return `Too many wrong passwords.${retryAfterText(response)}`;
    case 'verification_code.code_mismatch': {
      const left = typeof body.remainingAttempts === 'number' ? body.remainingAttempts : null;
      if (left === null) return 'That code is not correct.';
      if (left <= 0) return 'That code is not correct, and no attempts are left. Send a new code.';
      return `That code is not correct. ${left} attempt${left === 1 ? '' : 's'} left.`;
    }
    case 'verification_code.exceed_max_try':
      return 'Too many wrong codes: this code no longer works. Send a new code.';
    case 'verification_record.not_found':
      return 'This code has expired or was already used. Send a new code.';
    case 'verification_code.identifier_mismatch':
      return 'This code was sent to a different address. Send a new code.';
    case 'verification_code.rate_limited':
      return `Too many codes requested.${retryAfterText(response)}`;
    case 'verification_code.delivery_failed':
      return 'The code could not be delivered. Try again in a moment, or choose another way to verify.';
    case 'verification.unavailable':
      return 'Security checks are unavailable right now. Try again in a moment.';
    case 'verification.no_available_method':
      // The refusal lists no methods (the user has none of the route's): say what would help.
      return "None of the ways to confirm it's you that this action accepts is set up for your account. Add a passkey or an authenticator app under Security, or sign out and sign in again.";
    case 'verification.new_identifier_unverified':
      return 'The new email has not been confirmed with a code yet, or that code was already used. Send a new code to it.';
    case 'verification.required':
    case 'verification.invalid':
    case 'verification.insufficient':
      return serverMessage || 'This action needs a security check.';
    case 'request.invalid_input': {
      // The generic "Invalid field ..." gets a friendlier sentence; a specific one (e.g. an email
      // that belongs to another account) is already plain words.
      const field = typeof body.field === 'string' ? FIELD_NAMES[body.field] : undefined;
      if (field !== undefined && (serverMessage === '' || serverMessage.startsWith('Invalid field'))) {
        return `Check the ${field} and try again.`;
      }
      return serverMessage || 'Check the form and try again.';
    }
    case 'request.rate_limited':
      return `Too many requests.${retryAfterText(response)}`;
    default:
      if (response.status === 429) return `Too many requests.${retryAfterText(response)}`;
      if (response.status >= 500) return 'The server could not complete this. Try again in a moment.';
      return serverMessage || `The request failed (HTTP ${response.status}).`;
  }
}
