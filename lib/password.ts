import { randomBytes } from 'node:crypto';
import { availableParallelism } from 'node:os';
import bcrypt from 'bcrypt';
import { HashingQueue } from './hashing-queue';
import { loadOptionalPeer } from './optional-peer';
import type { StepUpUser } from './users';

/** The app's own password check, used instead of the built-in bcrypt/argon2id one. */
export type VerifyPassword = (user: StepUpUser | null, password: string) => boolean | Promise<boolean>;

const BCRYPT_HASH = /^\$2[aby]\$(\d{2})\$[./A-Za-z0-9]{53}$/;
/** `$argon2id$v=19$m=65536,t=3,p=4$<salt>$<hash>` (the PHC string form; parameters in any order). */
const ARGON2ID_HASH = /^\$argon2id\$v=19\$((?:[mtp]=\d{1,10},?){3})\$[A-Za-z0-9+/]{11,}\$[A-Za-z0-9+/]{16,}$/;

/** argon2's API as far as this file uses it (the package is an optional peer, loaded on first use). */
interface Argon2 {
  verify(hash: string, password: string): Promise<boolean>;
  hash(password: string, options: { type: number; memoryCost: number; timeCost: number; parallelism: number }): Promise<string>;
  readonly argon2id: number;
}

/**
 * Checks waiting per hashing slot at most: at bcrypt cost 10 (about 50 ms a hash) about a second of
 * waiting, enough to ride out a burst of sign-ins. Slower hashes (a higher cost, busy cores) wait
 * fewer: the queue admits about a second of them (HashingQueue's maxWaitMs).
 */
const QUEUE_PER_SLOT = 16;

/** Hashes at once by default: one core fewer than the machine has (the event loop keeps one), at least 1. */
export function defaultPasswordConcurrency(): number {
  return Math.max(1, availableParallelism() - 1);
}

/** What the dummy hash must look like to take as long as the app's real hashes. */
type HashKind = { readonly scheme: 'bcrypt'; readonly cost: number } | { readonly scheme: 'argon2id'; readonly params: string };

/**
 * Checks a password against the user's hash with async APIs (never blocking the event loop):
 * bcrypt (`$2a$`/`$2b$`/`$2y$`) or argon2id (`$argon2id$`, through the optional `argon2` package),
 * chosen by the hash's prefix. A user without a usable hash is checked against a dummy hash of
 * the same kind and cost as the app's real hashes (the last one seen; until then bcrypt of the
 * configured cost), so "no password" and "wrong password" take about the same time and answer
 * the same. bcrypt reads only the first 72 bytes of a password.
 *
 * Every comparison, the dummy one included (so both take the same path and time), goes through a
 * HashingQueue: at most `concurrency` at once, about a second of checks waiting (at most
 * `concurrency × QUEUE_PER_SLOT`), the rest refused with 503 `verification.unavailable`.
 */
export class PasswordChecker {
  readonly #dummies = new Map<string, Promise<string>>();
  readonly #queue: HashingQueue;
  #kind: HashKind;
  #argon2: Argon2 | undefined;

  constructor(initialCost: number, concurrency: number = defaultPasswordConcurrency()) {
    this.#kind = { scheme: 'bcrypt', cost: initialCost };
    this.#queue = new HashingQueue(concurrency, concurrency * QUEUE_PER_SLOT);
  }

  /**
   * Whether `password` is the user's; a missing user or one without a usable hash is checked against
   * the dummy. Rejects with 503 `verification.unavailable` when too many checks are waiting.
   */
  matches(password: string, user: StepUpUser | null): Promise<boolean> {
    return this.#queue.run(() => this.#compare(password, user));
  }

  async #compare(password: string, user: StepUpUser | null): Promise<boolean> {
    const hash = user?.passwordHash;
    if (typeof hash === 'string') {
      const bcryptHash = BCRYPT_HASH.exec(hash);
      if (bcryptHash !== null) {
        this.#kind = { scheme: 'bcrypt', cost: Number(bcryptHash[1]) };
        return bcrypt.compare(password, hash);
      }
      const argonHash = ARGON2ID_HASH.exec(hash);
      if (argonHash !== null) {
        this.#kind = { scheme: 'argon2id', params: argonHash[1] as string };
        return this.#loadArgon2().verify(hash, password);
      }
    }
    await this.#compareWithDummy(password);
    return false;
  }

  /** Computes the dummy hash ahead of the first request. */
  warmUp(): Promise<unknown> {
    return this.#dummy(this.#kind);
  }

  async #compareWithDummy(password: string): Promise<void> {
    const kind = this.#kind;
    const dummy = await this.#dummy(kind);
    if (kind.scheme === 'bcrypt') await bcrypt.compare(password, dummy);
    else await this.#loadArgon2().verify(dummy, password);
  }

  #dummy(kind: HashKind): Promise<string> {
    const key = kind.scheme === 'bcrypt' ? `bcrypt:${kind.cost}` : `argon2id:${kind.params}`;
    let dummy = this.#dummies.get(key);
    if (dummy === undefined) {
      const secret = randomBytes(32).toString('base64');
      dummy = kind.scheme === 'bcrypt' ? bcrypt.hash(secret, kind.cost) : this.#argon2Dummy(secret, kind.params);
      this.#dummies.set(key, dummy);
    }
    return dummy;
  }

  #argon2Dummy(secret: string, params: string): Promise<string> {
    const value = (name: string) => Number(new RegExp(`${name}=(\\d+)`).exec(params)?.[1]);
    const argon2 = this.#loadArgon2();
    return argon2.hash(secret, { type: argon2.argon2id, memoryCost: value('m'), timeCost: value('t'), parallelism: value('p') });
  }

  #loadArgon2(): Argon2 {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    this.#argon2 ??= loadOptionalPeer('PasswordChecker', 'argon2', () => require('argon2') as Argon2, 'argon2id password hashes');
    return this.#argon2;
  }
}
