import {
  codeCheckPrecondition,
  guardVerdict,
  isLive,
  isRedeemable,
  verifiedFromCode,
  type CodeCheck,
  type CodeCheckResult,
  type GuardCriteria,
  type RedeemCriteria,
  type VerificationRecord,
  type VerifiedRecord,
} from '../records';
import { codeHashesMatch } from '../codes';
import { rejectUnknownOptions, StepUpConfigError } from '../config-error';
import type { VerificationStore } from './store';

export interface MemoryStoreOptions {
  /** Most records kept at once; past it, expired records are swept and then the oldest dropped. Default 100 000. */
  maxRecords?: number;
  /**
   * How often (at most) a pass over the records for expired ones begins, in ms. Default 60 000. A pass
   * never blocks: each write sweeps the next slice of records (see SWEEP_SLICE) until it is through.
   */
  sweepIntervalMs?: number;
  /** Clock, epoch ms. Default Date.now. */
  now?: () => number;
}

/**
 * Records (and then revocations) a write looks at while a sweep pass runs: the longest a write
 * takes stays at a fraction of a millisecond whatever the size, where one sweep of 100 000 records
 * in a go blocked the event loop for milliseconds (bench/memory.ts). Larger than one, so a pass
 * moves faster than records are added and ends in size / SWEEP_SLICE writes.
 */
const SWEEP_SLICE = 256;

/** A record and the store's sequence number at its creation (what revocation compares). */
interface Entry {
  readonly record: VerificationRecord;
  readonly seq: number;
}

/** A value kept by putChallenge, with the store's sequence number at its creation (revocation compares it). */
interface ChallengeEntry {
  readonly userId: string;
  readonly value: string;
  readonly expiresAt: number;
  readonly seq: number;
}

/** The last TOTP time step a user used, and until when the mark is needed. */
interface StepMark {
  readonly step: number;
  readonly expiresAt: number;
}

/** A user's revocation: records with a sequence number up to `seq` are dead, until `until` (epoch ms). */
interface Revocation {
  readonly seq: number;
  readonly until: number;
}

/** The challenges map's key: the user id and the challenge id, which no user id can run into (ids hold no NUL). */
const challengeKey = (userId: string, id: string) => `${id}\u0000${userId}`;

/**
 * Deletes expired entries from the front of a map kept in insertion order. Challenges and TOTP marks
 * of a store all live about equally long, so insertion order is about expiry order: each write
 * drops what expired before it, in time proportional to what it drops, and the map never holds
 * much more than what is live (a hand-written loop: it is this map's whole sweep).
 */
function dropExpiredFront(map: Map<string, { readonly expiresAt: number }>, now: number): void {
  for (const [key, entry] of map) {
    if (entry.expiresAt > now) return;
    map.delete(key);
  }
}

/**
 * Records in this process's memory: for development, tests and single-process apps.
 * Each method runs synchronously to its end before it resolves, so every step is atomic within
 * the process. Memory stays bounded: expired records are swept on writes (no timer keeps the
 * process alive) and the record count is capped.
 */
export class MemoryStore implements VerificationStore {
  readonly #entries = new Map<string, Entry>();
  readonly #revocations = new Map<string, Revocation>();
  /** Keyed by user id and challenge id (see challengeKey). */
  readonly #challenges = new Map<string, ChallengeEntry>();
  readonly #totpSteps = new Map<string, StepMark>();
  readonly #maxRecords: number;
  readonly #sweepIntervalMs: number;
  readonly #now: () => number;
  #lastSweep = 0;
  /** Where the running sweep pass is (Map iterators see deletions and additions), or undefined between passes. */
  #sweepCursor: Iterator<[string, Entry]> | undefined;
  #revocationCursor: Iterator<[string, Revocation]> | undefined;
  /** A counter rather than the clock: a record made in the same millisecond as a revocation is still ordered. */
  #seq = 0;

  constructor(options: MemoryStoreOptions = {}) {
    rejectUnknownOptions('MemoryStore', options, ['maxRecords', 'sweepIntervalMs', 'now']);
    this.#maxRecords = options.maxRecords ?? 100_000;
    this.#sweepIntervalMs = options.sweepIntervalMs ?? 60_000;
    this.#now = options.now ?? Date.now;
    if (!Number.isInteger(this.#maxRecords) || this.#maxRecords < 1) {
      throw new StepUpConfigError('ERR_STEP_UP_INVALID_OPTION', 'MemoryStore: `maxRecords` must be a positive integer');
    }
  }

  /** Records held now, expired ones not yet swept included. */
  get size(): number {
    return this.#entries.size;
  }

  async create(record: VerificationRecord): Promise<void> {
    const now = this.#now();
    if (this.#sweepCursor === undefined && this.#revocationCursor === undefined && now - this.#lastSweep >= this.#sweepIntervalMs) {
      this.#lastSweep = now;
      this.#sweepCursor = this.#entries.entries();
    }
    this.#sweepSlice(now);
    while (this.#entries.size >= this.#maxRecords) {
      // Full: drop the oldest (Map keeps insertion order), in O(1) rather than a sweep of
      // every record on each insert. Records live about equally long, so the oldest is the
      // first to expire anyway; losing a live one only means asking the user to verify again.
      const oldest = this.#entries.keys().next().value;
      if (oldest === undefined) break;
      this.#entries.delete(oldest);
    }
    this.#seq += 1;
    this.#entries.set(record.id, { record: { ...record }, seq: this.#seq });
  }

  async get(userId: string, id: string): Promise<VerificationRecord | null> {
    const record = this.#live(id, this.#now());
    return record !== null && record.userId === userId ? record : null;
  }

  async checkForGuard(id: string, criteria: GuardCriteria, consume: boolean): Promise<{ record: VerificationRecord | null; consumed: boolean }> {
    const record = this.#own(id, criteria.userId, criteria.now);
    if (consume && guardVerdict(record, criteria) === 'ok') {
      this.#entries.delete(id);
      return { record, consumed: true };
    }
    return { record, consumed: false };
  }

  async checkCode(id: string, check: CodeCheck): Promise<CodeCheckResult> {
    const entry = this.#entries.get(id);
    const record = this.#own(id, check.userId, check.now);
    const pre = codeCheckPrecondition(record, check);
    if (pre !== 'compare' || record === null || record.status !== 'pending' || entry === undefined) {
      return { outcome: pre === 'compare' ? 'not_found' : pre };
    }
    if (codeHashesMatch(record.codeHash, check.candidateHash)) {
      const verified = verifiedFromCode(record, check);
      this.#entries.set(id, { record: verified, seq: entry.seq });
      return { outcome: 'verified', record: verified };
    }
    const attempts = record.attempts + 1;
    this.#entries.set(id, { record: { ...record, attempts }, seq: entry.seq });
    if (attempts >= check.maxAttempts) return { outcome: 'exceed_max_try' };
    return { outcome: 'code_mismatch', remainingAttempts: check.maxAttempts - attempts };
  }

  async redeem(id: string, criteria: RedeemCriteria): Promise<VerifiedRecord | null> {
    const record = this.#own(id, criteria.userId, criteria.now);
    if (!isRedeemable(record, criteria)) return null;
    this.#entries.delete(id);
    return record;
  }

  async revokeAll(userId: string, horizonMs: number): Promise<void> {
    const now = this.#now();
    const previous = this.#revocations.get(userId);
    this.#revocations.set(userId, { seq: this.#seq, until: Math.max(now + horizonMs, previous?.until ?? 0) });
  }

  async putChallenge(userId: string, id: string, value: string, expiresAt: number): Promise<void> {
    const now = this.#now();
    dropExpiredFront(this.#challenges, now);
    const key = challengeKey(userId, id);
    // Re-inserted at the end, so the map stays in about the order of expiry (see dropExpiredFront).
    this.#challenges.delete(key);
    while (this.#challenges.size >= this.#maxRecords) {
      const oldest = this.#challenges.keys().next().value;
      if (oldest === undefined) break;
      this.#challenges.delete(oldest);
    }
    this.#seq += 1;
    this.#challenges.set(key, { userId, value, expiresAt, seq: this.#seq });
  }

  async readChallenge(userId: string, id: string, consume: boolean): Promise<string | null> {
    const key = challengeKey(userId, id);
    const entry = this.#challenges.get(key);
    if (entry === undefined) return null;
    const revocation = this.#revocations.get(userId);
    if (!(entry.expiresAt > this.#now()) || (revocation !== undefined && entry.seq <= revocation.seq)) {
      this.#challenges.delete(key);
      return null;
    }
    if (consume) this.#challenges.delete(key);
    return entry.value;
  }

  async deleteChallenge(userId: string, id: string): Promise<void> {
    this.#challenges.delete(challengeKey(userId, id));
  }

  async useTotpStep(userId: string, step: number, expiresAt: number): Promise<boolean> {
    const now = this.#now();
    dropExpiredFront(this.#totpSteps, now);
    const mark = this.#totpSteps.get(userId);
    if (mark !== undefined && mark.expiresAt > now && !(step > mark.step)) return false;
    this.#totpSteps.delete(userId);
    this.#totpSteps.set(userId, { step, expiresAt });
    return true;
  }

  async ping(): Promise<void> {}

  /** The live, unrevoked record when it belongs to this user; null otherwise. */
  #own(id: string, userId: string, now: number): VerificationRecord | null {
    const record = this.#live(id, now);
    return record !== null && record.userId === userId ? record : null;
  }

  #live(id: string, now: number): VerificationRecord | null {
    const entry = this.#entries.get(id);
    if (entry === undefined) return null;
    if (!isLive(entry.record, now) || this.#revoked(entry)) {
      this.#entries.delete(id);
      return null;
    }
    return entry.record;
  }

  /** Made before its user's last revocation (kept until every record it could cover has expired; see #sweep). */
  #revoked(entry: Entry): boolean {
    const revocation = this.#revocations.get(entry.record.userId);
    return revocation !== undefined && entry.seq <= revocation.seq;
  }

  /** The next SWEEP_SLICE steps of the running pass: expired records first, then lapsed revocations. */
  #sweepSlice(now: number): void {
    let budget = SWEEP_SLICE;
    while (this.#sweepCursor !== undefined && budget > 0) {
      const next = this.#sweepCursor.next();
      if (next.done === true) {
        this.#sweepCursor = undefined;
        this.#revocationCursor = this.#revocations.entries();
        break;
      }
      budget -= 1;
      const [id, entry] = next.value;
      if (!isLive(entry.record, now)) this.#entries.delete(id);
    }
    while (this.#revocationCursor !== undefined && budget > 0) {
      const next = this.#revocationCursor.next();
      if (next.done === true) {
        this.#revocationCursor = undefined;
        break;
      }
      budget -= 1;
      const [userId, revocation] = next.value;
      if (!(revocation.until > now)) this.#revocations.delete(userId);
    }
  }
}
