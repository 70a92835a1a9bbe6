import { randomBytes } from 'node:crypto';
import bcrypt from 'bcrypt';
import type { StepUpUser } from './users';

const BCRYPT_HASH = /^\$2[aby]\$(\d{2})\$[./A-Za-z0-9]{53}$/;

/**
 * Checks a password against a bcrypt hash with the async API (never blocking the
 * event loop). A user without a usable hash is checked against a dummy hash of
 * the same cost as the app's real hashes, so "no password" and "wrong password"
 * take about the same time and answer the same.
 */
export class PasswordChecker {
  readonly #dummies = new Map<number, Promise<string>>();
  /** The cost of the app's hashes: as configured until a real hash shows it. */
  #cost: number;

  constructor(initialCost: number) {
    this.#cost = initialCost;
  }

  /** Whether `password` is the user's; a missing user or one without a usable hash is checked against the dummy. */
  async matches(password: string, user: StepUpUser | null): Promise<boolean> {
    const hash = user?.passwordHash;
    const real = typeof hash === 'string' ? BCRYPT_HASH.exec(hash) : null;
    if (real !== null) {
      this.#cost = Number(real[1]);
      return bcrypt.compare(password, hash as string);
    }
    await bcrypt.compare(password, await this.#dummy(this.#cost));
    return false;
  }

  #dummy(cost: number): Promise<string> {
    let dummy = this.#dummies.get(cost);
    if (dummy === undefined) {
      dummy = bcrypt.hash(randomBytes(32).toString('base64'), cost);
      this.#dummies.set(cost, dummy);
    }
    return dummy;
  }

  /** Computes the dummy hash ahead of the first request. */
  warmUp(): Promise<unknown> {
    return this.#dummy(this.#cost);
  }
}
