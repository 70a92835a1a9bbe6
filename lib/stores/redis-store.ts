import { createHash } from 'node:crypto';
import type { RedisClient } from '../redis/client';
import { rejectUnknownOptions, StepUpConfigError } from '../config-error';
import { boundedRedisCall, clientBoundsCommands } from '../redis/bounded-call';
import type { CodeCheck, CodeCheckResult, GuardCriteria, RedeemCriteria, VerificationRecord, VerifiedRecord } from '../records';
import { methodLetter, pairs, parseFields, timesField, toFields } from './redis-record-fields';
import { isBuiltInMethod, isMethodName, type VerificationMethod } from '../records';
import { CHECK_AND_CONSUME, CHECK_CODE, CREATE, PUT_CHALLENGE, READ, READ_CHALLENGE, REDEEM, REVOKE, USE_TOTP_STEP } from './redis-scripts';
import { StoreUnavailableError, type VerificationStore } from './store';

export interface RedisStoreOptions {
  /**
   * The app's own ioredis client (`new Redis(url)` or `new Cluster(nodes)`).
   * Recommended client options so that a Redis outage fails fast instead of queueing:
   * `{ enableOfflineQueue: false, maxRetriesPerRequest: 1, commandTimeout: 500, retryStrategy: (times) => Math.min(times * 50, 500) }`
   * (the capped reconnect delay brings the guard back within half a second of Redis returning).
   */
  client: RedisClient;
  /** Key prefix. Default `stepup:`. */
  prefix?: string;
  /**
   * Longest wait for one store call, in ms, whatever the client's own settings;
   * past it the call fails with StoreUnavailableError (the guard answers 503). Default 1000.
   * A standalone client whose `commandTimeout` is at most this already bounds every call, so
   * the store then sets no timer of its own.
   */
  timeoutMs?: number;
}

/** The Lua commands this store defines on the client, with a prefix to keep clear of the app's own. */
interface StepUpCommands {
  stepUpCreate(record: string, revocation: string, ...args: string[]): Promise<number>;
  stepUpRead(record: string, revocation: string): Promise<[string[], string | null]>;
  stepUpCheckAndConsume(record: string, revocation: string, ...args: string[]): Promise<[number, string[]] | null>;
  stepUpCheckCode(record: string, revocation: string, ...args: string[]): Promise<[string, (string | string[])?]>;
  stepUpRedeem(record: string, revocation: string, ...args: string[]): Promise<string[] | null>;
  stepUpRevoke(revocation: string, horizonMs: string): Promise<number>;
  stepUpPutChallenge(challenge: string, expiresAt: string, value: string): Promise<number>;
  stepUpReadChallenge(challenge: string, revocation: string, consume: string): Promise<string | null>;
  stepUpUseTotpStep(mark: string, step: string, expiresAt: string): Promise<number>;
}

const base64urlSha256 = (value: string) => createHash('sha256').update(value).digest('base64url');

/**
 * Characters of base64url SHA-256 kept in key names (6 bits each).
 * - The user tag, 16 (96 bits): a record is found only under the user whose id hashes to its tag
 *   (no user id is stored), so two users may share a tag only by a 96-bit collision: about 6·10⁻¹²
 *   for a billion users, and an unkeyed second preimage for a chosen victim costs 2⁹⁶ hashes.
 * - The record id's hash, 16 (96 bits): ids are 192 random bits, drawn by the server. Within one
 *   user's tag, 10 000 live records collide with probability 6·10⁻²²; and a caller holding the
 *   user's token who guesses ids needs about 2⁹⁶ / (live records) requests to hit one.
 */
const USER_TAG_CHARS = 16;
const RECORD_HASH_CHARS = 16;

/** An identifier as the record keeps it: its type letter and value (see redis-record-fields.ts). */
const identifierText = (identifier: { type: 'email' | 'phone'; value: string }) => `${methodLetter(identifier.type)}${identifier.value}`;

/** A guard's methods as the consume script takes them; a route passes the same list on every request, hence the cache. */
const METHOD_ARGUMENTS = new WeakMap<readonly VerificationMethod[], { readonly letters: string; readonly ownNames: string }>();

function methodArguments(methods: readonly VerificationMethod[]): { readonly letters: string; readonly ownNames: string } {
  let args = METHOD_ARGUMENTS.get(methods);
  if (args === undefined) {
    args = {
      letters: methods.filter(isBuiltInMethod).map(methodLetter).join(''),
      // Only well-formed names (no comma), so the list cannot be made to match another name.
      ownNames: `,${methods.filter((method) => isMethodName(method) && !isBuiltInMethod(method)).join(',')},`,
    };
    METHOD_ARGUMENTS.set(methods, args);
  }
  return args;
}

/**
 * Records in Redis through ioredis. Every key has a TTL; values hold no code or password (only an
 * HMAC of the code); every step is one Lua script over a record and its user's revocation mark,
 * which share a hash slot, so each is atomic and works on Redis Cluster.
 */
export class RedisStore implements VerificationStore {
  readonly #client: RedisClient;
  readonly #commands: StepUpCommands;
  readonly #prefix: string;
  readonly #timeoutMs: number;
  /** `timeoutMs`, or undefined when the client's own `commandTimeout` already bounds every call (no timer per call then). */
  readonly #ownTimeoutMs: number | undefined;

  constructor(options: RedisStoreOptions) {
    rejectUnknownOptions('RedisStore', options, ['client', 'prefix', 'timeoutMs']);
    const client = options?.client as RedisClient | undefined;
    if (client === undefined || typeof client.defineCommand !== 'function') {
      throw new StepUpConfigError('ERR_STEP_UP_MISSING_OPTION', 'RedisStore: pass your ioredis client as { client: new Redis(url) }');
    }
    this.#client = client;
    this.#prefix = options.prefix ?? 'stepup:';
    if (typeof this.#prefix !== 'string' || this.#prefix.length > 64 || /[{}]/.test(this.#prefix)) {
      throw new StepUpConfigError('ERR_STEP_UP_INVALID_OPTION', 'RedisStore: `prefix` is a string of at most 64 characters without braces');
    }
    this.#timeoutMs = options.timeoutMs ?? 1000;
    if (typeof this.#timeoutMs !== 'number' || !Number.isFinite(this.#timeoutMs) || this.#timeoutMs <= 0) {
      throw new StepUpConfigError('ERR_STEP_UP_INVALID_OPTION', 'RedisStore: `timeoutMs` must be a positive number of milliseconds');
    }
    this.#ownTimeoutMs = clientBoundsCommands(client, this.#timeoutMs) ? undefined : this.#timeoutMs;
    // defineCommand runs EVALSHA and falls back to EVAL on NOSCRIPT (after a restart or failover).
    client.defineCommand('stepUpCreate', { numberOfKeys: 2, lua: CREATE });
    client.defineCommand('stepUpRead', { numberOfKeys: 2, lua: READ });
    client.defineCommand('stepUpCheckAndConsume', { numberOfKeys: 2, lua: CHECK_AND_CONSUME });
    client.defineCommand('stepUpCheckCode', { numberOfKeys: 2, lua: CHECK_CODE });
    client.defineCommand('stepUpRedeem', { numberOfKeys: 2, lua: REDEEM });
    client.defineCommand('stepUpRevoke', { numberOfKeys: 1, lua: REVOKE });
    client.defineCommand('stepUpPutChallenge', { numberOfKeys: 1, lua: PUT_CHALLENGE });
    client.defineCommand('stepUpReadChallenge', { numberOfKeys: 2, lua: READ_CHALLENGE });
    client.defineCommand('stepUpUseTotpStep', { numberOfKeys: 1, lua: USE_TOTP_STEP });
    this.#commands = client as unknown as StepUpCommands;
  }

  /** The ioredis client the store writes through (the default rate-limit counters use it too). */
  get client(): RedisClient {
    return this.#client;
  }

  /** The key prefix. */
  get prefix(): string {
    return this.#prefix;
  }

  /**
   * The Redis keys of a record and of its user's revocation mark. Names hold hashes, never the
   * record id (a bearer credential: anyone who can list keys must not be able to use them) nor the
   * user id. The user's hash is the cluster hash tag, so both keys land in one slot. Lengths: see
   * USER_TAG_CHARS and RECORD_HASH_CHARS.
   */
  keysFor(userId: string, id: string): [record: string, revocation: string] {
    const user = `${this.#prefix}{${base64urlSha256(userId).slice(0, USER_TAG_CHARS)}}:`;
    return [`${user}r:${base64urlSha256(id).slice(0, RECORD_HASH_CHARS)}`, `${user}rv`];
  }

  async create(record: VerificationRecord): Promise<void> {
    // PEXPIREAT takes whole milliseconds; a fraction would fail after HSET and leave a key without a TTL.
    if (!Number.isSafeInteger(record.expiresAt)) throw new TypeError('RedisStore: expiresAt must be whole epoch milliseconds');
    const { head, tail } = timesField(record);
    await this.#call(this.#commands.stepUpCreate(...this.keysFor(record.userId, record.id), String(record.expiresAt), String(record.createdAt), head, tail, ...toFields(record)));
  }

  async get(userId: string, id: string): Promise<VerificationRecord | null> {
    const [flat, revokedAt] = await this.#call(this.#commands.stepUpRead(...this.keysFor(userId, id)));
    // The read script decides nothing: the revocation is compared here, with the rest (parseFields).
    return this.#parse(id, flat, userId, revokedAt);
  }

  async checkForGuard(id: string, criteria: GuardCriteria, consume: boolean): Promise<{ record: VerificationRecord | null; consumed: boolean }> {
    if (!consume) return { record: await this.get(criteria.userId, id), consumed: false };
    const methods = methodArguments(criteria.methods);
    const reply = await this.#call(
      this.#commands.stepUpCheckAndConsume(
        ...this.keysFor(criteria.userId, id),
        String(criteria.now),
        String(criteria.now - criteria.maxAgeMs),
        methods.letters,
        criteria.sessionRef ?? '',
        criteria.actionRef ?? '',
        methods.ownNames,
      ),
    );
    if (reply === null) return { record: null, consumed: false };
    return { record: this.#parse(id, reply[1], criteria.userId), consumed: reply[0] === 1 };
  }

  async checkCode(id: string, check: CodeCheck): Promise<CodeCheckResult> {
    const [outcome, extra] = await this.#call(
      this.#commands.stepUpCheckCode(
        ...this.keysFor(check.userId, id),
        String(check.now),
        identifierText(check.identifier),
        check.candidateHash,
        String(check.maxAttempts),
        String(check.recordTtlMs),
        check.sessionRef ?? '',
        check.purpose,
      ),
    );
    switch (outcome) {
      case 'verified': {
        const record = Array.isArray(extra) ? this.#parse(id, extra, check.userId) : null;
        if (record === null || record.status !== 'verified') throw new StoreUnavailableError('Unexpected reply from the verification store');
        return { outcome: 'verified', record };
      }
      case 'code_mismatch':
        return { outcome, remainingAttempts: Number(extra) };
      case 'not_found':
      case 'identifier_mismatch':
      case 'exceed_max_try':
        return { outcome };
      default:
        throw new StoreUnavailableError('Unexpected reply from the verification store');
    }
  }

  async redeem(id: string, criteria: RedeemCriteria): Promise<VerifiedRecord | null> {
    const reply = await this.#call(
      this.#commands.stepUpRedeem(
        ...this.keysFor(criteria.userId, id),
        String(criteria.now),
        identifierText(criteria.identifier),
        criteria.sessionRef ?? '',
      ),
    );
    const record = this.#parse(id, reply, criteria.userId);
    return record !== null && record.status === 'verified' ? record : null;
  }

  async revokeAll(userId: string, horizonMs: number): Promise<void> {
    const [, revocation] = this.keysFor(userId, '');
    await this.#call(this.#commands.stepUpRevoke(revocation, String(Math.max(1, Math.ceil(horizonMs)))));
  }

  /** The key of a challenge: beside the user's records, in the user's hash slot; a hash of the id, never the id. */
  #challengeKey(userId: string, id: string): string {
    const [record] = this.keysFor(userId, id);
    return record.replace(/:r:([^:]*)$/, ':c:$1');
  }

  async putChallenge(userId: string, id: string, value: string, expiresAt: number): Promise<void> {
    if (!Number.isSafeInteger(expiresAt)) throw new TypeError('RedisStore: expiresAt must be whole epoch milliseconds');
    await this.#call(this.#commands.stepUpPutChallenge(this.#challengeKey(userId, id), String(expiresAt), value));
  }

  async readChallenge(userId: string, id: string, consume: boolean): Promise<string | null> {
    const [, revocation] = this.keysFor(userId, id);
    return this.#call(this.#commands.stepUpReadChallenge(this.#challengeKey(userId, id), revocation, consume ? '1' : '0'));
  }

  async deleteChallenge(userId: string, id: string): Promise<void> {
    await this.#call(this.#client.del(this.#challengeKey(userId, id)));
  }

  async useTotpStep(userId: string, step: number, expiresAt: number): Promise<boolean> {
    if (!Number.isSafeInteger(step) || !Number.isSafeInteger(expiresAt)) throw new TypeError('RedisStore: step and expiresAt are whole numbers');
    const [, revocation] = this.keysFor(userId, '');
    const reply = await this.#call(this.#commands.stepUpUseTotpStep(revocation.replace(/rv$/, 'ts'), String(step), String(expiresAt)));
    return reply === 1;
  }

  async ping(): Promise<void> {
    await this.#call(this.#client.ping());
  }

  /** A reply parsed into a record of this user, or null (a malformed hash is no record). */
  #parse(id: string, flat: string[] | null, userId: string, revokedAt?: string | null): VerificationRecord | null {
    if (flat === null || flat.length === 0) return null;
    return parseFields(id, userId, pairs(flat), revokedAt);
  }

  #call<T>(operation: Promise<T>): Promise<T> {
    return boundedRedisCall(operation, this.#ownTimeoutMs);
  }
}
