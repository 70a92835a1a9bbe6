/**
 * The verification record and the pure rules over it.
 *
 * Every rule that decides whether a record may be used lives here as a plain
 * function over a record and a clock, so it is tested without Express or a store.
 * The Redis store's Lua scripts mirror `guardVerdict` for the atomic single-use
 * consumption; the store contract suite pins the two to the same behaviour.
 */

/** How a record was (or will be) verified. */
export type VerificationMethod = 'password' | 'email' | 'phone';

export const VERIFICATION_METHODS: readonly VerificationMethod[] = ['password', 'email', 'phone'];

/** What a verified record proves. */
export type RecordPurpose =
  /** The caller is the account holder: satisfies `requireVerification()`. */
  | 'identity'
  /** The caller controls an identifier the account does not have yet: only redeemable once. */
  | 'new_identifier';

export type IdentifierType = 'email' | 'phone';

export interface Identifier {
  readonly type: IdentifierType;
  /** Normalised: lower-case email, E.164 phone number. */
  readonly value: string;
}

export type RecordStatus = 'pending' | 'verified';

export interface VerificationRecord {
  readonly id: string;
  readonly userId: string;
  readonly method: VerificationMethod;
  readonly purpose: RecordPurpose;
  readonly status: RecordStatus;
  readonly identifier?: Identifier;
  /** HMAC of the one-time code (hex); only on pending code records, never the code itself. */
  readonly codeHash?: string;
  /** Wrong codes tried so far. */
  readonly attempts: number;
  /** Epoch milliseconds. */
  readonly createdAt: number;
  readonly expiresAt: number;
  readonly verifiedAt?: number;
}

/** What a guarded route asks of a record. */
export interface GuardCriteria {
  readonly userId: string;
  readonly methods: readonly VerificationMethod[];
  /** Milliseconds: the record must have been verified at most this long ago. */
  readonly maxAgeMs: number;
  readonly now: number;
}

export type GuardVerdict = 'ok' | 'invalid' | 'insufficient';

/**
 * Every rule below is written as the condition to *pass* (`expiresAt > now`), never as the
 * condition to refuse: a NaN or missing number then fails closed instead of passing.
 */
export function isLive(record: VerificationRecord, now: number): boolean {
  return record.expiresAt > now;
}

export function isExpired(record: VerificationRecord, now: number): boolean {
  return !isLive(record, now);
}

/**
 * The guard's decision for one record.
 * `invalid`: unknown, expired, unverified or another user's (indistinguishable to the client).
 * `insufficient`: a valid record of this user that does not meet this route's bar.
 */
export function guardVerdict(record: VerificationRecord | null, criteria: GuardCriteria): GuardVerdict {
  const valid =
    record !== null &&
    record.userId === criteria.userId &&
    record.status === 'verified' &&
    record.verifiedAt !== undefined &&
    isLive(record, criteria.now);
  if (!valid) return 'invalid';
  const sufficient =
    record.purpose === 'identity' &&
    criteria.methods.includes(record.method) &&
    (record.verifiedAt as number) >= criteria.now - criteria.maxAgeMs;
  return sufficient ? 'ok' : 'insufficient';
}

/** What redeeming a new-identifier record asks of it. */
export interface RedeemCriteria {
  readonly userId: string;
  readonly identifier: Identifier;
  readonly now: number;
}

export function isRedeemable(record: VerificationRecord | null, criteria: RedeemCriteria): boolean {
  return (
    record !== null &&
    record.userId === criteria.userId &&
    record.status === 'verified' &&
    record.purpose === 'new_identifier' &&
    isLive(record, criteria.now) &&
    record.identifier !== undefined &&
    record.identifier.type === criteria.identifier.type &&
    record.identifier.value === criteria.identifier.value
  );
}

/** What checking a one-time code asks of a record. */
export interface CodeCheck {
  readonly userId: string;
  readonly identifier: Identifier;
  /** HMAC of the submitted code, computed like the stored one. */
  readonly candidateHash: string;
  readonly maxAttempts: number;
  readonly now: number;
  /** Lifetime of the record once verified, from `now`. */
  readonly recordTtlMs: number;
}

export type CodeCheckResult =
  | { readonly outcome: 'verified'; readonly record: VerificationRecord }
  | { readonly outcome: 'not_found' }
  | { readonly outcome: 'identifier_mismatch' }
  | { readonly outcome: 'code_mismatch'; readonly remainingAttempts: number }
  | { readonly outcome: 'exceed_max_try' };

/** The part of checking a code that does not depend on comparing the code. */
export function codeCheckPrecondition(
  record: VerificationRecord | null,
  check: CodeCheck,
): 'not_found' | 'identifier_mismatch' | 'exceed_max_try' | 'compare' {
  const found =
    record !== null &&
    record.userId === check.userId &&
    record.status === 'pending' &&
    record.method !== 'password' &&
    record.codeHash !== undefined &&
    isLive(record, check.now);
  if (!found) return 'not_found';
  const sameIdentifier = record.identifier?.type === check.identifier.type && record.identifier.value === check.identifier.value;
  if (!sameIdentifier) return 'identifier_mismatch';
  return record.attempts < check.maxAttempts ? 'compare' : 'exceed_max_try';
}
