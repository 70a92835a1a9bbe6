import { MemoryStore as RateLimitMemoryStore, type Store as RateLimitStore } from 'express-rate-limit';
import {
  codeCheckPrecondition,
  guardVerdict,
  isExpired,
  isRedeemable,
  type CodeCheck,
  type CodeCheckResult,
  type GuardCriteria,
  type RedeemCriteria,
  type VerificationRecord,
} from '../records';
import { constantTimeEqual } from '../secrets';
import type { VerificationStore } from './store';

export interface MemoryStoreOptions {
  /** Most records kept at once; past it, expired records are swept and then the oldest dropped. Default 100 000. */
  maxRecords?: number;
  /** How often (at most) a write sweeps expired records, in ms. Default 60 000. */
  sweepIntervalMs?: number;
  /** Clock, epoch ms. Default Date.now. */
  now?: () => number;
}

/**
 * Records in this process's memory: for development, tests and single-process apps.
 * Each method runs synchronously to its end before it resolves, so every step is
 * atomic within the process. Memory stays bounded: expired records are swept on
 * writes (no timer keeps the process alive) and the record count is capped.
 */
export class MemoryStore implements VerificationStore {
  readonly #records = new Map<string, VerificationRecord>();
  readonly #maxRecords: number;
  readonly #sweepIntervalMs: number;
  readonly #now: () => number;
  #lastSweep = 0;

  constructor(options: MemoryStoreOptions = {}) {
    this.#maxRecords = options.maxRecords ?? 100_000;
    this.#sweepIntervalMs = options.sweepIntervalMs ?? 60_000;
    this.#now = options.now ?? Date.now;
    if (!Number.isInteger(this.#maxRecords) || this.#maxRecords < 1) {
      throw new TypeError('MemoryStore: maxRecords must be a positive integer');
    }
  }

  /** Records held now, expired ones not yet swept included. */
  get size(): number {
    return this.#records.size;
  }

  async create(record: VerificationRecord): Promise<void> {
    const now = this.#now();
    if (now - this.#lastSweep >= this.#sweepIntervalMs) this.#sweep(now);
    while (this.#records.size >= this.#maxRecords) {
      // Full: drop the oldest (Map keeps insertion order), in O(1) rather than a sweep of
      // every record on each insert. Records live about equally long, so the oldest is the
      // first to expire anyway; losing a live one only means asking the user to verify again.
      const oldest = this.#records.keys().next().value;
      if (oldest === undefined) break;
      this.#records.delete(oldest);
    }
    this.#records.set(record.id, { ...record });
  }

  async get(id: string): Promise<VerificationRecord | null> {
    return this.#live(id, this.#now());
  }

  async checkForGuard(
    id: string,
    criteria: GuardCriteria,
    consume: boolean,
  ): Promise<{ record: VerificationRecord | null; consumed: boolean }> {
    const record = this.#live(id, criteria.now);
    if (consume && guardVerdict(record, criteria) === 'ok') {
      this.#records.delete(id);
      return { record, consumed: true };
    }
    return { record, consumed: false };
  }

  async checkCode(id: string, check: CodeCheck): Promise<CodeCheckResult> {
    const record = this.#live(id, check.now);
    const pre = codeCheckPrecondition(record, check);
    if (pre !== 'compare' || record === null) return { outcome: pre === 'compare' ? 'not_found' : pre };
    if (constantTimeEqual(record.codeHash ?? '', check.candidateHash)) {
      const { codeHash: _dropped, ...rest } = record;
      const verified: VerificationRecord = {
        ...rest,
        status: 'verified',
        verifiedAt: check.now,
        expiresAt: check.now + check.recordTtlMs,
      };
      this.#records.set(id, verified);
      return { outcome: 'verified', record: verified };
    }
    const attempts = record.attempts + 1;
    this.#records.set(id, { ...record, attempts });
    if (attempts >= check.maxAttempts) return { outcome: 'exceed_max_try' };
    return { outcome: 'code_mismatch', remainingAttempts: check.maxAttempts - attempts };
  }

  async redeem(id: string, criteria: RedeemCriteria): Promise<VerificationRecord | null> {
    const record = this.#live(id, criteria.now);
    if (!isRedeemable(record, criteria)) return null;
    this.#records.delete(id);
    return record;
  }

  async ping(): Promise<void> {}

  counterStore(): RateLimitStore {
    return new RateLimitMemoryStore();
  }

  #live(id: string, now: number): VerificationRecord | null {
    const record = this.#records.get(id);
    if (record === undefined) return null;
    if (isExpired(record, now)) {
      this.#records.delete(id);
      return null;
    }
    return record;
  }

  #sweep(now: number): void {
    this.#lastSweep = now;
    for (const [id, record] of this.#records) {
      if (isExpired(record, now)) this.#records.delete(id);
    }
  }
}
