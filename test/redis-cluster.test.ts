import { randomBytes } from 'node:crypto';
import { Cluster } from 'ioredis';
import { RedisCounterStore } from '../lib/rate-limit/redis-counter-store';
import { RedisStore } from '../lib/stores/redis-store';
import { connectedCluster, startRedisCluster, type PrivateCluster } from './helpers/redis-cluster';
import { storeContract } from './store.contract';

/** The store contract, unchanged, on a real three-master Redis Cluster. */
let cluster: PrivateCluster;
let client: Cluster;
beforeAll(async () => {
  cluster = await startRedisCluster();
  client = await connectedCluster(cluster);
}, 60_000);
afterAll(async () => {
  await client?.quit();
  await cluster?.stop();
});

storeContract('RedisStore on Redis Cluster', () => new RedisStore({ client, prefix: `cl:${randomBytes(4).toString('hex')}:` }));

test('rate-limit counters work across the cluster slots', async () => {
  const store = new RedisCounterStore(client, `clrl:${randomBytes(4).toString('hex')}:`, 1000);
  store.init({ windowMs: 60_000 } as never);
  // Many keys, so they land on all three masters.
  for (let i = 0; i < 30; i += 1) {
    expect((await store.increment(`k${i}`)).totalHits).toBe(1);
    expect((await store.increment(`k${i}`)).totalHits).toBe(2);
  }
});
