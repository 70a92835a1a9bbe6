import { randomBytes } from 'node:crypto';
import { Cluster } from 'ioredis';
import { RedisCounterStore } from '../lib/rate-limit/redis-counter-store';
import { RedisStore } from '../lib/stores/redis-store';
import { connectedCluster, startRedisCluster, type PrivateCluster } from './helpers/redis-cluster';
import { verifiedRecord } from './helpers/records';
import { storeContract } from './store.contract';

/** The store contract, unchanged, on a real three-master Redis Cluster. */
let cluster: PrivateCluster;
let client: Cluster;
/**
 * The same Cluster through a client with ioredis auto-pipelining, which groups the commands of one
 * event-loop turn by the slot of their first key: the store's scripts must name their keys first
 * (ioredis' defineCommand with numberOfKeys does; a bare EVALSHA's first argument is the script's
 * hash, which ioredis issue 2109 saw grouped into the wrong node's pipeline).
 */
let pipelined: Cluster;
beforeAll(async () => {
  cluster = await startRedisCluster();
  client = await connectedCluster(cluster);
  pipelined = await connectedCluster(cluster, { enableAutoPipelining: true });
}, 60_000);
afterAll(async () => {
  await client?.quit();
  await pipelined?.quit();
  await cluster?.stop();
});

storeContract('RedisStore on Redis Cluster', () => new RedisStore({ client, prefix: `cl:${randomBytes(4).toString('hex')}:` }));
storeContract('RedisStore on Redis Cluster with enableAutoPipelining', () => new RedisStore({ client: pipelined, prefix: `clp:${randomBytes(4).toString('hex')}:` }));

test('with auto-pipelining, one turn of checks for users on every master: each record passes its own single-use check once', async () => {
  const store = new RedisStore({ client: pipelined, prefix: `clpc:${randomBytes(4).toString('hex')}:` });
  // Users whose records land on all three masters (the key's tag comes from a hash of the user id).
  const records = Array.from({ length: 60 }, (_, i) => verifiedRecord({ userId: `usr_${i}` }));
  const slots = await Promise.all(records.map((record) => client.cluster('KEYSLOT', store.keysFor(record.userId, record.id)[0]) as Promise<number>));
  expect(new Set(slots.map((slot) => client.slots[slot]?.[0])).size).toBe(3);
  await Promise.all(records.map((record) => store.create(record)));
  const check = (record: (typeof records)[number]) =>
    store.checkForGuard(record.id, { userId: record.userId, methods: ['password'], maxAgeMs: 60_000, now: Date.now() }, true);
  // Every record checked twice in the same turn: the two checks share a pipeline, and only one may consume it.
  const results = await Promise.all(records.flatMap((record) => [check(record), check(record)]));
  for (let i = 0; i < records.length; i += 1) {
    const pair = [results[2 * i], results[2 * i + 1]];
    expect(pair.filter((result) => result?.consumed).length).toBe(1);
    expect(pair.find((result) => result?.consumed)?.record).toEqual(records[i]);
  }
  expect(await Promise.all(records.map((record) => store.get(record.userId, record.id)))).toEqual(records.map(() => null));
});

test('with auto-pipelining, rate-limit counters on every master counted exactly in one turn', async () => {
  const store = new RedisCounterStore(pipelined, `clprl:${randomBytes(4).toString('hex')}:`, 1000);
  store.init({ windowMs: 60_000 } as never);
  const keys = Array.from({ length: 30 }, (_, i) => `k${i}`);
  // Three increments of every key in the same turn, then one decrement each.
  const hits = await Promise.all(keys.flatMap((key) => [store.increment(key), store.increment(key), store.increment(key)]));
  for (let i = 0; i < keys.length; i += 1) {
    expect(hits.slice(3 * i, 3 * i + 3).map((hit) => hit.totalHits).sort()).toEqual([1, 2, 3]);
  }
  await Promise.all(keys.map((key) => store.decrement(key)));
  expect((await Promise.all(keys.map((key) => store.get(key)))).map((hit) => hit?.totalHits)).toEqual(keys.map(() => 2));
});

test('rate-limit counters work across the cluster slots', async () => {
  const store = new RedisCounterStore(client, `clrl:${randomBytes(4).toString('hex')}:`, 1000);
  store.init({ windowMs: 60_000 } as never);
  // Many keys, so they land on all three masters.
  for (let i = 0; i < 30; i += 1) {
    expect((await store.increment(`k${i}`)).totalHits).toBe(1);
    expect((await store.increment(`k${i}`)).totalHits).toBe(2);
  }
});
