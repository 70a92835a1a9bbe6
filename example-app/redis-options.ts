import type { RedisOptions } from 'ioredis';

/**
 * The example app's ioredis options, the README's recommended ones for one Redis server: fail fast
 * while Redis is down (no offline queue, one retry, a command timeout: the guard answers 503 at once
 * when the connection is gone, within about a second when Redis hangs), reconnect within half a
 * second once it is back, and send the commands of one event-loop turn in one write.
 */
export const REDIS_OPTIONS = {
  enableOfflineQueue: false,
  maxRetriesPerRequest: 1,
  commandTimeout: 500,
  retryStrategy: (times: number) => Math.min(times * 50, 500),
  enableAutoPipelining: true,
} satisfies RedisOptions;
