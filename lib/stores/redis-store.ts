import { createHash } from 'node:crypto';
import type { RedisClient } from '../redis/client';
import { rejectUnknownOptions, StepUpConfigError } from '../config-error';
import { boundedRedisCall, clientBoundsCommands } from '../redis/bounded-call';
import type { CodeCheck, CodeCheckResult, GuardCriteria, RedeemCriteria, VerificationRecord, VerifiedRecord } from '../records';
import { dataField, identifierFields, methodLetter, otherFields, parseRecord, refArgument, refBytes } from './redis-record-fields';
import { isBuiltInMethod, isMethodName, type VerificationMethod } from '../records';
import { CHECK_AND_CONSUME, CHECK_CODE, CREATE, PUT_CHALLENGE, READ, READ_CHALLENGE, REDEEM, REVOKE, USE_TOTP_STEP } from './redis-scripts';
import { StoreUnavailableError, type VerificationStore } from './store';

export interface RedisStoreOptions {
  /**
   * The app's own ioredis client (`new Redis(url)` or `new Cluster(nodes)`).
   * Recommended client options:
   * `{ enableOfflineQueue: false, maxRetriesPerRequest: 1, commandTimeout: 500, retryStrategy: (times) => Math.min(times * 50, 500), enableAutoPipelining: true }`
   * (a Redis outage fails fast instead of queueing, the capped reconnect delay brings the guard back
   * within half a second of Redis returning, and each event-loop turn's commands go out in one write);
   * for a `Cluster`, `{ enableOfflineQueue: false, redisOptions: { maxRetriesPerRequest: 1, commandTimeout: 500 } }`
   * (no auto-pipelining there: ioredis' batches follow a migrating slot badly, ioredis issue 2075).
   */
  client: RedisClient;
  /** Key prefix. Default `stepup:`. */
  prefix?: string;
  /**
   * Longest wait for one store call, in ms, whatever the client's own settings;
   * past it the call fails with StoreUnavailableError (the guard answers 503). Default 1000.
   * A standalone client whose `commandTimeout` is at most this (at most half of it with
   * `enableAutoPipelining`, where a command may first wait for the batch before it) already
   * bounds every call, so the store then sets no timer of its own.
   */
  timeoutMs?: number;
}

/** A script argument: text, or the raw bytes of a binary field. */
type Argument = string | Buffer;

/**
 * The Lua commands this store defines on the client, with a prefix to keep clear of the app's own.
 * Records hold binary fields, so their replies are read with ioredis' `…Buffer` variants.
 */
interface StepUpCommands {
  stepUpCreate(record: string, revocation: string, ...args: Argument[]): Promise<number>;
  stepUpReadBuffer(record: string, revocation: string): Promise<[Buffer[], Buffer | null]>;
  stepUpCheckAndConsumeBuffer(record: string, revocation: string, ...args: Argument[]): Promise<[number, Buffer[]] | null>;
  stepUpCheckCodeBuffer(record: string, revocation: string, ...args: Argument[]): Promise<[Buffer, (Buffer | Buffer[])?]>;
  stepUpRedeemBuffer(record: string, revocation: string, ...args: Argument[]): Promise<Buffer[] | null>;
  stepUpRevoke(revocation: string, horizonMs: string): Promise<number>;
  stepUpPutChallenge(challenge: string, expiresAt: string, value: string): Promise<number>;
  stepUpReadChallenge(challenge: string, revocation: string, consume: string): Promise<string | null>;
  stepUpUseTotpStep(mark: string, step: string, expiresAt: string): Promise<number>;
}

/**
 * Key names (base64url SHA-256, 6 bits a character). A record's key is `<prefix>{<tag>}<hash>`:
 * 28 characters with the default prefix, which Redis allocates in its 32-byte class (29 and more
 * take 48: every byte of a key counts once per live record).
 * - `<hash>`, 16 characters (96 bits), of the user id and the record id together: a record is only
 *   found under the user it was made for (no user id is stored), and the key never holds the id (a
 *   bearer credential). Ids are 192 random bits drawn by the server; a caller holding a user's token
 *   who guesses ids, or a user who tries another user's id, hits a live record of another user with
 *   odds of (live records under the same tag) / 2⁹⁶ per request: about 2⁻⁹⁴ with a million live records.
 * - `<tag>`, 3 characters (18 bits) of the user id's hash: the Redis Cluster hash tag, so that a user's
 *   records, challenges and revocation mark share one slot (each script touches one user's keys);
 *   262 144 tags spread users over the 16 384 slots.
 * - Per-user keys (the revocation mark, the last TOTP step) hold 22 characters (128 bits) of the
 *   user id's hash after the tag, and a `:` that no record key has.
 */
const TAG_CHARS = 3;
const RECORD_HASH_CHARS = 16;
const USER_HASH_CHARS = 22;

/** The keys of one user, but the record's: see RedisStore.#userKeys. */
interface UserKeys {
  readonly tagged: string;
  readonly revocation: string;
  readonly totpStep: string;
}
/** Users whose key names a store keeps at most (about 200 B each). */
const USER_KEY_CACHE_SIZE = 10_000;

/** The SHA-256 of a record id under its user, in base64url: the id's length first and the user id as UTF-16, so no two (user, id) pairs hash the same input. */
const recordHash = (userId: string, id: string) =>
  createHash('sha256').update(`${id.length}:${id}:`).update(userId, 'utf16le').digest('base64url').slice(0, RECORD_HASH_CHARS);

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
  readonly #userKeyCache = new Map<string, UserKeys>();
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
   * user id. Both keys carry the user's tag, so they land in one slot. See TAG_CHARS.
   */
  keysFor(userId: string, id: string): [record: string, revocation: string] {
    const user = this.#userKeys(userId);
    return [`${user.tagged}${recordHash(userId, id)}`, user.revocation];
  }

  /**
   * A user's tagged prefix, and the keys of the user's revocation mark and last TOTP step. Kept for
   * the users seen last (a user checks again and again): one SHA-256 less per guard check.
   */
  #userKeys(userId: string): UserKeys {
    let keys = this.#userKeyCache.get(userId);
    if (keys === undefined) {
      // UTF-16 code units, not UTF-8: UTF-8 would turn every lone surrogate into U+FFFD, so two user ids would share keys.
      const hash = createHash('sha256').update(userId, 'utf16le').digest('base64url');
      const tagged = `${this.#prefix}{${hash.slice(0, TAG_CHARS)}}`;
      const user = hash.slice(0, USER_HASH_CHARS);
      keys = { tagged, revocation: `${tagged}:rv:${user}`, totpStep: `${tagged}:ts:${user}` };
      // Bounded: when full it starts again (simpler than an LRU, and a miss costs one hash).
      if (this.#userKeyCache.size >= USER_KEY_CACHE_SIZE) this.#userKeyCache.clear();
      this.#userKeyCache.set(userId, keys);
    }
    return keys;
  }

  async create(record: VerificationRecord): Promise<void> {
    // PEXPIREAT takes whole milliseconds; a fraction would fail after HSET and leave a key without a TTL.
    if (!Number.isSafeInteger(record.expiresAt)) throw new TypeError('RedisStore: expiresAt must be whole epoch milliseconds');
    const { head, tail } = dataField(record);
    await this.#call(
      this.#commands.stepUpCreate(...this.keysFor(record.userId, record.id), String(record.expiresAt), String(record.createdAt), head, tail, ...otherFields(record)),
    );
  }

  async get(userId: string, id: string): Promise<VerificationRecord | null> {
    const user = this.#userKeys(userId);
    const [flat, revokedAt] = await this.#call(this.#commands.stepUpReadBuffer(user.tagged + recordHash(userId, id), user.revocation));
    // The read script decides nothing: the revocation is compared here, with the rest (parseRecord).
    return this.#parse(id, flat, userId, revokedAt);
  }

  async checkForGuard(id: string, criteria: GuardCriteria, consume: boolean): Promise<{ record: VerificationRecord | null; consumed: boolean }> {
    if (!consume) {
      // get()'s body, not a call to it: one promise less on every reusable guard check.
      const user = this.#userKeys(criteria.userId);
      const [flat, revokedAt] = await this.#call(this.#commands.stepUpReadBuffer(user.tagged + recordHash(criteria.userId, id), user.revocation));
      return { record: this.#parse(id, flat, criteria.userId, revokedAt), consumed: false };
    }
    const methods = methodArguments(criteria.methods);
    const reply = await this.#call(
      this.#commands.stepUpCheckAndConsumeBuffer(
        ...this.keysFor(criteria.userId, id),
        String(criteria.now),
        String(criteria.now - criteria.maxAgeMs),
        methods.letters,
        refArgument('sessionRef', criteria.sessionRef),
        refArgument('actionRef', criteria.actionRef),
        methods.ownNames,
      ),
    );
    if (reply === null) return { record: null, consumed: false };
    return { record: this.#parse(id, reply[1], criteria.userId), consumed: reply[0] === 1 };
  }

  async checkCode(id: string, check: CodeCheck): Promise<CodeCheckResult> {
    const [reply, extra] = await this.#call(
      this.#commands.stepUpCheckCodeBuffer(
        ...this.keysFor(check.userId, id),
        String(check.now),
        refBytes('identifierRef', check.identifierRef),
        refBytes('candidateHash', check.candidateHash),
        String(check.maxAttempts),
        String(check.recordTtlMs),
        refArgument('sessionRef', check.sessionRef),
        check.purpose,
        methodLetter(check.identifier.type),
        // An identity record keeps the identifier the request named (it matched the hash); a new-identifier record only its hash.
        ...(check.purpose === 'identity' ? identifierFields(check.identifier) : []),
      ),
    );
    const outcome = Buffer.isBuffer(reply) ? reply.toString('latin1') : undefined;
    switch (outcome) {
      case 'verified': {
        const record = Array.isArray(extra) ? this.#parse(id, extra, check.userId) : null;
        if (record === null || record.status !== 'verified') throw new StoreUnavailableError('Unexpected reply from the verification store');
        return { outcome: 'verified', record };
      }
      case 'code_mismatch':
        return { outcome, remainingAttempts: Buffer.isBuffer(extra) ? Number(extra.toString('latin1')) : Number.NaN };
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
      this.#commands.stepUpRedeemBuffer(
        ...this.keysFor(criteria.userId, id),
        String(criteria.now),
        refBytes('identifierRef', criteria.identifierRef),
        refArgument('sessionRef', criteria.sessionRef),
      ),
    );
    const record = this.#parse(id, reply, criteria.userId);
    return record !== null && record.status === 'verified' ? record : null;
  }

  async revokeAll(userId: string, horizonMs: number): Promise<void> {
    const { revocation } = this.#userKeys(userId);
    await this.#call(this.#commands.stepUpRevoke(revocation, String(Math.max(1, Math.ceil(horizonMs)))));
  }

  /** The key of a challenge: beside the user's records, in the user's hash slot; a hash of the id, never the id. */
  #challengeKey(userId: string, id: string): string {
    return `${this.#userKeys(userId).tagged}:c:${recordHash(userId, id)}`;
  }

  async putChallenge(userId: string, id: string, value: string, expiresAt: number): Promise<void> {
    if (!Number.isSafeInteger(expiresAt)) throw new TypeError('RedisStore: expiresAt must be whole epoch milliseconds');
    await this.#call(this.#commands.stepUpPutChallenge(this.#challengeKey(userId, id), String(expiresAt), value));
  }

  async readChallenge(userId: string, id: string, consume: boolean): Promise<string | null> {
    return this.#call(this.#commands.stepUpReadChallenge(this.#challengeKey(userId, id), this.#userKeys(userId).revocation, consume ? '1' : '0'));
  }

  async deleteChallenge(userId: string, id: string): Promise<void> {
    await this.#call(this.#client.del(this.#challengeKey(userId, id)));
  }

  async useTotpStep(userId: string, step: number, expiresAt: number): Promise<boolean> {
    if (!Number.isSafeInteger(step) || !Number.isSafeInteger(expiresAt)) throw new TypeError('RedisStore: step and expiresAt are whole numbers');
    const reply = await this.#call(this.#commands.stepUpUseTotpStep(this.#userKeys(userId).totpStep, String(step), String(expiresAt)));
    return reply === 1;
  }

  async ping(): Promise<void> {
    await this.#call(this.#client.ping());
  }

  /** A reply parsed into a record of this user, or null (a malformed hash is no record). */
  #parse(id: string, flat: Buffer[] | null, userId: string, revokedAt?: Buffer | null): VerificationRecord | null {
    if (flat === null || flat.length === 0) return null;
    return parseRecord(id, userId, flat, revokedAt);
  }

  #call<T>(operation: Promise<T>): Promise<T> {
    return boundedRedisCall(operation, this.#ownTimeoutMs);
  }
}
