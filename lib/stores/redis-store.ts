import { createHash } from 'node:crypto';
import type { Store as RateLimitStore } from 'express-rate-limit';
import type { RedisClient } from './redis-client';
import { RedisCounterStore } from '../rate-limit/redis-counter-store';
import type {
  CodeCheck,
  CodeCheckResult,
  GuardCriteria,
  IdentifierType,
  RecordPurpose,
  RecordStatus,
  RedeemCriteria,
  VerificationMethod,
  VerificationRecord,
} from '../records';
import { CHECK_AND_CONSUME, CHECK_CODE, REDEEM } from './redis-scripts';
import { StoreUnavailableError, type VerificationStore } from './store';
import { boundedRedisCall } from './redis-call';

export interface RedisStoreOptions {
  /**
   * The app's own ioredis client (`new Redis(url)` or `new Cluster(nodes)`).
   * Recommended client options so that a Redis outage fails fast instead of queueing:
   * `{ enableOfflineQueue: false, maxRetriesPerRequest: 1, commandTimeout: 500 }`.
   */
  client: RedisClient;
  /** Key prefix. Default `stepup:`. Record keys are `<prefix>rec:{<sha256 of the id>}`, counters `<prefix>rl:…`. */
  prefix?: string;
  /**
   * Longest wait for one store call, in ms, whatever the client's own settings;
   * past it the call fails with StoreUnavailableError (the guard answers 503). Default 1000.
   */
  timeoutMs?: number;
}

/** The Lua commands this store defines on the client, with a prefix to keep clear of the app's own. */
interface StepUpCommands {
  stepUpCheckAndConsume(key: string, ...args: string[]): Promise<[number, string[]] | null>;
  stepUpCheckCode(key: string, ...args: string[]): Promise<[string, (string | string[])?]>;
  stepUpRedeem(key: string, ...args: string[]): Promise<string[] | null>;
}

/**
 * Records in Redis through ioredis. Every key has a TTL (the record's expiry);
 * values hold no code or password (only an HMAC of the code); every multi-step
 * change is one Lua script over the record's single key, so it is atomic and
 * works on Redis Cluster.
 */
export class RedisStore implements VerificationStore {
  readonly #client: RedisClient;
  readonly #commands: StepUpCommands;
  readonly #prefix: string;
  readonly #timeoutMs: number;

  constructor(options: RedisStoreOptions) {
    const client = options?.client as RedisClient | undefined;
    if (client === undefined || typeof client.defineCommand !== 'function') {
      throw new TypeError('RedisStore: pass your ioredis client as { client: new Redis(url) }');
    }
    this.#client = client;
    this.#prefix = options.prefix ?? 'stepup:';
    this.#timeoutMs = options.timeoutMs ?? 1000;
    if (!Number.isFinite(this.#timeoutMs) || this.#timeoutMs <= 0) {
      throw new TypeError('RedisStore: timeoutMs must be a positive number of milliseconds');
    }
    // defineCommand runs EVALSHA and falls back to EVAL on NOSCRIPT (after a restart or failover).
    client.defineCommand('stepUpCheckAndConsume', { numberOfKeys: 1, lua: CHECK_AND_CONSUME });
    client.defineCommand('stepUpCheckCode', { numberOfKeys: 1, lua: CHECK_CODE });
    client.defineCommand('stepUpRedeem', { numberOfKeys: 1, lua: REDEEM });
    this.#commands = client as unknown as StepUpCommands;
  }

  /**
   * The Redis key of a record: a SHA-256 of the id, never the id itself, which is a bearer
   * credential (anyone who can list keys must not be able to use them). The hash is the cluster
   * hash tag, so anything added per record later lands in the same slot.
   */
  keyFor(id: string): string {
    return `${this.#prefix}rec:{${createHash('sha256').update(id).digest('base64url')}}`;
  }

  async create(record: VerificationRecord): Promise<void> {
    // PEXPIREAT takes whole milliseconds; a fraction would fail after HSET and leave a key without a TTL.
    if (!Number.isSafeInteger(record.expiresAt)) throw new TypeError('RedisStore: expiresAt must be whole epoch milliseconds');
    const key = this.keyFor(record.id);
    const results = await this.#call(
      this.#client.multi().hset(key, toFields(record)).pexpireat(key, record.expiresAt).exec(),
    );
    for (const [error] of results ?? [[new Error('transaction aborted')]]) {
      if (error) throw new StoreUnavailableError('Could not save the verification record', { cause: error });
    }
  }

  async get(id: string): Promise<VerificationRecord | null> {
    const fields = await this.#call(this.#client.hgetall(this.keyFor(id)));
    return fromFields(id, fields);
  }

  async checkForGuard(
    id: string,
    criteria: GuardCriteria,
    consume: boolean,
  ): Promise<{ record: VerificationRecord | null; consumed: boolean }> {
    if (!consume) return { record: await this.get(id), consumed: false };
    const reply = await this.#call(
      this.#commands.stepUpCheckAndConsume(
        this.keyFor(id),
        criteria.userId,
        String(criteria.now),
        String(criteria.now - criteria.maxAgeMs),
        criteria.methods.join(','),
      ),
    );
    if (reply === null) return { record: null, consumed: false };
    return { record: fromFields(id, pairsToObject(reply[1])), consumed: reply[0] === 1 };
  }

  async checkCode(id: string, check: CodeCheck): Promise<CodeCheckResult> {
    const [outcome, extra] = await this.#call(
      this.#commands.stepUpCheckCode(
        this.keyFor(id),
        check.userId,
        String(check.now),
        check.identifier.type,
        check.identifier.value,
        check.candidateHash,
        String(check.maxAttempts),
        String(check.recordTtlMs),
      ),
    );
    switch (outcome) {
      case 'verified': {
        const record = Array.isArray(extra) ? fromFields(id, pairsToObject(extra)) : null;
        if (record === null) throw new StoreUnavailableError('Unexpected reply from the verification store');
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

  async redeem(id: string, criteria: RedeemCriteria): Promise<VerificationRecord | null> {
    const reply = await this.#call(
      this.#commands.stepUpRedeem(
        this.keyFor(id),
        criteria.userId,
        String(criteria.now),
        criteria.identifier.type,
        criteria.identifier.value,
      ),
    );
    return reply === null ? null : fromFields(id, pairsToObject(reply));
  }

  async ping(): Promise<void> {
    await this.#call(this.#client.ping());
  }

  counterStore(name: string): RateLimitStore {
    return new RedisCounterStore(this.#client, `${this.#prefix}rl:${name}:`, this.#timeoutMs);
  }

  #call<T>(operation: Promise<T>): Promise<T> {
    return boundedRedisCall(operation, this.#timeoutMs);
  }
}

function toFields(record: VerificationRecord): Record<string, string> {
  const fields: Record<string, string> = {
    u: record.userId,
    m: record.method,
    p: record.purpose,
    s: record.status,
    a: String(record.attempts),
    c: String(record.createdAt),
    e: String(record.expiresAt),
  };
  if (record.identifier) {
    fields.it = record.identifier.type;
    fields.iv = record.identifier.value;
  }
  if (record.codeHash !== undefined) fields.ch = record.codeHash;
  if (record.verifiedAt !== undefined) fields.v = String(record.verifiedAt);
  return fields;
}

function pairsToObject(flat: string[]): Record<string, string> {
  const fields: Record<string, string> = {};
  for (let i = 0; i + 1 < flat.length; i += 2) fields[flat[i] as string] = flat[i + 1] as string;
  return fields;
}

function fromFields(id: string, f: Record<string, string>): VerificationRecord | null {
  if (f.u === undefined || f.m === undefined || f.e === undefined) return null;
  return {
    id,
    userId: f.u,
    method: f.m as VerificationMethod,
    purpose: f.p as RecordPurpose,
    status: f.s as RecordStatus,
    ...(f.it !== undefined && f.iv !== undefined
      ? { identifier: { type: f.it as IdentifierType, value: f.iv } }
      : {}),
    ...(f.ch !== undefined ? { codeHash: f.ch } : {}),
    attempts: Number(f.a ?? 0),
    createdAt: Number(f.c),
    expiresAt: Number(f.e),
    ...(f.v !== undefined ? { verifiedAt: Number(f.v) } : {}),
  };
}
