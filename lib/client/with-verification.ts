/**
 * A framework-free client for step-up verification: wraps `fetch` so that a
 * request refused with a verification 403 is verified (by your UI) and sent
 * again, once, with the verification record id in a header.
 *
 * This file runs in browsers as well as in Node: it uses only what `fetch`
 * itself needs (Request, Response, Headers and the body types), nothing from
 * the server side of the library, and no DOM API beyond those.
 */
import type { VerificationMethod } from '../records';
import { parseStepUpChallenge, type StepUpChallenge } from './step-up-challenge';

/**
 * A function with the signature of the global `fetch` (window.fetch, Node's undici fetch, or a test double).
 * The input is spelled `string | URL | Request` (the DOM's `string | URL | Request`) so that these types
 * also compile in Node-only projects, whose @types/node has no `RequestInfo`.
 */
export type FetchLike = (input: string | URL | Request, init?: RequestInit) => Promise<Response>;

/**
 * What the server says the refused request needs, as sent in the 403 body's
 * `requirement` field. For `requireVerification()` it is `{ methods, maxAge }`.
 * It may carry more fields in later versions: check `methods` before offering a
 * verification.
 */
export interface VerificationRequirement {
  /** The methods that satisfy the route, e.g. `['password', 'email', 'phone']`. */
  readonly methods?: readonly VerificationMethod[];
  /** Seconds since verification after which a record no longer satisfies the route. */
  readonly maxAge?: number;
  readonly [field: string]: unknown;
}

/** What `onVerificationRequired` learns about the refused request, besides the requirement. */
export interface VerificationRequiredContext {
  /** The refusal code: `verification.required`, `verification.invalid` or `verification.insufficient`. */
  readonly code: string;
  /** The server's human message, when it sent one. */
  readonly message: string | undefined;
  /** The whole parsed 403 body (for fields this helper does not know about). */
  readonly body: Readonly<Record<string, unknown>>;
  /** The refused request, as given to the wrapped function. */
  readonly input: string | URL | Request;
  readonly init: RequestInit | undefined;
  /**
   * The RFC 9470 challenge, when the guard answered with one (`challenge: 'rfc9470'`: a 401 with
   * `WWW-Authenticate: Bearer error="insufficient_user_authentication", max_age, acr_values`): a
   * client of an identity provider starts a new authorization request with these `max_age` and
   * `acr_values`, then calls again with the new token (resolve to null here and retry yourself).
   */
  readonly challenge?: StepUpChallenge;
}

/** The answer of `onVerificationRequired`: a verification record id, or null/undefined to give up. */
export type VerificationRecordId = string | null | undefined;

/** Options of {@link withVerification}. */
export interface WithVerificationOptions {
  /**
   * Called when a request is refused for lack of a (valid, sufficient)
   * verification. Run a verification with the user (for example through the
   * router's `/password/verify` or `/verification-code/verify`) and resolve to
   * the record id it returned; resolve to `null` or `undefined` (the user
   * cancelled) to get the original 403 response back. A rejection rejects the
   * wrapped call with the same error.
   */
  readonly onVerificationRequired: (
    requirement: VerificationRequirement,
    context: VerificationRequiredContext,
  ) => VerificationRecordId | Promise<VerificationRecordId>;
  /** Header carrying the record id on the retry. Default `Verification-Id` (match the guard's `header` option). */
  readonly header?: string;
  /**
   * Origins (besides the request's own) whose verification refusals this wrapper acts on, e.g.
   * `['https://api.bank.example']`. By default it acts only when the refusal came from the origin
   * the request was sent to: a refusal that arrived after a redirect to another origin is
   * returned untouched, so a record id is never sent anywhere but where the request was going.
   */
  readonly allowedOrigins?: readonly string[];
}

const DEFAULT_HEADER = 'Verification-Id';
/** The same rule as the guard's `header` option, so a typo fails at setup rather than on the first 403. */
const HEADER_NAME = /^[A-Za-z0-9-]{1,64}$/;
const JSON_CONTENT_TYPE = /^application\/([a-z0-9.+-]+\+)?json\b/i;

/** Bodies `fetch` can send twice. A stream is consumed by the first send, so it cannot be retried. */
function isResendable(body: BodyInit | null | undefined): boolean {
  return (
    body === undefined ||
    body === null ||
    typeof body === 'string' ||
    body instanceof URLSearchParams ||
    body instanceof ArrayBuffer ||
    ArrayBuffer.isView(body) ||
    (typeof Blob !== 'undefined' && body instanceof Blob) ||
    (typeof FormData !== 'undefined' && body instanceof FormData)
  );
}

/** The URL a fetch input names (relative ones against the page, in a browser). */
function urlOf(input: string | URL | Request): string {
  if (typeof input === 'string') return input;
  if (input instanceof URL) return input.href;
  return input.url;
}

/** The origin of a URL, resolved against the page's address where there is one; undefined when it is not a URL. */
function originOf(url: string): string | undefined {
  try {
    const base = typeof location !== 'undefined' ? location.href : undefined;
    const origin = new URL(url, base).origin;
    return origin === 'null' ? undefined : origin;
  } catch {
    return undefined;
  }
}

/** An `allowedOrigins` entry, checked at setup: exactly an origin such as `https://api.example.com`. */
function checkedOrigin(value: string): string {
  const origin = typeof value === 'string' ? originOf(value) : undefined;
  if (origin === undefined || origin !== value.replace(/\/$/, '')) {
    throw new TypeError('withVerification: allowedOrigins are origins such as "https://api.example.com"');
  }
  return origin;
}

function isRequest(input: string | URL | Request): input is Request {
  return typeof Request !== 'undefined' && input instanceof Request;
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/**
 * The refusal in a 403 answer, or null when it is not a verification refusal.
 * Reads a clone, so the response handed back to the caller is still unread.
 */
async function verificationRefusal(
  response: Response,
): Promise<{ code: string; requirement: VerificationRequirement; body: Record<string, unknown>; challenge: StepUpChallenge | null } | null> {
  // A 403, or a 401 that is an RFC 9470 step-up challenge (any other 401 is about the token).
  const challenge = response.status === 401 ? parseStepUpChallenge(response.headers.get('WWW-Authenticate')) : null;
  if (response.status !== 403 && challenge === null) return null;
  if (!JSON_CONTENT_TYPE.test(response.headers.get('Content-Type') ?? '')) return null;
  let body: unknown;
  try {
    body = await response.clone().json();
  } catch {
    return null; // not JSON after all: not ours to handle
  }
  if (!isObject(body) || typeof body.code !== 'string' || !body.code.startsWith('verification.')) return null;
  // The user has none of the route's methods: there is nothing to verify with, so the refusal is the caller's to handle.
  if (body.code === 'verification.no_available_method') return null;
  if (!isObject(body.requirement)) return null;
  return { code: body.code, requirement: body.requirement, body, challenge };
}

/**
 * Wraps a fetch function so that step-up verification is handled in one place.
 *
 * When a response is a **403** with a JSON body whose `code` starts with
 * `verification.` and that carries a `requirement` (what `requireVerification()`
 * answers), the wrapper calls `onVerificationRequired(requirement, context)`.
 * If that resolves to a record id, the same request is sent **once** more with
 * the id in the `Verification-Id` header (or `options.header`), and that second
 * response is returned whatever it is: the wrapper never loops. If it resolves
 * to `null`/`undefined`, the original 403 response is returned.
 *
 * Any other response (2xx, 401, 500, a 403 with another code or without JSON)
 * is returned untouched; its body is never read. A verification 403 is
 * inspected through `response.clone()`, so its body is still readable too.
 *
 * **Request bodies must be re-sendable**: a string, `URLSearchParams`, `Blob`,
 * `FormData`, `ArrayBuffer` or typed array, or no body. A `ReadableStream`
 * body is refused with a `TypeError` before anything is sent, because it could
 * not be sent again after a verification; call the unwrapped fetch for stream
 * uploads. A `Request` object as input is supported: it is cloned before the
 * first send (so its body is buffered once) and the clone is used for the retry.
 *
 * Other headers, the method, the credentials mode and the abort signal are
 * kept on the retry; the verification header replaces any one already set.
 *
 * @example
 * ```ts
 * import { withVerification } from 'express-step-up/client';
 *
 * const api = withVerification((input, init) => fetch(input, init), {
 *   // Ask the user (your dialog), get a record id from /api/verifications/..., or null if they cancel.
 *   onVerificationRequired: (requirement) => openVerificationDialog(requirement.methods ?? []),
 * });
 * const res = await api('/api/payouts', {
 *   method: 'POST',
 *   headers: { 'Content-Type': 'application/json', Authorization: `Bearer ${token}` },
 *   body: JSON.stringify({ amount: 125.5, currency: 'USD', destination: 'DE89 3704 0044 0532 0130 00' }),
 * });
 * ```
 *
 * @param fetchFn - The fetch to wrap. In a browser pass `(input, init) => fetch(input, init)` or
 *   `window.fetch.bind(window)`: an unbound `window.fetch` throws "Illegal invocation".
 * @returns A function with the signature of `fetch`.
 */
export function withVerification(fetchFn: FetchLike, options: WithVerificationOptions): FetchLike {
  if (typeof fetchFn !== 'function') throw new TypeError('withVerification: fetchFn must be a function');
  if (typeof options?.onVerificationRequired !== 'function') {
    throw new TypeError('withVerification: options.onVerificationRequired must be a function');
  }
  const header = options.header ?? DEFAULT_HEADER;
  if (!HEADER_NAME.test(header)) throw new TypeError('withVerification: header must be a valid header name');
  const allowedOrigins = new Set((options.allowedOrigins ?? []).map(checkedOrigin));

  return async function fetchWithVerification(input: string | URL | Request, init?: RequestInit): Promise<Response> {
    if (!isResendable(init?.body)) {
      throw new TypeError(
        'withVerification: the request body must be re-sendable (string, URLSearchParams, Blob, FormData, ' +
          'ArrayBuffer or typed array); use the unwrapped fetch for streams',
      );
    }
    // A Request's body can be read once: keep a copy for the retry before the first send.
    const spare = isRequest(input) ? input.clone() : undefined;

    const response = await fetchFn(input, init);
    const target = originOf(urlOf(input));
    // Only a refusal from where the request was sent (or an allowed origin) is acted on.
    const from = response.url === '' ? target : originOf(response.url);
    if (from === undefined || (from !== target && !allowedOrigins.has(from))) return response;
    const refusal = await verificationRefusal(response);
    if (refusal === null) return response;

    const recordId = await options.onVerificationRequired(refusal.requirement, {
      code: refusal.code,
      message: typeof refusal.body.message === 'string' ? refusal.body.message : undefined,
      body: refusal.body,
      input,
      init,
      ...(refusal.challenge !== null ? { challenge: refusal.challenge } : {}),
    });
    if (typeof recordId !== 'string' || recordId.length === 0) return response;

    // Headers in init replace the Request's own (fetch semantics), so start from the same place.
    const headers = new Headers(init?.headers ?? (spare ? spare.headers : undefined));
    headers.set(header, recordId);
    // The first 403 is dropped: its body was read to the end through the clone, so nothing is left open.
    // The retry follows no redirect: one would carry the record id to wherever it points.
    return fetchFn(spare ?? input, { ...init, headers, redirect: 'error' });
  };
}
