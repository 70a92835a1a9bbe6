/** What the library needs to know about a user; supplied by the app. */
export interface StepUpUser {
  readonly id: string;
  /** bcrypt or argon2id hash of the user's password; null or absent when the user has none. */
  readonly passwordHash?: string | null | undefined;
  /** The user's current email (codes sent there prove identity). */
  readonly email?: string | null | undefined;
  /** The user's current phone number (codes sent there prove identity). */
  readonly phone?: string | null | undefined;
  /**
   * The user's TOTP secret exactly as `saveTotpSecret` received it (sealed: AES-256-GCM under a
   * key derived from the server `secret`); null or absent when the user has not enrolled TOTP.
   */
  readonly totpSecret?: string | null | undefined;
  /**
   * Methods of the app's own (see `stepUp.createVerification`) this user can use now, e.g.
   * `['sso']`: a refusal offers a route's own methods only to users who list them.
   */
  readonly methods?: readonly string[] | undefined;
}

/** A passkey (WebAuthn credential) of a user, as the app stores it. Nothing in it is secret. */
export interface StoredPasskey {
  /** The credential id, base64url. */
  readonly id: string;
  /** The credential's COSE public key, base64url. */
  readonly publicKey: string;
  /** The authenticator's signature counter at its last use (0 for authenticators that keep none). */
  readonly counter: number;
  /** How the browser may reach the authenticator (`internal`, `hybrid`, `usb`, …), as registration reported it. */
  readonly transports?: readonly string[] | undefined;
}

type MaybePromise<T> = T | Promise<T>;

/** The app's user lookup, and where the app keeps the user's passkeys and TOTP secret. */
export interface UserLookup {
  findById(userId: string): MaybePromise<StepUpUser | null | undefined>;
  /** The user's passkeys (needed with the `passkeys` option). */
  listPasskeys?(userId: string): MaybePromise<readonly StoredPasskey[]>;
  /** Saves a passkey the user just registered (needed with the `passkeys` option). */
  savePasskey?(userId: string, passkey: StoredPasskey): MaybePromise<void>;
  /** Saves a passkey's new signature counter after a use (needed with the `passkeys` option). */
  updatePasskeyCounter?(userId: string, credentialId: string, counter: number): MaybePromise<void>;
  /** Saves the user's sealed TOTP secret once enrollment is confirmed (needed with the `totp` option); `findById` reports it as `totpSecret`. */
  saveTotpSecret?(userId: string, sealedSecret: string): MaybePromise<void>;
}
