import type { Principal } from './auth/authenticator';
import { isBuiltInMethod, type BuiltInMethod, type VerificationMethod } from './records';

/**
 * Delegated step-up: accepting the identity provider's own fresh sign-in (the token's
 * `auth_time`, `acr`, `amr`) instead of a verification record. Pure rules, no I/O.
 */

/**
 * RFC 8176 `amr` values that correspond to each built-in method. Email and TOTP have none (`otp`
 * says only "a one-time password", by any channel: an emailed code too), and passkeys have none
 * (`hwk`/`swk` say only "proof of possession of a key": a security key touched without user
 * verification, a device key, a client certificate), so a route that lists only these methods
 * never accepts a sign-in by its `amr` (its `acrValues` can still say what a provider's sign-in
 * must have been). An app's own methods have none.
 */
export const AMR_FOR_METHOD: Readonly<Record<BuiltInMethod, readonly string[]>> = {
  password: ['pwd'],
  phone: ['sms', 'tel'],
  email: [],
  totp: [],
  passkey: [],
};

/** The `amr` values of a method: a built-in method's, none for an app's own. */
export const amrFor = (method: VerificationMethod): readonly string[] => (isBuiltInMethod(method) ? AMR_FOR_METHOD[method] : []);

/** What a route asks of a provider sign-in. */
export interface SignInRule {
  readonly maxAgeMs: number;
  /** When set, the token's `acr` must be one of these (or its `amr` must match `amr`, when that is set too). */
  readonly acrValues: readonly string[] | undefined;
  /** When set (the route restricts `methods`), the token's `amr` must contain one of these. */
  readonly amr: readonly string[] | undefined;
}

/** How far in the future an `auth_time` may be (clock skew) before it is taken for a bug. */
const FUTURE_TOLERANCE_S = 60;

/**
 * The method a fresh, strong enough provider sign-in stands for, or null when it does not satisfy
 * the route. `auth_time` is in seconds (RFC 7519 NumericDate); one in milliseconds — a common
 * provider bug, which would look fresh for ever — lies far in the future and is refused.
 */
export function signInSatisfies(principal: Principal, rule: SignInRule, nowMs: number): VerificationMethod | 'sign_in' | null {
  const authTime = principal.authTime;
  if (authTime === undefined || !Number.isFinite(authTime)) return null;
  const nowS = nowMs / 1000;
  const fresh = authTime <= nowS + FUTURE_TOLERANCE_S && authTime * 1000 >= nowMs - rule.maxAgeMs;
  if (!fresh) return null;
  const amrMatch = rule.amr === undefined ? undefined : (principal.amr ?? []).find((value) => rule.amr?.includes(value));
  const acrMatch = rule.acrValues === undefined ? undefined : principal.acr !== undefined && rule.acrValues.includes(principal.acr);
  if (rule.acrValues !== undefined && rule.amr !== undefined) {
    if (!acrMatch && amrMatch === undefined) return null;
  } else if (rule.acrValues !== undefined) {
    if (!acrMatch) return null;
  } else if (rule.amr !== undefined) {
    if (amrMatch === undefined) return null;
  }
  return amrMatch !== undefined ? methodOfAmr(amrMatch) : 'sign_in';
}

function methodOfAmr(amr: string): VerificationMethod | 'sign_in' {
  for (const [method, values] of Object.entries(AMR_FOR_METHOD) as Array<[VerificationMethod, readonly string[]]>) {
    if (values.includes(amr)) return method;
  }
  return 'sign_in';
}

/** A quoted-string of RFC 9110 §5.6.4: backslash and double quote escaped, control characters dropped. */
function quoted(value: string): string {
  return `"${value.replace(/[\u0000-\u001f\u007f]/g, '').replace(/["\\]/g, (c) => `\\${c}`)}"`;
}

/**
 * The `WWW-Authenticate` challenge of RFC 9470 §3: `Bearer error="insufficient_user_authentication",
 * error_description="…", max_age="…"` and `acr_values` when the route names them.
 */
export function rfc9470Challenge(description: string, maxAgeSeconds: number, acrValues: readonly string[] | undefined): string {
  const parts = [
    'error="insufficient_user_authentication"',
    `error_description=${quoted(description)}`,
    `max_age="${Math.floor(maxAgeSeconds)}"`,
    ...(acrValues !== undefined && acrValues.length > 0 ? [`acr_values=${quoted(acrValues.join(' '))}`] : []),
  ];
  return `Bearer ${parts.join(', ')}`;
}
