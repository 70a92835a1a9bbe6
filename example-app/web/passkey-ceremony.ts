/**
 * The browser's side of passkeys, through @simplewebauthn/browser: create a
 * passkey from the server's registration options, sign the server's challenge
 * with one, and every way the browser can refuse put in plain words.
 */
import {
  browserSupportsWebAuthn,
  startAuthentication,
  startRegistration,
  WebAuthnAbortService,
  WebAuthnError,
  type AuthenticationResponseJSON,
  type PublicKeyCredentialCreationOptionsJSON,
  type PublicKeyCredentialRequestOptionsJSON,
  type RegistrationResponseJSON,
} from '@simplewebauthn/browser';

/** The browser answered, or said why not (in words for the user). */
export type CeremonyResult<T> = { readonly ok: true; readonly response: T } | { readonly ok: false; readonly message: string };

/** Whether this browser can use passkeys at all (WebAuthn in a secure context). */
export function passkeysSupported(): boolean {
  return browserSupportsWebAuthn();
}

/** Options as the server sent them: an object with a challenge. The browser checks the rest. */
function hasChallenge(value: unknown): value is { challenge: string } {
  return typeof value === 'object' && value !== null && typeof (value as { challenge?: unknown }).challenge === 'string';
}

/** Why the browser refused, for the user: never the raw error (its text is for developers). */
function refusal(error: unknown, creating: boolean): string {
  const code = error instanceof WebAuthnError ? error.code : undefined;
  const name = error instanceof Error ? error.name : '';
  if (code === 'ERROR_AUTHENTICATOR_PREVIOUSLY_REGISTERED') return 'This device already holds a passkey for your account.';
  if (code === 'ERROR_INVALID_DOMAIN' || code === 'ERROR_INVALID_RP_ID' || name === 'SecurityError') {
    return 'Passkeys do not work on this address of the site. Open it at the address it is configured for.';
  }
  if (name === 'NotAllowedError' || name === 'AbortError' || code === 'ERROR_CEREMONY_ABORTED') {
    return creating
      ? 'No passkey was created: the request was cancelled or timed out.'
      : 'The passkey check was cancelled or timed out. Try again, or choose another way.';
  }
  return creating ? 'Your browser could not create a passkey.' : 'Your browser could not use your passkey. Try again, or choose another way.';
}

/** One WebAuthn ceremony in the browser, with the checks and refusal messages both share. */
async function ceremony<R>(options: unknown, creating: boolean, start: () => Promise<R>): Promise<CeremonyResult<R>> {
  if (!passkeysSupported()) return { ok: false, message: 'This browser does not support passkeys.' };
  if (!hasChallenge(options)) return { ok: false, message: 'The server sent something the page does not understand. Try again.' };
  try {
    return { ok: true, response: await start() };
  } catch (error) {
    return { ok: false, message: refusal(error, creating) };
  }
}

export function createPasskey(options: unknown): Promise<CeremonyResult<RegistrationResponseJSON>> {
  return ceremony(options, true, () => startRegistration({ optionsJSON: options as PublicKeyCredentialCreationOptionsJSON }));
}

export function usePasskey(options: unknown): Promise<CeremonyResult<AuthenticationResponseJSON>> {
  return ceremony(options, false, () => startAuthentication({ optionsJSON: options as PublicKeyCredentialRequestOptionsJSON }));
}

/** Stops a ceremony in progress (the dialog closed while the browser was asking). */
export function cancelPasskeyCeremony(): void {
  WebAuthnAbortService.cancelCeremony();
}
