import { Secret, TOTP } from 'otpauth';
import type { Action } from '../action';
import { VerificationError } from '../errors';
import type { Requester, VerifiedRecord } from '../records';
import type { VerificationStore } from '../stores/store';
import type { UserLookup } from '../users';
import type { VerificationService } from '../verification-service';
import { SecretSealer } from './sealed-secret';

/** RFC 6238 as every authenticator app reads it: HMAC-SHA1, 6 digits, 30-second steps. */
const ALGORITHM = 'SHA1';
const DIGITS = 6;
const PERIOD_SECONDS = 30;
const PERIOD_MS = PERIOD_SECONDS * 1000;
/** Steps accepted either side of the current one (RFC 6238 §5.2 recommends at most one). */
const WINDOW = 1;
/** 160 bits, the HMAC-SHA1 output size (RFC 4226 §4 asks for at least 128, recommends 160). */
const SECRET_BYTES = 20;
/** The store id of a user's pending enrollment (one at a time: a new one replaces it). */
const ENROLLMENT_ID = 'totp-enrollment';
/** How long a pending enrollment waits for its first code (revokeAll covers it). */
export const TOTP_ENROLLMENT_TTL_MS = 10 * 60_000;
const CODE = /^\d{6}$/;

export interface TotpConfig {
  readonly service: VerificationService;
  readonly store: VerificationStore;
  readonly users: UserLookup;
  /** The server secret: the sealing key is derived from it. */
  readonly secret: Buffer;
  readonly issuer: string;
  readonly now: () => number;
}

/** What the client shows the user to add the account to an authenticator app. */
export interface TotpEnrollment {
  /** The secret, base32 (for typing it in). */
  readonly secret: string;
  /** The `otpauth://totp/…` key URI (for a QR code). */
  readonly otpauthUri: string;
}

/** A pending enrollment as kept in the store: the secret sealed, and the session that started it. */
interface PendingEnrollment {
  readonly sealed: string;
  readonly sessionRef?: string;
}

const notFound = () => new VerificationError('verification_record.not_found');
const wrongCode = () => new VerificationError('verification.invalid_credentials', { message: 'The code is not correct.' });

/**
 * TOTP as a step-up factor: enrolling a secret behind a fresh verification, confirming it with a
 * first code, and verifying codes into records of method `totp`. Secrets are sealed (SecretSealer)
 * wherever they are kept, in the store while pending and in the app's database once confirmed.
 * Each time step is accepted once per user (`store.useTotpStep`), so a code cannot be replayed.
 */
export class TotpService {
  readonly #sealer: SecretSealer;
  /** Compared against when the user has no (readable) secret, so that answer takes as long as a wrong code. */
  readonly #dummy = new Secret({ size: SECRET_BYTES });

  constructor(private readonly config: TotpConfig) {
    this.#sealer = new SecretSealer(config.secret);
  }

  /**
   * Draws a new secret and keeps it, sealed and bound to the requester's session, as the user's
   * pending enrollment for 10 minutes (replacing any earlier one). The caller has consumed a fresh
   * identity record first (consumeFreshIdentity).
   */
  async startEnrollment(requester: Requester): Promise<TotpEnrollment> {
    const { store, users, issuer, now } = this.config;
    const user = await users.findById(requester.userId);
    const secret = new Secret({ size: SECRET_BYTES });
    const pending: PendingEnrollment = {
      sealed: this.#sealer.seal(requester.userId, secret.bytes),
      ...(requester.sessionRef !== undefined ? { sessionRef: requester.sessionRef } : {}),
    };
    await store.putChallenge(requester.userId, ENROLLMENT_ID, JSON.stringify(pending), now() + TOTP_ENROLLMENT_TTL_MS);
    const label = typeof user?.email === 'string' && user.email.length > 0 ? user.email : requester.userId;
    const totp = new TOTP({ issuer, label, secret, algorithm: ALGORITHM, digits: DIGITS, period: PERIOD_SECONDS });
    return { secret: secret.base32, otpauthUri: totp.toString() };
  }

  /**
   * Confirms the pending enrollment with a first code: saves the sealed secret through
   * `users.saveTotpSecret` and ends the enrollment (used up first, so it enrolls once however many
   * confirmations race). A wrong code is 422 and keeps the enrollment (the user may try again); no
   * pending enrollment of this user and session is 404.
   */
  async confirmEnrollment(requester: Requester, code: string): Promise<void> {
    const { store, users } = this.config;
    const kept = await store.readChallenge(requester.userId, ENROLLMENT_ID, false);
    const pending = parsePending(kept);
    const secret = pending !== null && pending.sessionRef === requester.sessionRef ? this.#sealer.open(requester.userId, pending.sealed) : null;
    if (pending === null || secret === null) throw notFound();
    await this.#accept(requester.userId, secret, code);
    // A right code uses the enrollment up, atomically: of concurrent confirmations (codes of two
    // steps of the window) exactly one goes on, and only with the enrollment its code was checked
    // against (not one that replaced it meanwhile, which this call then ends too: start again).
    if ((await store.readChallenge(requester.userId, ENROLLMENT_ID, true)) !== kept) throw notFound();
    // Checked at startup (the `totp` option requires it).
    if (users.saveTotpSecret === undefined) throw new Error('users.saveTotpSecret is missing');
    await users.saveTotpSecret(requester.userId, pending.sealed);
  }

  /**
   * A verified record of method `totp` for a right code of the user's saved secret. A wrong code, a
   * code whose time step was already used, and a user without TOTP all get the same 422.
   */
  async verify(requester: Requester, code: string, action: Action | undefined): Promise<VerifiedRecord> {
    const user = await this.config.users.findById(requester.userId);
    const secret = this.#sealer.open(requester.userId, user?.totpSecret);
    if (secret === null) {
      // Not enrolled (or a secret that no longer opens): the same answer as a wrong code, after the same work.
      this.#matchingStep(this.#dummy.bytes, code);
      throw wrongCode();
    }
    await this.#accept(requester.userId, secret, code);
    return this.config.service.createVerified(requester, 'totp', action);
  }

  /** Accepts `code` once: it must match a step of the window, and that step must be later than any this user used. */
  async #accept(userId: string, secret: Uint8Array, code: string): Promise<void> {
    const step = this.#matchingStep(secret, code);
    if (step === null) throw wrongCode();
    // The mark must outlive every moment the step can still be accepted (until WINDOW steps after
    // it end), plus a step for clocks of instances that differ a little.
    const markUntil = (step + WINDOW + 2) * PERIOD_MS;
    if (!(await this.config.store.useTotpStep(userId, step, markUntil))) throw wrongCode();
  }

  /**
   * The time step whose code `code` is, within ±WINDOW steps of now, or null. otpauth's validate
   * computes the candidate codes and compares each with crypto.timingSafeEqual; it stops at the
   * first match, which tells only which step matched, never anything about a wrong code. Its
   * comparison throws on inputs of different byte lengths, hence the 6-ASCII-digit check first.
   */
  #matchingStep(secret: Uint8Array, code: string): number | null {
    if (!CODE.test(code)) return null;
    const timestamp = this.config.now();
    const delta = TOTP.validate({
      token: code,
      secret: new Secret({ buffer: Uint8Array.from(secret).buffer }),
      algorithm: ALGORITHM,
      digits: DIGITS,
      period: PERIOD_SECONDS,
      timestamp,
      window: WINDOW,
    });
    return delta === null ? null : TOTP.counter({ period: PERIOD_SECONDS, timestamp }) + delta;
  }
}

/** The pending enrollment the store kept, or null for none (or a value that is not one). */
function parsePending(kept: string | null): PendingEnrollment | null {
  if (kept === null) return null;
  try {
    const value = JSON.parse(kept) as { sealed?: unknown; sessionRef?: unknown };
    if (typeof value.sealed !== 'string') return null;
    if (value.sessionRef !== undefined && typeof value.sessionRef !== 'string') return null;
    return { sealed: value.sealed, ...(typeof value.sessionRef === 'string' ? { sessionRef: value.sessionRef } : {}) };
  } catch {
    return null;
  }
}
