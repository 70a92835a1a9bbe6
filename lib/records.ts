/**
 * The verification record and the pure rules over it.
 *
 * A record is either a pending code record (a code was sent, not yet verified) or a verified
 * record; the two are a discriminated union on `status`, so a verified record always has its
 * `verifiedAt` and a pending one always has its code HMAC. Stores parse what they read back into
 * this union (`parseRecord`) instead of casting it.
 *
 * Every rule that decides whether a record may be used lives here as a plain function over a
 * record and a clock, so it is tested without Express or a store. The Redis store's Lua scripts
 * mirror `guardVerdict`, `isRedeemable` and `codeCheckPrecondition` for its atomic steps; the
 * store contract suite pins the two to the same behaviour.
 */

/** The built-in methods. */
export type BuiltInMethod = 'password' | 'email' | 'phone' | 'passkey' | 'totp';

/**
 * How a record was (or will be) verified: a built-in method, or a name the app defines for a check
 * it does itself (`stepUp.createVerification`). The `string & {}` keeps the built-in names in
 * editors' completion while any string type-checks; at run time names are checked by isMethodName.
 */
export type VerificationMethod = BuiltInMethod | (string & {});

export const BUILT_IN_METHODS: readonly BuiltInMethod[] = ['password', 'email', 'phone', 'passkey', 'totp'];
/** The methods a guard accepts when it names none: every built-in one (an app's own method only where a route lists it). */
export const VERIFICATION_METHODS: readonly VerificationMethod[] = BUILT_IN_METHODS;

/** A method name: 1 to 32 lower-case letters, digits, `_` or `-`, starting with a letter. */
const METHOD_NAME = /^[a-z][a-z0-9_-]{0,31}$/;
export const isMethodName = (name: unknown): name is VerificationMethod => typeof name === 'string' && METHOD_NAME.test(name);
export const isBuiltInMethod = (name: string): name is BuiltInMethod => (BUILT_IN_METHODS as readonly string[]).includes(name);

/** A list of methods as an option gives it (a guard's `methods`, `enrollWith`), each once; undefined unless it is a non-empty list of method names. */
export function methodList(value: unknown): VerificationMethod[] | undefined {
  if (!Array.isArray(value) || value.length === 0 || !value.every(isMethodName)) return undefined;
  return [...new Set(value)];
}

/** What a verified record proves. */
export type RecordPurpose =
  /** The caller is the account holder: satisfies `requireVerification()`. */
  | 'identity'
  /** The caller controls an identifier the account does not have (yet): only redeemable once. */
  | 'new_identifier';

export type IdentifierType = 'email' | 'phone';

export interface Identifier {
  readonly type: IdentifierType;
  /** Normalised: lower-case email, E.164 phone number. */
  readonly value: string;
}

interface RecordBase {
  readonly id: string;
  readonly userId: string;
  /**
   * Keyed hash of the session the record was made in; a bound record is usable only in that
   * session. Absent when the authenticator reports no session (the record is then not bound).
   */
  readonly sessionRef?: string;
  /** Keyed hash of the canonical action the record approves (PSD2 dynamic linking); absent when unbound. */
  readonly actionRef?: string;
  /** Epoch milliseconds. */
  readonly createdAt: number;
  readonly expiresAt: number;
}

/** A one-time code was sent and is waiting to be checked. */
export interface PendingCodeRecord extends RecordBase {
  readonly status: 'pending';
  /** The identifier's type: where the code went. */
  readonly method: 'email' | 'phone';
  /**
   * Keyed hash of the identifier the code went to (see identifierRef), never the email or phone
   * number itself: the verify request names the identifier again, and only its hash is compared.
   */
  readonly identifierRef: string;
  /** HMAC of the one-time code (see codeHash), never the code itself. */
  readonly codeHash: string;
  /** Wrong codes tried so far. */
  readonly attempts: number;
}

/** A verification that happened: a password, a code, a passkey, a TOTP code, or a check of the app's own. */
export interface VerifiedRecord extends RecordBase {
  readonly status: 'verified';
  readonly method: VerificationMethod;
  readonly purpose: RecordPurpose;
  /** The email or phone a code proving identity was sent to (`req.verification.identifier`). */
  readonly identifier?: Identifier;
  /** Keyed hash of the new identifier a `new_identifier` record proves (redeemed by naming the identifier again). */
  readonly identifierRef?: string;
  /** Epoch milliseconds. */
  readonly verifiedAt: number;
}

export type VerificationRecord = PendingCodeRecord | VerifiedRecord;
export type RecordStatus = VerificationRecord['status'];

/** Who is asking: the user, and the session of the request (absent when the authenticator reports none). */
export interface Requester {
  readonly userId: string;
  readonly sessionRef?: string;
}

/**
 * Whether a record may be used by this requester at all: the same user, and, when the record
 * is bound to a session, the same session. Anything else is indistinguishable from an unknown record.
 */
export function belongsTo(record: VerificationRecord, requester: Requester): boolean {
  return record.userId === requester.userId && (record.sessionRef === undefined || record.sessionRef === requester.sessionRef);
}

/** What a guarded route asks of a record. */
export interface GuardCriteria extends Requester {
  readonly methods: readonly VerificationMethod[];
  /** Milliseconds: the record must have been verified at most this long ago. */
  readonly maxAgeMs: number;
  /** Keyed hash of the action this request performs; a record must be bound to exactly it (or both to none). */
  readonly actionRef?: string;
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

/**
 * The guard's decision for one record.
 * `invalid`: unknown, expired, unverified or another user's (indistinguishable to the client).
 * `insufficient`: a valid record of this user that does not meet this route's bar.
 */
export function guardVerdict(record: VerificationRecord | null, criteria: GuardCriteria): GuardVerdict {
  if (record === null || record.status !== 'verified' || !belongsTo(record, criteria) || !isLive(record, criteria.now)) {
    return 'invalid';
  }
  const sufficient =
    record.purpose === 'identity' &&
    criteria.methods.includes(record.method) &&
    record.verifiedAt >= criteria.now - criteria.maxAgeMs &&
    record.actionRef === criteria.actionRef;
  return sufficient ? 'ok' : 'insufficient';
}

/** What redeeming a new-identifier record asks of it. */
export interface RedeemCriteria extends Requester {
  /** Keyed hash of the identifier the request binds (identifierRef). */
  readonly identifierRef: string;
  readonly now: number;
}

export function isRedeemable(record: VerificationRecord | null, criteria: RedeemCriteria): record is VerifiedRecord {
  return (
    record !== null &&
    record.status === 'verified' &&
    belongsTo(record, criteria) &&
    record.purpose === 'new_identifier' &&
    isLive(record, criteria.now) &&
    record.identifierRef !== undefined &&
    record.identifierRef === criteria.identifierRef
  );
}

/** What checking a one-time code asks of a record. */
export interface CodeCheck extends Requester {
  /**
   * The identifier the request names (normalised): an identity record keeps it. A store cannot
   * check it against `identifierRef` (it has no secret): the caller computes both from one identifier.
   */
  readonly identifier: Identifier;
  /** Its keyed hash (identifierRef), compared with the pending record's. */
  readonly identifierRef: string;
  /** HMAC of the submitted code, computed like the stored one. */
  readonly candidateHash: string;
  readonly maxAttempts: number;
  readonly now: number;
  /** Lifetime of the record once verified, from `now`. */
  readonly recordTtlMs: number;
  /**
   * What the record proves once verified, decided now (not when the code was sent): `identity`
   * only if the identifier is still the user's, as the app's user lookup reports it at verify time.
   */
  readonly purpose: RecordPurpose;
}

export type CodeCheckResult =
  | { readonly outcome: 'verified'; readonly record: VerifiedRecord }
  | { readonly outcome: 'not_found' }
  | { readonly outcome: 'identifier_mismatch' }
  | { readonly outcome: 'code_mismatch'; readonly remainingAttempts: number }
  | { readonly outcome: 'exceed_max_try' };

/** The part of checking a code that does not depend on comparing the code. */
export function codeCheckPrecondition(
  record: VerificationRecord | null,
  check: CodeCheck,
): 'not_found' | 'identifier_mismatch' | 'exceed_max_try' | 'compare' {
  if (record === null || record.status !== 'pending' || !belongsTo(record, check) || !isLive(record, check.now)) {
    return 'not_found';
  }
  // The ref covers the type and the value (identifierRef); the method is checked too, as a store reads it back.
  if (record.identifierRef !== check.identifierRef || record.method !== check.identifier.type) return 'identifier_mismatch';
  return record.attempts < check.maxAttempts ? 'compare' : 'exceed_max_try';
}

/**
 * The verified record a pending one becomes when its code matches. A new-identifier record is
 * redeemed (isRedeemable), never passed by a guard, so it keeps no action ref: only its session's.
 */
export function verifiedFromCode(record: PendingCodeRecord, check: CodeCheck): VerifiedRecord {
  return {
    id: record.id,
    userId: record.userId,
    ...(record.sessionRef !== undefined ? { sessionRef: record.sessionRef } : {}),
    ...(record.actionRef !== undefined && check.purpose === 'identity' ? { actionRef: record.actionRef } : {}),
    status: 'verified',
    method: record.method,
    purpose: check.purpose,
    // Identity: the identifier as named (it matched the hash), for req.verification; a new identifier: its hash only.
    ...(check.purpose === 'identity' ? { identifier: check.identifier } : { identifierRef: record.identifierRef }),
    createdAt: record.createdAt,
    verifiedAt: check.now,
    expiresAt: check.now + check.recordTtlMs,
  };
}
