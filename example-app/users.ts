import { randomBytes } from 'node:crypto';
import bcrypt from 'bcrypt';
import type { StepUpUser, StoredPasskey, UserLookup } from '../lib/index';

interface DemoUser {
  id: string;
  email: string;
  phone: string;
  passwordHash: string;
  /** The user's passkeys: public keys and counters only (nothing in them is secret). */
  passkeys: StoredPasskey[];
  /** The TOTP secret exactly as the library handed it over: sealed (encrypted), never in clear. */
  totpSecret: string | null;
}

/** What the account page shows about the user's second factors: whether they exist, never their secrets. */
export interface SecuritySummary {
  readonly passkeys: number;
  readonly totp: boolean;
}

/** bcrypt cost of the demo's hashes: the library times "no password" answers to match it. */
const BCRYPT_COST = 10;

/** The contract's demo users. Ids are fixed so several instances sharing a Redis agree on who is who. */
const SEED = [
  { id: 'usr_alice', email: 'alice@example.com', phone: '+14155550100', password: 'correct-horse-battery-staple' },
  { id: 'usr_bob', email: 'bob@example.com', phone: '+14155550101', password: 'bob-very-secret-pass' },
] as const;

/** An in-memory user table for the demo; a real app has its own database. */
export class DemoUsers implements UserLookup {
  readonly #byId = new Map<string, DemoUser>();
  /** A hash of a random string, compared against at sign-in for unknown emails. */
  #dummyHash = '';

  static async seed(): Promise<DemoUsers> {
    const users = new DemoUsers();
    users.#dummyHash = await bcrypt.hash(randomBytes(32).toString('base64'), BCRYPT_COST);
    for (const { password, ...user } of SEED) {
      users.#byId.set(user.id, { ...user, passwordHash: await bcrypt.hash(password, BCRYPT_COST), passkeys: [], totpSecret: null });
    }
    return users;
  }

  findById(userId: string): StepUpUser | null {
    const user = this.#byId.get(userId);
    if (!user) return null;
    const { id, email, phone, passwordHash, totpSecret } = user;
    return { id, email, phone, passwordHash, totpSecret };
  }

  findByEmail(email: string): DemoUser | null {
    const wanted = email.trim().toLowerCase();
    for (const user of this.#byId.values()) if (user.email === wanted) return user;
    return null;
  }

  async checkPassword(email: string, password: string): Promise<DemoUser | null> {
    const user = this.findByEmail(email);
    // Compare even when there is no such user, so sign-in timing does not reveal which emails exist.
    const ok = await bcrypt.compare(password, user?.passwordHash ?? this.#dummyHash);
    return ok && user !== null ? user : null;
  }

  /** False when there is no such user. */
  async setPassword(userId: string, password: string): Promise<boolean> {
    const user = this.#byId.get(userId);
    if (!user) return false;
    user.passwordHash = await bcrypt.hash(password, BCRYPT_COST);
    return true;
  }

  setEmail(userId: string, email: string): void {
    const user = this.#byId.get(userId);
    if (user) user.email = email;
  }

  listPasskeys(userId: string): readonly StoredPasskey[] {
    return this.#byId.get(userId)?.passkeys.map((passkey) => ({ ...passkey })) ?? [];
  }

  /** A credential id the user already has is replaced, not added twice. */
  savePasskey(userId: string, passkey: StoredPasskey): void {
    const user = this.#byId.get(userId);
    if (!user) return;
    const copy: StoredPasskey = { ...passkey, ...(passkey.transports ? { transports: [...passkey.transports] } : {}) };
    user.passkeys = [...user.passkeys.filter((known) => known.id !== passkey.id), copy];
  }

  updatePasskeyCounter(userId: string, credentialId: string, counter: number): void {
    const user = this.#byId.get(userId);
    if (!user) return;
    user.passkeys = user.passkeys.map((known) => (known.id === credentialId ? { ...known, counter } : known));
  }

  saveTotpSecret(userId: string, sealedSecret: string): void {
    const user = this.#byId.get(userId);
    if (user) user.totpSecret = sealedSecret;
  }

  account(userId: string): { id: string; email: string; phone: string } | null {
    const user = this.#byId.get(userId);
    return user ? { id: user.id, email: user.email, phone: user.phone } : null;
  }

  security(userId: string): SecuritySummary | null {
    const user = this.#byId.get(userId);
    return user ? { passkeys: user.passkeys.length, totp: user.totpSecret !== null } : null;
  }
}
