import { startRedisServer } from './redis-server';

/**
 * One private redis-server for the whole run (or the one REDIS_URL names).
 * Each test file works under its own key prefix or database, so files don't collide.
 */
export default async function globalSetup(): Promise<void> {
  if (process.env.REDIS_URL) {
    const url = new URL(process.env.REDIS_URL);
    if ((url.port || '6379') === '6379') {
      throw new Error('REDIS_URL points at port 6379; the tests write to it. Give them a Redis of their own.');
    }
    process.env.TEST_REDIS_URL = process.env.REDIS_URL;
    return;
  }
  const redis = await startRedisServer();
  process.env.TEST_REDIS_URL = redis.url;
  (globalThis as { __TEST_REDIS__?: { stop(): Promise<void> } }).__TEST_REDIS__ = redis;
}
