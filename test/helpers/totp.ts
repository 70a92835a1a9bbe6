import { randomBytes } from 'node:crypto';
import bcrypt from 'bcrypt';
import { Secret, TOTP } from 'otpauth';
import type { StepUpUser, UserLookup } from '../../lib/index';

export const TOTP_STEP_MS = 30_000;

/** The code an authenticator app shows at `timestamp` for a base32 secret (SHA1, 6 digits, 30 s). */
export function totpCodeAt(secret: string, timestamp: number): string {
  return TOTP.generate({ secret: Secret.fromBase32(secret), algorithm: 'SHA1', digits: 6, period: 30, timestamp });
}

/** The middle of the 30-second step that holds `at`: a code made then stays in its step for 15 s either way. */
export const midStep = (at = Date.now()) => Math.floor(at / TOTP_STEP_MS) * TOTP_STEP_MS + TOTP_STEP_MS / 2;

type Mutable<T> = { -readonly [K in keyof T]: T[K] };
export type Account = Mutable<StepUpUser>;

export const TOTP_USER_PASSWORD = 'totp-user-password';
const PASSWORD_HASH = bcrypt.hashSync(TOTP_USER_PASSWORD, 4);

/**
 * The app's user port for TOTP tests: accounts in a map, with `saveTotpSecret` writing the sealed
 * secret where `findById` reports it, and a log of what was saved. Each `add()` makes a new user
 * (TOTP step marks are per user, so tests that use steps do not meet each other's marks).
 */
export function totpAccounts() {
  const accounts = new Map<string, Account>();
  const saved: Array<{ userId: string; sealedSecret: string }> = [];
  const users: UserLookup = {
    findById: (id) => {
      const account = accounts.get(id);
      return account === undefined ? null : { ...account };
    },
    saveTotpSecret: (userId, sealedSecret) => {
      saved.push({ userId, sealedSecret });
      const account = accounts.get(userId);
      if (account !== undefined) account.totpSecret = sealedSecret;
    },
  };
  const add = (fields: Partial<Account> = {}): string => {
    const id = `usr_${randomBytes(6).toString('hex')}`;
    accounts.set(id, { id, passwordHash: PASSWORD_HASH, email: `${id}@example.com`, ...fields });
    return id;
  };
  return { accounts, saved, users, add };
}
