import type { Store as RateLimitStore } from 'express-rate-limit';
import type {
  CodeCheck,
  CodeCheckResult,
  GuardCriteria,
  RedeemCriteria,
  VerificationRecord,
} from '../records';

/**
 * Where verification records live. Every method is one atomic step: a store
 * either does all of it or none of it, also under concurrent callers and across
 * processes sharing the store. The contract suite in `test/store.contract.ts`
 * is the definition of a store.
 *
 * A store that cannot reach its backend rejects with `StoreUnavailableError`
 * (never resolves a guess), so callers fail closed.
 */
export interface VerificationStore {
  /** Saves a new record; it disappears by itself at `record.expiresAt`. */
  create(record: VerificationRecord): Promise<void>;

  /** The record, or null when unknown or expired. */
  get(id: string): Promise<VerificationRecord | null>;

  /**
   * The guard's one round trip: returns the record as it was (or null), and,
   * when `consume` is set and the record satisfies `criteria` (`guardVerdict`
   * is 'ok'), deletes it in the same atomic step. `consumed` tells whether
   * this call was the one that deleted it.
   */
  checkForGuard(
    id: string,
    criteria: GuardCriteria,
    consume: boolean,
  ): Promise<{ record: VerificationRecord | null; consumed: boolean }>;

  /**
   * Checks a one-time code in one atomic step: ownership, expiry, identifier,
   * attempts, constant-time comparison; marks the record verified (new expiry
   * `now + recordTtlMs`, code hash dropped) or counts the wrong attempt.
   */
  checkCode(id: string, check: CodeCheck): Promise<CodeCheckResult>;

  /** Deletes and returns a verified new-identifier record if `isRedeemable`; otherwise null, unchanged. */
  redeem(id: string, criteria: RedeemCriteria): Promise<VerificationRecord | null>;

  /** Resolves when the backend answers; rejects with StoreUnavailableError otherwise. */
  ping(): Promise<void>;

  /**
   * A new, unshared express-rate-limit store for the counters named `name`,
   * on the same backend as the records, so that every instance sharing the
   * records also shares the rate limits.
   */
  counterStore(name: string): RateLimitStore;
}

/** The backend of a store could not be reached in time. Callers answer 503. */
export class StoreUnavailableError extends Error {
  override readonly name = 'StoreUnavailableError';
  constructor(message = 'The verification store is unavailable', options?: { cause?: unknown }) {
    super(message, options);
  }
}
