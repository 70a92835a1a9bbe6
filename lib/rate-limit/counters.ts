import { MemoryStore as RateLimitMemoryStore, type Store as RateLimitStore } from 'express-rate-limit';
import type { RedisClient } from '../redis/client';
import { rejectUnknownOptions } from '../config-error';
import { RedisCounterStore } from './redis-counter-store';

/**
 * Where the rate-limit counters live: given a limit's name, a new, unshared express-rate-limit
 * store for its counters. Instances of an app that share their records should share their
 * counters too (same Redis), or each instance gets its own budget.
 */
export type Counters = (name: string) => RateLimitStore;

/** Counters in this process's memory (the default with the MemoryStore). */
export function memoryCounters(): Counters {
  return () => new RateLimitMemoryStore();
}

export interface RedisCountersOptions {
  /** The app's ioredis client (the default with a RedisStore is the store's own client). */
  client: RedisClient;
  /** Key prefix. Default `stepup:`; counters are `<prefix>rl:<limit>:<key>`. */
  prefix?: string;
  /** Longest wait for one call, ms. Default 1000. */
  timeoutMs?: number;
}

/** Counters in Redis, one key per counter with a TTL (the default with a RedisStore). */
export function redisCounters(options: RedisCountersOptions): Counters {
  rejectUnknownOptions('redisCounters()', options, ['client', 'prefix', 'timeoutMs']);
  const prefix = options.prefix ?? 'stepup:';
  const timeoutMs = options.timeoutMs ?? 1000;
  return (name) => new RedisCounterStore(options.client, `${prefix}rl:${name}:`, timeoutMs);
}
