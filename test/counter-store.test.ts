import Redis from 'ioredis';
import { RedisCounterStore } from '../lib/rate-limit/redis-counter-store';
import { StoreUnavailableError } from '../lib/stores/store';
import { freePort, startRedisServer } from './helpers/redis-server';

/** The Redis counter store under express-rate-limit: the failure modes that ruled out rate-limit-redis. */
describe('RedisCounterStore', () => {
  test('works when Redis comes up only after the store was created (nothing cached from startup)', async () => {
    const port = await freePort();
    const client = new Redis({ port, host: '127.0.0.1', lazyConnect: true, enableOfflineQueue: false, maxRetriesPerRequest: 0, disconnectTimeout: 100 });
    client.on('error', () => undefined);
    const store = new RedisCounterStore(client, 'c:', 500);
    store.init({ windowMs: 60_000 } as never);
    await expect(store.increment('k')).rejects.toBeInstanceOf(StoreUnavailableError);

    const server = await startRedisServer(port);
    try {
      // The client keeps reconnecting by itself (ioredis' default retry strategy).
      if (client.status !== 'ready') await new Promise((resolve) => client.once('ready', resolve));
      expect((await store.increment('k')).totalHits).toBe(1);
      expect((await store.increment('k')).totalHits).toBe(2);
    } finally {
      client.disconnect();
      await server.stop();
    }
  });

  test('survives SCRIPT FLUSH (NOSCRIPT falls back to EVAL), keeps TTLs, never creates keys on decrement', async () => {
    const client = new Redis(process.env.TEST_REDIS_URL as string, { lazyConnect: true });
    await client.connect();
    const prefix = `cs:${Date.now()}:`;
    const store = new RedisCounterStore(client, prefix, 1000);
    store.init({ windowMs: 30_000 } as never);
    const first = await store.increment('a');
    expect(first.totalHits).toBe(1);
    expect(first.resetTime!.getTime() - Date.now()).toBeGreaterThan(29_000);
    await client.script('FLUSH');
    expect((await store.increment('a')).totalHits).toBe(2);
    await store.decrement('a');
    expect((await store.get('a'))?.totalHits).toBe(1);
    const ttl = await client.pttl(`${prefix}a`);
    expect(ttl).toBeGreaterThan(0);
    await store.decrement('never-seen');
    expect(await client.exists(`${prefix}never-seen`)).toBe(0);
    // a counter given back to zero is deleted, not kept as "0" until its window ends
    await store.increment('b');
    await store.decrement('b');
    expect(await client.exists(`${prefix}b`)).toBe(0);
    expect(await store.get('b')).toBeUndefined();
    await store.resetKey('a');
    expect(await store.get('a')).toBeUndefined();
    await client.quit();
  });
});
