import { createHash, createHmac, randomBytes } from 'node:crypto';
import type {
  AuthenticationResponseJSON,
  PublicKeyCredentialCreationOptionsJSON,
  PublicKeyCredentialRequestOptionsJSON,
  RegistrationResponseJSON,
} from '@simplewebauthn/server';
import { actionRef, canonicalAction, type Action } from '../action';
import { VerificationError } from '../errors';
import { isRecordId, newRecordId } from '../record-id';
import type { Requester, VerifiedRecord } from '../records';
import type { VerificationStore } from '../stores/store';
import type { StoredPasskey, UserLookup } from '../users';
import type { VerificationService } from '../verification-service';
import type { ResolvedPasskeys } from './passkey-options';

/** How long a registration or authentication challenge can be answered: 5 minutes. */
export const PASSKEY_CHALLENGE_TTL_MS = 5 * 60_000;

/** The user port with the members the `passkeys` option requires (checked by resolvePasskeys). */
type PasskeyUsers = UserLookup & Required<Pick<UserLookup, 'listPasskeys' | 'savePasskey' | 'updatePasskeyCounter'>>;

export interface PasskeyServiceConfig {
  readonly passkeys: ResolvedPasskeys;
  readonly store: VerificationStore;
  readonly users: UserLookup;
  readonly service: VerificationService;
  /** Server secret: keys the WebAuthn user handle and the action refs. */
  readonly secret: Buffer;
  /** Lifetime of a verified record (the `maxAge` a refusal names). */
  readonly recordTtlMs: number;
  readonly now: () => number;
}

/** What the store keeps for a pending challenge (nothing in it is secret: the challenge is sent to the client). */
interface PendingChallenge {
  readonly challenge: string;
  /** Epoch ms; checked on read too, so the service's clock decides as well as the store's expiry. */
  readonly expiresAt: number;
  readonly sessionRef?: string;
  readonly actionRef?: string;
}

/** The pending registration of a user in one session (a new one replaces it). */
const registrationChallengeId = (requester: Requester) =>
  requester.sessionRef === undefined ? 'passkey-registration' : `passkey-registration.${requester.sessionRef}`;

const invalidPasskey = () => new VerificationError('verification.invalid_credentials', { message: 'The passkey could not be verified.' });
const notFound = () => new VerificationError('verification_record.not_found');

const bytes = (base64url: string): Uint8Array<ArrayBuffer> => new Uint8Array(Buffer.from(base64url, 'base64url'));
const base64url = (data: Uint8Array): string => Buffer.from(data).toString('base64url');

/**
 * Passkeys (WebAuthn, user verification required) as a step-up factor, on @simplewebauthn/server:
 * registering a passkey (after a fresh identity verification, checked by the router), and
 * verifying one into a verified record of method `passkey`. Every challenge is single use: the
 * first answer to it consumes it, right or wrong. With an action, the challenge commits to it:
 * 16 random bytes followed by the SHA-256 of the action's canonical text, so the authenticator's
 * signature covers the action.
 */
export class PasskeyService {
  readonly #users: PasskeyUsers;

  constructor(private readonly config: PasskeyServiceConfig) {
    this.#users = config.users as PasskeyUsers;
  }

  /** Options for `navigator.credentials.create()`, and the user's pending registration challenge. */
  async registrationOptions(requester: Requester): Promise<PublicKeyCredentialCreationOptionsJSON> {
    const { passkeys, store, now } = this.config;
    const [user, existing] = await Promise.all([this.config.users.findById(requester.userId), this.#passkeysOf(requester.userId)]);
    const name = typeof user?.email === 'string' && user.email.length > 0 ? user.email : requester.userId;
    const options = await passkeys.webauthn.generateRegistrationOptions({
      rpName: passkeys.rpName,
      rpID: passkeys.rpId,
      userID: this.#userHandle(requester.userId),
      userName: name,
      userDisplayName: name,
      timeout: PASSKEY_CHALLENGE_TTL_MS,
      attestationType: 'none',
      excludeCredentials: existing.map(descriptor),
      authenticatorSelection: { residentKey: 'preferred', userVerification: 'required' },
    });
    await this.#keep(requester, registrationChallengeId(requester), { challenge: options.challenge, expiresAt: now() + PASSKEY_CHALLENGE_TTL_MS });
    return options;
  }

  /**
   * Checks a registration answer against the user's pending challenge (used up by this call,
   * whatever the outcome) and saves the new passkey through the user port. Any failure is 422
   * `verification.invalid_credentials`, without the library's reason.
   */
  async verifyRegistration(requester: Requester, response: RegistrationResponseJSON): Promise<string> {
    const { passkeys } = this.config;
    const pending = await this.#take(requester, registrationChallengeId(requester));
    if (pending === null) throw invalidPasskey();
    let credential: { readonly id: string; readonly publicKey: Uint8Array; readonly counter: number };
    try {
      const result = await passkeys.webauthn.verifyRegistrationResponse({
        response,
        expectedChallenge: pending.challenge,
        expectedOrigin: [...passkeys.origins],
        expectedRPID: passkeys.rpId,
        requireUserPresence: true,
        requireUserVerification: true,
      });
      if (!result.verified) throw invalidPasskey();
      credential = result.registrationInfo.credential;
    } catch {
      throw invalidPasskey();
    }
    const existing = await this.#passkeysOf(requester.userId);
    if (existing.some((passkey) => passkey.id === credential.id)) throw invalidPasskey();
    const transports = response.response.transports;
    await this.#users.savePasskey(requester.userId, {
      id: credential.id,
      publicKey: base64url(credential.publicKey),
      counter: credential.counter,
      ...(transports !== undefined && transports.length > 0 ? { transports: [...transports] } : {}),
    });
    return credential.id;
  }

  /**
   * A fresh single-use challenge for `navigator.credentials.get()` over the user's passkeys, kept
   * under a new record id (which the verified record will have). 403
   * `verification.no_available_method` when the user has no passkey.
   */
  async authenticationOptions(
    requester: Requester,
    action: Action | undefined,
  ): Promise<{ id: string; options: PublicKeyCredentialRequestOptionsJSON; expiresAt: number }> {
    const { passkeys, secret, now, recordTtlMs } = this.config;
    const existing = await this.#passkeysOf(requester.userId);
    if (existing.length === 0) {
      throw new VerificationError('verification.no_available_method', {
        details: { requirement: { methods: ['passkey'], maxAge: recordTtlMs / 1000, ...(action !== undefined ? { action } : {}) } },
      });
    }
    const challenge =
      action === undefined
        ? randomBytes(32)
        : Buffer.concat([randomBytes(16), createHash('sha256').update(canonicalAction(action)).digest()]);
    const options = await passkeys.webauthn.generateAuthenticationOptions({
      rpID: passkeys.rpId,
      allowCredentials: existing.map(descriptor),
      challenge: new Uint8Array(challenge),
      timeout: PASSKEY_CHALLENGE_TTL_MS,
      userVerification: 'required',
    });
    const id = newRecordId();
    const expiresAt = now() + PASSKEY_CHALLENGE_TTL_MS;
    await this.#keep(requester, id, { challenge: options.challenge, expiresAt, ...(action !== undefined ? { actionRef: actionRef(secret, action) } : {}) });
    return { id, options, expiresAt };
  }

  /**
   * Checks an authentication answer against the pending challenge `recordId` (used up by this
   * call, whatever the outcome: unknown, expired, used, another user's or another session's is
   * 404) and one of this user's passkeys; then saves the verified record under the same id, bound
   * to the challenge's action. A bad signature, a missing UV flag, another user's credential or a
   * signature counter that did not move forward is 422.
   */
  async verifyAuthentication(requester: Requester, recordId: string, response: AuthenticationResponseJSON): Promise<VerifiedRecord> {
    const { passkeys, service } = this.config;
    if (!isRecordId(recordId)) throw notFound();
    const pending = await this.#take(requester, recordId);
    if (pending === null) throw notFound();
    const passkey = (await this.#passkeysOf(requester.userId)).find((candidate) => candidate.id === response.id);
    if (passkey === undefined) throw invalidPasskey();
    let newCounter: number;
    try {
      const result = await passkeys.webauthn.verifyAuthenticationResponse({
        response,
        expectedChallenge: pending.challenge,
        expectedOrigin: [...passkeys.origins],
        expectedRPID: passkeys.rpId,
        credential: {
          id: passkey.id,
          publicKey: bytes(passkey.publicKey),
          counter: passkey.counter,
          ...(passkey.transports !== undefined ? { transports: [...passkey.transports] } : {}),
        },
        requireUserVerification: true,
      });
      if (!result.verified) throw invalidPasskey();
      newCounter = result.authenticationInfo.newCounter;
    } catch {
      throw invalidPasskey();
    }
    // The library checks this too; it is the replay signal of cloned authenticators, so it is
    // checked here as well rather than left to one dependency: both 0 means "no counter" (allowed).
    if ((newCounter > 0 || passkey.counter > 0) && !(newCounter > passkey.counter)) throw invalidPasskey();
    if (newCounter !== passkey.counter) await this.#users.updatePasskeyCounter(requester.userId, passkey.id, newCounter);
    return service.saveVerified(requester, 'passkey', { id: recordId, actionRef: pending.actionRef });
  }

  /** The user's passkeys, as the user port lists them. */
  async #passkeysOf(userId: string): Promise<readonly StoredPasskey[]> {
    const listed = await this.#users.listPasskeys(userId);
    if (!Array.isArray(listed)) throw new TypeError('users.listPasskeys must return an array');
    return listed;
  }

  /**
   * The WebAuthn user handle: an HMAC of the user id under the server secret, not the id itself
   * (the spec asks for an opaque handle without personal data). Stable while the secret is.
   */
  #userHandle(userId: string): Uint8Array<ArrayBuffer> {
    return new Uint8Array(createHmac('sha256', this.config.secret).update('webauthn-user\0').update(userId).digest());
  }

  #keep(requester: Requester, id: string, pending: Omit<PendingChallenge, 'sessionRef'>): Promise<void> {
    const value: PendingChallenge = { ...pending, ...(requester.sessionRef !== undefined ? { sessionRef: requester.sessionRef } : {}) };
    return this.config.store.putChallenge(requester.userId, id, JSON.stringify(value), pending.expiresAt);
  }

  /** Consumes a pending challenge of this user; null unless it exists, is live and was made in this very session. */
  async #take(requester: Requester, id: string): Promise<PendingChallenge | null> {
    const value = await this.config.store.readChallenge(requester.userId, id, true);
    if (value === null) return null;
    const pending = parsePending(value);
    if (pending === null || pending.sessionRef !== requester.sessionRef || !(pending.expiresAt > this.config.now())) return null;
    return pending;
  }
}

function descriptor(passkey: StoredPasskey): { id: string; transports?: string[] } {
  return { id: passkey.id, ...(passkey.transports !== undefined ? { transports: [...passkey.transports] } : {}) };
}

/** The stored value read back; anything malformed counts as no challenge (fails closed). */
function parsePending(value: string): PendingChallenge | null {
  let parsed: unknown;
  try {
    parsed = JSON.parse(value);
  } catch {
    return null;
  }
  if (typeof parsed !== 'object' || parsed === null) return null;
  const { challenge, expiresAt, sessionRef, actionRef: ref } = parsed as Record<string, unknown>;
  if (typeof challenge !== 'string' || challenge.length === 0 || typeof expiresAt !== 'number') return null;
  if (sessionRef !== undefined && typeof sessionRef !== 'string') return null;
  if (ref !== undefined && typeof ref !== 'string') return null;
  return { challenge, expiresAt, ...(sessionRef !== undefined ? { sessionRef } : {}), ...(ref !== undefined ? { actionRef: ref } : {}) };
}
