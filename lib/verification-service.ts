import { actionRef, sessionRef, type Action } from './action';
import type { Principal } from './auth/authenticator';
import { isSharedPrincipal } from './auth/verified-tokens';
import { codeHash, newNumericCode } from './codes';
import { VerificationError } from './errors';
import { identifierRef, normalizeIdentifier, normalizeKnown } from './identifiers';
import { PASSKEY_CHALLENGE_TTL_MS } from './passkeys/passkey-service';
import { TOTP_ENROLLMENT_TTL_MS } from './totp/totp-service';
import type { VerifyPassword } from './password';
import { isRecordId, newRecordId } from './record-id';
import {
  guardVerdict,
  type GuardCriteria,
  type GuardVerdict,
  type Identifier,
  type IdentifierType,
  type PendingCodeRecord,
  type RecordPurpose,
  type Requester,
  type VerificationMethod,
  type VerifiedRecord,
} from './records';
import type { CodeMessage, Sender } from './senders/sender';
import type { VerificationStore } from './stores/store';
import { withTimeout } from './timeout';
import type { UserLookup } from './users';

export interface ServiceConfig {
  readonly store: VerificationStore;
  readonly users: UserLookup;
  /** The factors configured besides passwords and codes (`passkeys`, `totp` options). */
  readonly factors: { readonly passkey: boolean; readonly totp: boolean };
  /** True when passwords are checked by the app's own `verifyPassword` (the user's hash may then be elsewhere). */
  readonly ownPasswordCheck: boolean;
  /** The password check: the app's own, or the built-in PasswordChecker. */
  readonly passwords: VerifyPassword;
  readonly sender: Sender | undefined;
  /** Server secret for the HMAC of codes, sessions and actions. */
  readonly secret: Buffer;
  readonly recordTtlMs: number;
  readonly codeTtlMs: number;
  readonly maxCodeAttempts: number;
  readonly sendTimeoutMs: number;
  readonly now: () => number;
}

export interface IdentifierInput {
  readonly type: IdentifierType;
  readonly value: string;
}

/** What a guarded route asks, as the guard resolved it for one request. */
export interface GuardRule {
  readonly methods: readonly VerificationMethod[];
  readonly maxAgeMs: number;
  readonly consume: boolean;
  readonly action: Action | undefined;
}

/**
 * Every rule of verification: creating password records, sending and checking codes, checking or
 * consuming a record for the guard, redeeming a new identifier, revoking. HTTP concerns stay in the
 * router and the edge middlewares; atomic steps stay in the store.
 */
export class VerificationService {
  /**
   * The requester of each shared principal: jwtAuthenticator hands every request with the same
   * token one frozen principal, so its session's HMAC is computed once, not per request.
   */
  readonly #requesters = new WeakMap<Principal, Requester>();

  constructor(private readonly config: ServiceConfig) {}

  /** Who asks, as records see it: the user, and a keyed hash of the session when there is one. */
  requesterOf(principal: Principal): Requester {
    const shared = isSharedPrincipal(principal);
    let requester = shared ? this.#requesters.get(principal) : undefined;
    if (requester === undefined) {
      requester =
        principal.sessionId === undefined
          ? { userId: principal.userId }
          : { userId: principal.userId, sessionRef: sessionRef(this.config.secret, principal.sessionId) };
      if (shared) this.#requesters.set(principal, Object.freeze(requester));
    }
    return requester;
  }

  /** A verified password record, or 422 `verification.invalid_credentials`. */
  async verifyPassword(requester: Requester, password: string, action?: Action): Promise<VerifiedRecord> {
    const { users, passwords } = this.config;
    const user = await users.findById(requester.userId);
    if ((await passwords(user ?? null, password)) !== true) {
      throw new VerificationError('verification.invalid_credentials');
    }
    return this.createVerified(requester, 'password', action);
  }

  /**
   * Saves a new verified identity record of `method` for this requester (and action): for a check
   * that has just succeeded (a password, a TOTP code, or the app's own check).
   */
  createVerified(requester: Requester, method: VerificationMethod, action: Action | undefined): Promise<VerifiedRecord> {
    return this.saveVerified(requester, method, {
      id: newRecordId(),
      actionRef: action === undefined ? undefined : actionRef(this.config.secret, action),
    });
  }

  /**
   * Saves a verified identity record under an id chosen beforehand and an action already reduced
   * to its ref: a passkey's record keeps the id and the action of the challenge it answers (the
   * challenge is consumed first, so the id is used once).
   */
  async saveVerified(
    requester: Requester,
    method: VerificationMethod,
    binding: { readonly id: string; readonly actionRef: string | undefined },
  ): Promise<VerifiedRecord> {
    const { store, now, recordTtlMs } = this.config;
    const at = now();
    const record: VerifiedRecord = {
      id: binding.id,
      userId: requester.userId,
      ...(requester.sessionRef !== undefined ? { sessionRef: requester.sessionRef } : {}),
      ...(binding.actionRef !== undefined ? { actionRef: binding.actionRef } : {}),
      status: 'verified',
      method,
      purpose: 'identity',
      createdAt: at,
      verifiedAt: at,
      expiresAt: at + recordTtlMs,
    };
    await store.create(record);
    return record;
  }

  /**
   * The methods among `methods` this user can use now: a password set, an email or phone on file
   * (and a sender to reach it), a passkey registered, TOTP enrolled, an app's own method that the
   * user lookup lists in `methods`. Asked only when the guard refuses, to tell the client what to
   * offer: it costs a user lookup (and a passkey listing when the route takes passkeys).
   */
  async availableMethods(userId: string, methods: readonly VerificationMethod[]): Promise<VerificationMethod[]> {
    const { users, sender, factors, ownPasswordCheck } = this.config;
    const user = await users.findById(userId);
    if (user === null || user === undefined) return [];
    const present = (value: string | null | undefined) => typeof value === 'string' && value.length > 0;
    const available: VerificationMethod[] = [];
    for (const method of methods) {
      let usable: boolean;
      switch (method) {
        case 'password':
          // With the app's own check the hash may live elsewhere: only an explicit null means "no password".
          usable = present(user.passwordHash) || (ownPasswordCheck && user.passwordHash !== null);
          break;
        case 'email':
          usable = sender !== undefined && present(user.email);
          break;
        case 'phone':
          usable = sender !== undefined && present(user.phone);
          break;
        case 'passkey':
          if (factors.passkey && users.listPasskeys !== undefined) {
            const passkeys: unknown = await users.listPasskeys(userId);
            usable = Array.isArray(passkeys) && passkeys.length > 0;
          } else usable = false;
          break;
        case 'totp':
          usable = factors.totp && present(user.totpSecret);
          break;
        default:
          usable = Array.isArray(user.methods) && user.methods.includes(method);
      }
      if (usable) available.push(method);
    }
    return available;
  }

  /**
   * What a code to this identifier would prove now: `identity` when it is the user's current email
   * or phone as the app's lookup reports it, else only ownership of a `new_identifier`. Asked when a
   * code is sent (for the limits) and again when it is verified (what the record proves).
   */
  async purposeOf(userId: string, identifier: Identifier): Promise<RecordPurpose> {
    const user = await this.config.users.findById(userId);
    const known = normalizeKnown(identifier.type, user?.[identifier.type]);
    return known?.value === identifier.value ? 'identity' : 'new_identifier';
  }

  /**
   * Sends a one-time code to a normalised identifier (see normalizeIdentifier) and saves its
   * pending record (only the code's HMAC). The record is written only after the provider accepted
   * the message, so a failed delivery leaves nothing that could ever be verified.
   */
  async sendCode(
    requester: Requester,
    identifier: Identifier,
    options: { readonly locale?: string | undefined; readonly action?: Action | undefined } = {},
  ): Promise<PendingCodeRecord> {
    const { store, sender, secret, now, codeTtlMs } = this.config;
    if (sender === undefined) throw new VerificationError('verification_code.delivery_failed', { message: 'No sender is configured.' });
    const id = newRecordId();
    const code = newNumericCode();
    const createdAt = now();
    const expiresAt = createdAt + codeTtlMs;
    await this.#deliver(sender, {
      channel: identifier.type,
      to: identifier.value,
      code,
      expiresAt: new Date(expiresAt),
      ...(options.locale !== undefined ? { locale: options.locale } : {}),
      ...(options.action !== undefined ? { action: options.action } : {}),
    });
    const record: PendingCodeRecord = {
      id,
      userId: requester.userId,
      ...(requester.sessionRef !== undefined ? { sessionRef: requester.sessionRef } : {}),
      ...(options.action !== undefined ? { actionRef: actionRef(secret, options.action) } : {}),
      status: 'pending',
      method: identifier.type,
      identifierRef: identifierRef(secret, identifier),
      codeHash: codeHash(secret, id, code),
      attempts: 0,
      createdAt,
      expiresAt,
    };
    await store.create(record);
    return record;
  }

  /**
   * Checks a code; the verified record, or the contract's 404/422/429. What the record proves is
   * decided now: identity only if the identifier is still the user's (the user is looked up again).
   */
  async verifyCode(requester: Requester, recordId: string, identifier: Identifier, code: string): Promise<VerifiedRecord> {
    const { store, secret, now, maxCodeAttempts, recordTtlMs } = this.config;
    if (!isRecordId(recordId)) throw new VerificationError('verification_record.not_found');
    const purpose = await this.purposeOf(requester.userId, identifier);
    const result = await store.checkCode(recordId, {
      ...requester,
      identifier,
      identifierRef: identifierRef(secret, identifier),
      candidateHash: codeHash(secret, recordId, code),
      maxAttempts: maxCodeAttempts,
      now: now(),
      recordTtlMs,
      purpose,
    });
    switch (result.outcome) {
      case 'verified':
        return result.record;
      case 'not_found':
        throw new VerificationError('verification_record.not_found');
      case 'identifier_mismatch':
        throw new VerificationError('verification_code.identifier_mismatch');
      case 'code_mismatch':
        throw new VerificationError('verification_code.code_mismatch', { details: { remainingAttempts: result.remainingAttempts } });
      case 'exceed_max_try':
        throw new VerificationError('verification_code.exceed_max_try');
    }
  }

  /** The guard's single store call: the verdict, and the record when it is 'ok'. */
  async checkForGuard(requester: Requester, recordId: string, rule: GuardRule): Promise<{ verdict: GuardVerdict; record: VerifiedRecord | null }> {
    if (!isRecordId(recordId)) return { verdict: 'invalid', record: null };
    // Set field by field: no spread objects on the guard's path.
    const criteria: { -readonly [K in keyof GuardCriteria]: GuardCriteria[K] } = {
      userId: requester.userId,
      methods: rule.methods,
      maxAgeMs: rule.maxAgeMs,
      now: this.config.now(),
    };
    if (requester.sessionRef !== undefined) criteria.sessionRef = requester.sessionRef;
    if (rule.action !== undefined) criteria.actionRef = actionRef(this.config.secret, rule.action);
    const { record, consumed } = await this.config.store.checkForGuard(recordId, criteria, rule.consume);
    const verdict = guardVerdict(record, criteria);
    if (verdict !== 'ok' || record === null || record.status !== 'verified') return { verdict: verdict === 'ok' ? 'invalid' : verdict, record: null };
    // A single-use route passes only for the one call that consumed the record.
    if (rule.consume && !consumed) return { verdict: 'invalid', record: null };
    return { verdict, record };
  }

  /**
   * Redeems a verified new-identifier record once, for exactly this user, session and identifier.
   * Anything else is 403 `verification.new_identifier_unverified` (unknown, expired, used, another
   * user's, another identifier's: indistinguishable). It carries no `requirement`: a generic client
   * must not treat it as "verify your identity again".
   */
  async redeemNewIdentifier(requester: Requester, recordId: string, input: IdentifierInput): Promise<Identifier> {
    const identifier = normalizeIdentifier(input);
    const record = isRecordId(recordId) ? await this.config.store.redeem(recordId, { ...requester, identifierRef: identifierRef(this.config.secret, identifier), now: this.config.now() }) : null;
    if (record === null) {
      throw new VerificationError('verification.new_identifier_unverified', { details: { identifierType: identifier.type } });
    }
    return identifier;
  }

  /** Makes every record of the user made until now unusable (pending, verified and new-identifier records). */
  revokeAll(userId: string): Promise<void> {
    // The longest any record can live: a code verified at the end of its life, then a whole record
    // TTL; and at least a passkey challenge's or a pending TOTP enrollment's life, so one made
    // before this call never passes after it.
    const { codeTtlMs, recordTtlMs } = this.config;
    return this.config.store.revokeAll(userId, Math.max(codeTtlMs + recordTtlMs, PASSKEY_CHALLENGE_TTL_MS, TOTP_ENROLLMENT_TTL_MS));
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
