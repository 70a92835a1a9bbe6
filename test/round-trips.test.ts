import { randomBytes } from 'node:crypto';
import express from 'express';
import Redis, { Cluster } from 'ioredis';
import request from 'supertest';
import { createStepUp, jwtAuthenticator, RedisStore, type CodeMessage } from '../lib/index';
import { bearer, JWT_SECRET, PASSWORDS, testRedisClient, testUsers, UNLIMITED } from './helpers/harness';
import { connectedCluster, startRedisCluster, type PrivateCluster } from './helpers/redis-cluster';
import { SteppingRedisProxy } from './helpers/stepping-redis-proxy';

/**
 * Sending and checking a code each wait for at most two Redis round trips (issue 10), every limit on,
 * the per-IP ceiling included: the route's counters in one batch, then the record's script. Counted
 * exactly by a proxy that holds Redis' replies until the app has sent all it can without them.
 */
describe('Redis round trips per request, every limit on', () => {
  const prefix = `rt:${randomBytes(6).toString('hex')}:`;
  const sent: CodeMessage[] = [];
  let proxy: SteppingRedisProxy;
  let client: Redis;
  let admin: Redis;
  let app: express.Express;

  const post = (path: string, userId: string, body: object) => request(app).post(path).set('Authorization', bearer(userId)).send(body);
  const email = (userId: 'usr_alice' | 'usr_bob') => ({ type: 'email', value: userId === 'usr_alice' ? 'alice@example.com' : 'bob@example.com' });
  const sendCode = (userId: 'usr_alice' | 'usr_bob') => post('/v/verification-code', userId, { identifier: email(userId) });
  const verifyCode = (userId: 'usr_alice' | 'usr_bob', verificationId: string, code: string) =>
    post('/v/verification-code/verify', userId, { identifier: email(userId), verificationId, code });
  /** A code sent to the user's email (outside any count): its record id and the code. */
  const newCode = async (userId: 'usr_alice' | 'usr_bob') => {
    const res = await sendCode(userId).expect(201);
    return { id: res.body.verificationRecordId as string, code: sent[sent.length - 1]!.code };
  };

  beforeAll(async () => {
    proxy = await SteppingRedisProxy.start(process.env.TEST_REDIS_URL as string);
    client = new Redis(proxy.url, { enableOfflineQueue: false, maxRetriesPerRequest: 1, commandTimeout: 2000, lazyConnect: true });
    await client.connect();
    admin = await testRedisClient();
    const users = await testUsers();
    const stepUp = createStepUp({
      authenticate: jwtAuthenticator({ secret: JWT_SECRET, algorithms: ['HS256'] }),
      users: { findById: (id) => users.get(id) ?? null },
      // A timeout well above the proxy's holding time (it lets replies go after 300 ms without a command).
      store: new RedisStore({ client, prefix, timeoutMs: 2000 }),
      secret: randomBytes(32),
      sender: { send: async (message) => void sent.push(message) },
      limits: { ...UNLIMITED, perIp: { limit: 1000, windowSeconds: 900 }, codeFailuresPerUser: { limit: 20, windowSeconds: 3600 } },
    });
    app = express();
    app.use('/v', stepUp.router);
    // Warm: ioredis sends each Lua script once as EVAL on a new connection.
    const warm = await newCode('usr_alice');
    await verifyCode('usr_alice', warm.id, '000000').expect(422);
    await verifyCode('usr_alice', warm.id, warm.code).expect(200);
    await post('/v/password/verify', 'usr_alice', { password: PASSWORDS.usr_alice }).expect(201);
  });
  afterAll(async () => {
    client?.disconnect();
    await admin?.quit();
    await proxy?.close();
  });

  test('sending a code: two (its counters, per-IP included, then the record)', async () => {
    await new Promise((resolve) => setTimeout(resolve, 5)); // past the 1 ms resend cooldown
    const { result, roundTrips, afterAnswer } = await proxy.count(() => sendCode('usr_alice'));
    expect(result.status).toBe(201);
    expect(roundTrips).toBe(2);
    expect(afterAnswer).toBe(0);
  });

  test('a wrong code: two (the per-IP count and a slot of the wrong-code budget, then the check), the slot kept', async () => {
    const { id } = await newCode('usr_alice');
    const before = Number(await admin.get(`${prefix}rl:code_failures:u:usr_alice`));
    const { result, roundTrips, afterAnswer } = await proxy.count(() => verifyCode('usr_alice', id, '000000'));
    expect(result.status).toBe(422);
    expect(result.headers.ratelimit).toMatch(/^"per_ip"; r=\d+; t=\d+, "code_failures"; r=\d+;/);
    expect(roundTrips).toBe(2);
    expect(afterAnswer).toBe(0);
    expect(Number(await admin.get(`${prefix}rl:code_failures:u:usr_alice`))).toBe(before + 1);
  });

  test('the right code: two, and its slot goes back as the answer goes out, not waited for', async () => {
    const { id, code } = await newCode('usr_bob');
    const { result, roundTrips, afterAnswer } = await proxy.count(() => verifyCode('usr_bob', id, code));
    expect(result.status).toBe(200);
    expect(roundTrips).toBe(2);
    expect(afterAnswer).toBe(1);
    // given back to zero: the counter is gone
    expect(await admin.exists(`${prefix}rl:code_failures:u:usr_bob`)).toBe(0);
  });

  test('control: a password check counts its per-IP ceiling before authentication, so it waits for three', async () => {
    const { result, roundTrips, afterAnswer } = await proxy.count(() => post('/v/password/verify', 'usr_alice', { password: PASSWORDS.usr_alice }));
    expect(result.status).toBe(201);
    expect(roundTrips).toBe(3);
    expect(afterAnswer).toBe(1);
  });
});

/**
 * The same batch on a three-master Redis Cluster: the per-IP counter and the wrong-code budget live in
 * different slots (no shared hash tag), so their increments go out together, one single-key command
 * to each node, never a multi-key command that Cluster would refuse (CROSSSLOT).
 */
describe('sending and checking codes on a three-master Redis Cluster, every limit on', () => {
  const prefix = `rtc:${randomBytes(4).toString('hex')}:`;
  const sent: CodeMessage[] = [];
  let cluster: PrivateCluster;
  let client: Cluster;
  let app: express.Express;

  beforeAll(async () => {
    cluster = await startRedisCluster();
    client = await connectedCluster(cluster);
    const users = await testUsers();
    const stepUp = createStepUp({
      authenticate: jwtAuthenticator({ secret: JWT_SECRET, algorithms: ['HS256'] }),
      users: { findById: (id) => users.get(id) ?? null },
      store: new RedisStore({ client, prefix }),
      secret: randomBytes(32),
      sender: { send: async (message) => void sent.push(message) },
      limits: { ...UNLIMITED, perIp: { limit: 1000, windowSeconds: 900 }, codeFailuresPerUser: { limit: 20, windowSeconds: 3600 } },
    });
    app = express();
    app.use('/v', stepUp.router);
  }, 60_000);
  afterAll(async () => {
    await client?.quit();
    await cluster?.stop();
  });

  test('wrong and right codes answer as on one server, the counters in their own slots', async () => {
    const identifier = { type: 'email', value: 'alice@example.com' };
    const res = await request(app).post('/v/verification-code').set('Authorization', bearer('usr_alice')).send({ identifier }).expect(201);
    const verificationId = res.body.verificationRecordId as string;
    const verify = (code: string) => request(app).post('/v/verification-code/verify').set('Authorization', bearer('usr_alice')).send({ identifier, verificationId, code });
    const wrong = await verify('000000');
    expect(wrong.status).toBe(422);
    expect(wrong.headers.ratelimit).toMatch(/^"per_ip"; r=998; t=\d+, "code_failures"; r=19;/);
    const perIp = (await Promise.all(client.nodes('master').map((node) => node.keys(`${prefix}rl:per_ip:*`)))).flat();
    const budget = `${prefix}rl:code_failures:u:usr_alice`;
    expect(perIp).toHaveLength(1);
    expect(await client.get(budget)).toBe('1');
    expect(await client.cluster('KEYSLOT', perIp[0] as string)).not.toBe(await client.cluster('KEYSLOT', budget));
    expect((await verify(sent[0]!.code)).status).toBe(200);
    // the right code's slot goes back: the budget keeps only the wrong one
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(await client.get(budget)).toBe('1');
  });
});
