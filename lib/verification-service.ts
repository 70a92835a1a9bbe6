import { VerificationError } from './errors';
import { normalizeIdentifier, normalizeKnown } from './identifiers';
import type { PasswordChecker } from './password';
import {
  guardVerdict,
  type GuardVerdict,
  type Identifier,
  type IdentifierType,
  type RecordPurpose,
  type VerificationMethod,
  type VerificationRecord,
} from './records';
import { codeHash, newNumericCode, newRecordId, RECORD_ID_PATTERN } from './secrets';
import type { CodeMessage, Sender } from './senders/sender';
import type { VerificationStore } from './stores/store';
import { withTimeout } from './timeout';
import type { UserLookup } from './users';

export interface ServiceConfig {
  readonly store: VerificationStore;
  readonly users: UserLookup;
  readonly passwords: PasswordChecker;
  readonly sender: Sender | undefined;
  /** Server secret for the HMAC of codes. */
  readonly secret: Buffer;
  readonly recordTtlMs: number;
  readonly codeTtlMs: number;
  readonly codeLength: number;
  readonly maxCodeAttempts: number;
  readonly sendTimeoutMs: number;
  readonly now: () => number;
}

export interface IdentifierInput {
  readonly type: IdentifierType;
  readonly value: string;
}

/**
 * Every rule of verification: creating password records, sending and checking
 * codes, checking or consuming a record for the guard, redeeming a new identifier.
 * HTTP concerns stay in the router and guard; atomic steps stay in the store.
 */
export class VerificationService {
  constructor(private readonly config: ServiceConfig) {}

  /** A verified password record, or 422 `verification.invalid_credentials`. */
  async verifyPassword(userId: string, password: string): Promise<VerificationRecord> {
    const { users, passwords, store, now, recordTtlMs } = this.config;
    const user = await users.findById(userId);
    if (!(await passwords.matches(password, user?.passwordHash))) {
      throw new VerificationError('verification.invalid_credentials');
    }
    const at = now();
    const record: VerificationRecord = {
      id: newRecordId(),
      userId,
      method: 'password',
      purpose: 'identity',
      status: 'verified',
      attempts: 0,
      createdAt: at,
      verifiedAt: at,
      expiresAt: at + recordTtlMs,
    };
    await store.create(record);
    return record;
  }

  /**
   * What a code to this identifier would prove: `identity` when it is the user's current
   * email or phone as the app's lookup reports it, else only ownership of a `new_identifier`.
   */
  async purposeOf(userId: string, identifier: Identifier): Promise<RecordPurpose> {
    const user = await this.config.users.findById(userId);
    const known = normalizeKnown(identifier.type, user?.[identifier.type]);
    return known?.value === identifier.value ? 'identity' : 'new_identifier';
  }

  /**
   * Sends a one-time code to a normalised identifier (see normalizeIdentifier) and
   * saves its pending record (only the code's HMAC).
   * The record is written only after the provider accepted the message, so a
   * failed delivery leaves nothing that could ever be verified.
   */
  async sendCode(userId: string, identifier: Identifier, purpose: RecordPurpose, locale?: string): Promise<VerificationRecord> {
    const { store, sender, secret, now, codeTtlMs, codeLength } = this.config;
    if (sender === undefined) throw new VerificationError('verification_code.delivery_failed', 'No sender is configured.');
    const id = newRecordId();
    const code = newNumericCode(codeLength);
    const createdAt = now();
    const expiresAt = createdAt + codeTtlMs;
    await this.#deliver(sender, {
      channel: identifier.type,
      to: identifier.value,
      code,
      expiresAt: new Date(expiresAt),
      ...(locale !== undefined ? { locale } : {}),
    });
    const record: VerificationRecord = {
      id,
      userId,
      method: identifier.type,
      purpose,
      status: 'pending',
      identifier,
      codeHash: codeHash(secret, id, code),
      attempts: 0,
      createdAt,
      expiresAt,
    };
    await store.create(record);
    return record;
  }

  /** Checks a code; the verified record, or the contract's 404/422/429. */
  async verifyCode(userId: string, recordId: string, identifier: Identifier, code: string): Promise<VerificationRecord> {
    const { store, secret, now, maxCodeAttempts, recordTtlMs } = this.config;
    if (!RECORD_ID_PATTERN.test(recordId)) throw new VerificationError('verification_record.not_found');
    const result = await store.checkCode(recordId, {
      userId,
      identifier,
      candidateHash: codeHash(secret, recordId, code),
      maxAttempts: maxCodeAttempts,
      now: now(),
      recordTtlMs,
    });
    switch (result.outcome) {
      case 'verified':
        return result.record;
      case 'not_found':
        throw new VerificationError('verification_record.not_found');
      case 'identifier_mismatch':
        throw new VerificationError('verification_code.identifier_mismatch');
      case 'code_mismatch':
        throw new VerificationError('verification_code.code_mismatch', undefined, {
          remainingAttempts: result.remainingAttempts,
        });
      case 'exceed_max_try':
        throw new VerificationError('verification_code.exceed_max_try');
    }
  }

  /** The guard's single store call: the verdict, and the record when it is 'ok'. */
  async checkForGuard(
    userId: string,
    recordId: string,
    rule: { methods: readonly VerificationMethod[]; maxAgeMs: number; consume: boolean },
  ): Promise<{ verdict: GuardVerdict; record: VerificationRecord | null }> {
    if (!RECORD_ID_PATTERN.test(recordId)) return { verdict: 'invalid', record: null };
    const criteria = { userId, methods: rule.methods, maxAgeMs: rule.maxAgeMs, now: this.config.now() };
    const { record, consumed } = await this.config.store.checkForGuard(recordId, criteria, rule.consume);
    const verdict = guardVerdict(record, criteria);
    // A single-use route passes only for the one call that consumed the record.
    if (verdict === 'ok' && rule.consume && !consumed) return { verdict: 'invalid', record: null };
    return { verdict, record: verdict === 'ok' ? record : null };
  }

  /**
   * Redeems a verified new-identifier record once, for exactly this user and identifier.
   * Anything else is 403 `verification.new_identifier_unverified` (unknown, expired, used,
   * another user's, another identifier's: indistinguishable). It carries no `requirement`: a
   * generic client must not treat it as "verify your identity again".
   */
  async redeemNewIdentifier(userId: string, recordId: string, input: IdentifierInput): Promise<Identifier> {
    const identifier = normalizeIdentifier(input);
    const record = RECORD_ID_PATTERN.test(recordId)
      ? await this.config.store.redeem(recordId, { userId, identifier, now: this.config.now() })
      : null;
    if (record === null) {
      throw new VerificationError('verification.new_identifier_unverified', undefined, { identifierType: identifier.type });
    }
    return identifier;
  }

  /** Bounds the provider call; any failure becomes 502 without the provider's message. */
  async #deliver(sender: Sender, message: CodeMessage): Promise<void> {
    try {
      await withTimeout(
        Promise.resolve().then(() => sender.send(message)),
        this.config.sendTimeoutMs,
        () => new Error('send timed out'),
      );
    } catch {
      throw new VerificationError('verification_code.delivery_failed');
    }
  }
}
