import type { RedisClient } from '../redis/client';
import type { ClientRateLimitInfo, IncrementResponse, Options, Store } from 'express-rate-limit';
import { boundedRedisCall, clientBoundsCommands } from '../redis/bounded-call';

/**
 * Fixed-window counters in Redis for express-rate-limit, one key per counter.
 * Each step is one Lua script over one key, so it is atomic and works on Redis Cluster.
 *
 * Written here rather than taken from rate-limit-redis: that store loads its
 * scripts once in init() and keeps the promise, so when Redis is unreachable at
 * startup the rejection is cached and every later call fails, even after Redis
 * is back (measured with rate-limit-redis 6.0.1). ioredis's defineCommand sends
 * EVALSHA and falls back to EVAL on NOSCRIPT, with nothing to initialise.
 */
const INCREMENT = `
local hits = redis.call('INCR', KEYS[1])
local ttl = redis.call('PTTL', KEYS[1])
if ttl < 0 then
  redis.call('PEXPIRE', KEYS[1], ARGV[1])
  ttl = tonumber(ARGV[1])
end
return { hits, ttl }
`;

/**
 * Never creates a key (a DECR on a missing key would make one without a TTL), never goes below
 * zero, and deletes a counter given back to zero rather than keeping a "0" until its window ends
 * (every correct password would otherwise leave one behind for the whole window). The next count
 * then starts a new window, which only ever counts longer, never less.
 */
const DECREMENT = `
local hits = tonumber(redis.call('GET', KEYS[1]) or '0') or 0
if hits > 1 then
  redis.call('DECR', KEYS[1])
elseif hits == 1 then
  redis.call('DEL', KEYS[1])
end
return 0
`;

const GET = `
local hits = redis.call('GET', KEYS[1])
if not hits then return nil end
return { tonumber(hits), redis.call('PTTL', KEYS[1]) }
`;

interface CounterCommands {
  stepUpRateIncrement(key: string, windowMs: string): Promise<[number, number]>;
  stepUpRateDecrement(key: string): Promise<number>;
  stepUpRateGet(key: string): Promise<[number, number] | null>;
}

export class RedisCounterStore implements Store {
  readonly localKeys = false;
  readonly prefix: string;
  readonly #client: RedisClient;
  readonly #commands: CounterCommands;
  /** The bound of each call, or undefined when the client's own `commandTimeout` already bounds it (see clientBoundsCommands). */
  readonly #timeoutMs: number | undefined;
  #windowMs = 60_000;

  constructor(client: RedisClient, prefix: string, timeoutMs: number) {
    this.#client = client;
    this.prefix = prefix;
    this.#timeoutMs = clientBoundsCommands(client, timeoutMs) ? undefined : timeoutMs;
    client.defineCommand('stepUpRateIncrement', { numberOfKeys: 1, lua: INCREMENT });
    client.defineCommand('stepUpRateDecrement', { numberOfKeys: 1, lua: DECREMENT });
    client.defineCommand('stepUpRateGet', { numberOfKeys: 1, lua: GET });
    this.#commands = client as unknown as CounterCommands;
  }

  init(options: Options): void {
    this.#windowMs = options.windowMs;
  }

  async increment(key: string): Promise<IncrementResponse> {
    const [totalHits, ttl] = await boundedRedisCall(
      this.#commands.stepUpRateIncrement(this.#key(key), String(this.#windowMs)),
      this.#timeoutMs,
    );
    return { totalHits, resetTime: new Date(Date.now() + ttl) };
  }

  async decrement(key: string): Promise<void> {
    await boundedRedisCall(this.#commands.stepUpRateDecrement(this.#key(key)), this.#timeoutMs);
  }

  async get(key: string): Promise<ClientRateLimitInfo | undefined> {
    const reply = await boundedRedisCall(this.#commands.stepUpRateGet(this.#key(key)), this.#timeoutMs);
    return reply === null ? undefined : { totalHits: reply[0], resetTime: new Date(Date.now() + reply[1]) };
  }

  async resetKey(key: string): Promise<void> {
    await boundedRedisCall(this.#client.del(this.#key(key)), this.#timeoutMs);
  }

  #key(key: string): string {
    return `${this.prefix}${key}`;
  }
}
