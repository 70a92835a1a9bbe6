import type { RequireVerificationOptions } from './guard';
import type { VerificationMethod } from './records';

/**
 * Named guard policies (`stepUp.requireVerification.strict()`, `.moderate()`, `.lax()`), after
 * Clerk's reverification presets, with the methods chosen by NIST SP 800-63B rev 4 (the README's
 * "Presets" section gives the reasoning). A preset is only a set of `requireVerification` options:
 * the app's overrides are merged over it and the result is checked like any other options.
 */
export type GuardPreset = 'strict' | 'moderate' | 'lax';

/**
 * The methods of `strict`: a passkey, a TOTP code or the password. Email is left out (it does not
 * prove possession of a device: SP 800-63B-4 §3.1.3.1 says it SHALL NOT be used for out-of-band
 * authentication), and so are SMS and voice codes (the PSTN is a *restricted* authenticator, §3.1.3.3:
 * SIM swaps and number porting hand the codes to someone else).
 */
export const STRICT_METHODS: readonly VerificationMethod[] = ['passkey', 'totp', 'password'];

/** The seconds a preset asks for, never more than a record lives (a longer `maxAge` could never be reached). */
const STRICT_MAX_AGE = 300;
const MODERATE_MAX_AGE = 600;

/**
 * A preset's options for records living `recordTtlSeconds`. `moderate` and `lax` name no methods,
 * so they take every built-in one exactly like `requireVerification()` does (and, with
 * `acceptAuthTime`, any fresh sign-in rather than only those whose `amr` names a method).
 */
export function presetOptions(preset: GuardPreset, recordTtlSeconds: number): RequireVerificationOptions {
  switch (preset) {
    case 'strict':
      return { methods: STRICT_METHODS, maxAge: Math.min(STRICT_MAX_AGE, recordTtlSeconds), singleUse: true };
    case 'moderate':
      return { maxAge: Math.min(MODERATE_MAX_AGE, recordTtlSeconds) };
    case 'lax':
      // As long as the record lives: a verification is good on these routes until it expires.
      return { maxAge: recordTtlSeconds };
  }
}

/**
 * The preset's options with the app's overrides on top (an override wins; one set to `undefined`
 * keeps the preset's value rather than falling back to the plain guard's default, so that
 * `strict({ maxAge: undefined })` cannot quietly become a 10-minute route).
 */
export function withOverrides(base: RequireVerificationOptions, overrides: RequireVerificationOptions | undefined): RequireVerificationOptions {
  const merged: Record<string, unknown> = { ...base };
  if (overrides !== undefined && overrides !== null) {
    for (const [key, value] of Object.entries(overrides)) if (value !== undefined) merged[key] = value;
  }
  return merged as RequireVerificationOptions;
}
