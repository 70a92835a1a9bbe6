import type {
  CodeCheck,
  CodeCheckResult,
  GuardCriteria,
  RedeemCriteria,
  VerificationRecord,
  VerifiedRecord,
} from '../records';

/**
 * Where verification records live. Every method is one atomic step: a store either does all of
 * it or none of it, also under concurrent callers and across processes sharing the store. The
 * contract suite in `test/store.contract.ts` is the definition of a store.
 *
 * Records are addressed by their id *and* their user: a store may keep a user's records together
 * (the Redis store keys them in the user's hash slot, beside the user's revocation mark), and a
 * record asked for under another user is simply not found.
 *
 * A store never returns a record made before the last `revokeAll` of its user: for every method
 * below, such a record does not exist.
 *
 * A store that cannot reach its backend rejects with `StoreUnavailableError` (never resolves a
 * guess), so callers fail closed.
 */
export interface VerificationStore {
  /** Saves a new record; it disappears by itself at `record.expiresAt`. */
  create(record: VerificationRecord): Promise<void>;

  /** The record of this user, or null when unknown, expired, revoked or another user's. */
  get(userId: string, id: string): Promise<VerificationRecord | null>;

  /**
   * The guard's one round trip: returns the record as it is (or null), and, when `consume` is set
   * and the record satisfies `criteria` (`guardVerdict` is 'ok'), deletes it in the same atomic
   * step. `consumed` tells whether this call was the one that deleted it.
   */
  checkForGuard(id: string, criteria: GuardCriteria, consume: boolean): Promise<{ record: VerificationRecord | null; consumed: boolean }>;

  /**
   * Checks a one-time code in one atomic step: ownership, session, expiry, identifier, attempts,
   * constant-time comparison; makes the record verified (`verifiedFromCode`) or counts the wrong attempt.
   */
  checkCode(id: string, check: CodeCheck): Promise<CodeCheckResult>;

  /** Deletes and returns a verified new-identifier record if `isRedeemable`; otherwise null, unchanged. */
  redeem(id: string, criteria: RedeemCriteria): Promise<VerifiedRecord | null>;

  /**
   * Makes every record of `userId` that exists now unusable, for good: from now on the store
   * behaves as if they did not exist. Records created afterwards are not affected. `horizonMs` is
   * the longest any record can still live (the store may forget the revocation after it).
   */
  revokeAll(userId: string, horizonMs: number): Promise<void>;

  /**
   * Keeps a single-use value that is not a record, under this user and `id`, until `expiresAt`
   * (epoch ms): a passkey challenge, a pending TOTP enrollment. The value is opaque to the store
   * (the service writes it; it never holds a secret in clear) and replaces any value at that id.
   * Like records, values are revoked by `revokeAll`.
   */
  putChallenge(userId: string, id: string, value: string, expiresAt: number): Promise<void>;

  /**
   * The value kept by putChallenge, or null when unknown, expired, revoked or another user's.
   * With `consume`, deletes it in the same atomic step, so of concurrent callers exactly one gets it.
   */
  readChallenge(userId: string, id: string, consume: boolean): Promise<string | null>;

  /** Deletes the value kept by putChallenge (nothing when there is none). */
  deleteChallenge(userId: string, id: string): Promise<void>;

  /**
   * TOTP replay protection: marks time step `step` used by this user when it is later than every
   * step marked before, atomically, and answers true; answers false (marks nothing) otherwise. The
   * mark may be forgotten at `expiresAt` (epoch ms), once no step it covers can be accepted any more.
   */
  useTotpStep(userId: string, step: number, expiresAt: number): Promise<boolean>;

  /** Resolves when the backend answers; rejects with StoreUnavailableError otherwise. */
  ping(): Promise<void>;
}

/** The backend of a store could not be reached in time. Callers answer 503. */
export class StoreUnavailableError extends Error {
  override readonly name = 'StoreUnavailableError';
  constructor(message = 'The verification store is unavailable', options?: { cause?: unknown }) {
    super(message, options);
  }
}
