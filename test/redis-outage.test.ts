import { randomBytes } from 'node:crypto';
import express from 'express';
import Redis from 'ioredis';
import request from 'supertest';
import { createStepUp, jwtAuthenticator, RedisStore, type AuditEvent } from '../lib/index';
import { bearer, JWT_SECRET, PASSWORDS, testUsers } from './helpers/harness';
import { startRedisServer, type PrivateRedis } from './helpers/redis-server';

/** The app of these tests, on `client`: the router at /v, GET /slips (reusable guard) and POST /payout (single use). */
async function guardedApp(client: Redis, timeoutMs: number, onEvent?: (event: AuditEvent) => void): Promise<express.Express> {
  const users = await testUsers();
  const stepUp = createStepUp({
    authenticate: jwtAuthenticator({ secret: JWT_SECRET, algorithms: ['HS256'] }),
    users: { findById: (id) => users.get(id) ?? null },
    store: new RedisStore({ client, timeoutMs }),
    secret: randomBytes(32),
    ...(onEvent !== undefined ? { onEvent } : {}),
  });
  const app = express();
  app.use('/v', stepUp.router);
  app.post('/payout', stepUp.requireVerification({ singleUse: true }), (_req, res) => res.status(201).json({ ok: true }));
  app.get('/slips', stepUp.requireVerification(), (_req, res) => res.json({ ok: true }));
  return app;
}

/**
 * `CLIENT PAUSE <ms> ALL` on the Redis at `url`: its connections stay open and take commands, but
 * nothing is answered until the pause ends. `ended()` resolves then (its own next command is held until then).
 */
async function pauseRedis(url: string, ms: number): Promise<{ ended(): Promise<void> }> {
  const admin = new Redis(url);
  await admin.call('CLIENT', 'PAUSE', String(ms), 'ALL');
  return {
    ended: async () => {
      await admin.ping();
      admin.disconnect();
    },
  };
}

/**
 * Redis stops in the middle: the guard fails closed with 503 quickly, never a pass.
 * Runs on a redis-server of its own, since it kills it.
 */
describe.each([
  ['recommended client options', { enableOfflineQueue: false, maxRetriesPerRequest: 1, commandTimeout: 500 }],
  ["ioredis's defaults (offline queue, 20 retries)", {}],
  ['auto-pipelining and the recommended options', { enableAutoPipelining: true, enableOfflineQueue: false, maxRetriesPerRequest: 1, commandTimeout: 500 }],
  ["auto-pipelining and ioredis's defaults", { enableAutoPipelining: true }],
])('Redis outage with %s', (_label, clientOptions) => {
  let server: PrivateRedis;
  let client: Redis;
  let app: express.Express;
  const events: AuditEvent[] = [];

  beforeAll(async () => {
    server = await startRedisServer();
    client = new Redis(server.url, { ...clientOptions, lazyConnect: true, disconnectTimeout: 100 });
    client.on('error', () => undefined); // connection errors are expected once the server is gone
    await client.connect();
    app = await guardedApp(client, 1000, (event) => void events.push(event));
  });
  afterAll(async () => {
    client.disconnect();
    await server.stop();
  });

  test('a Redis that stops answering (CLIENT PAUSE): 503 within about a second, never 2xx, and 200 again once it answers', async () => {
    const created = await request(app).post('/v/password').set('Authorization', bearer('usr_alice')).send({ password: PASSWORDS.usr_alice });
    expect(created.status).toBe(201);
    const reusable = created.body.verificationRecordId as string;
    const again = await request(app).post('/v/password').set('Authorization', bearer('usr_alice')).send({ password: PASSWORDS.usr_alice });
    const singleUse = again.body.verificationRecordId as string;
    await request(app).get('/slips').set('Authorization', bearer('usr_alice')).set('Verification-Id', reusable).expect(200);

    // Nothing is answered for 1.8 s: only a timeout (the client's commandTimeout, or the store's own timeoutMs) ends the wait.
    const pause = await pauseRedis(server.url, 1800);
    const pausedAt = Date.now();
    try {
      const answers = await Promise.all(
        [
          request(app).get('/slips').set('Authorization', bearer('usr_alice')).set('Verification-Id', reusable),
          request(app).post('/payout').set('Authorization', bearer('usr_alice')).set('Verification-Id', singleUse),
        ].map(async (pending) => {
          const res = await pending;
          return { status: res.status, body: res.body as unknown, took: Date.now() - pausedAt };
        }),
      );
      for (const answer of answers) {
        expect(answer).toEqual({ status: 503, body: { code: 'verification.unavailable', message: expect.any(String) }, took: expect.any(Number) });
        expect(answer.took).toBeLessThan(1500);
      }
    } finally {
      await pause.ended();
    }
    expect(Date.now() - pausedAt).toBeGreaterThanOrEqual(1700);
    await request(app).get('/slips').set('Authorization', bearer('usr_alice')).set('Verification-Id', reusable).expect(200);
    // The consuming check that timed out was still carried out when Redis resumed: the record is
    // used up although its request got a 503 (the user verifies again; nothing passed unchecked).
    const replay = await request(app).post('/payout').set('Authorization', bearer('usr_alice')).set('Verification-Id', singleUse);
    expect(replay.status).toBe(403);
  });

  test('503 verification.unavailable within about a second, never 2xx', async () => {
    events.length = 0;
    const created = await request(app).post('/v/password').set('Authorization', bearer('usr_alice')).send({ password: PASSWORDS.usr_alice });
    expect(created.status).toBe(201);
    const id = created.body.verificationRecordId as string;
    await request(app).get('/slips').set('Authorization', bearer('usr_alice')).set('Verification-Id', id).expect(200);

    await server.stop();

    for (const [method, path] of [['post', '/payout'], ['get', '/slips']] as const) {
      const started = Date.now();
      const res = await request(app)[method](path).set('Authorization', bearer('usr_alice')).set('Verification-Id', id);
      const took = Date.now() - started;
      expect(res.status).toBe(503);
      expect(res.body).toEqual({ code: 'verification.unavailable', message: expect.any(String) });
      expect(took).toBeLessThan(1500);
    }
    const password = await request(app).post('/v/password').set('Authorization', bearer('usr_alice')).send({ password: PASSWORDS.usr_alice });
    expect(password.status).toBe(503);
    expect(password.body.code).toBe('verification.unavailable');
    // the audit stream records the refusals
    expect(events.filter((e) => e.type === 'guard.refused' && e.reason === 'verification.unavailable')).toHaveLength(2);
  });
});

describe('Redis not answering, with auto-pipelining', () => {
  let server: PrivateRedis;
  let client: Redis;

  beforeAll(async () => {
    server = await startRedisServer();
    // commandTimeout ≤ timeoutMs, but a command may first wait for the batch before it: up to twice as long.
    client = new Redis(server.url, { enableAutoPipelining: true, enableOfflineQueue: false, maxRetriesPerRequest: 1, commandTimeout: 800, lazyConnect: true });
    client.on('error', () => undefined);
    await client.connect();
  });
  afterAll(async () => {
    client.disconnect();
    await server.stop();
  });

  test("a check queued behind an unanswered batch still fails within the store's timeoutMs", async () => {
    const app = await guardedApp(client, 900);
    const created = await request(app).post('/v/password').set('Authorization', bearer('usr_alice')).send({ password: PASSWORDS.usr_alice });
    const id = created.body.verificationRecordId as string;
    await request(app).get('/slips').set('Authorization', bearer('usr_alice')).set('Verification-Id', id).expect(200);

    const pause = await pauseRedis(server.url, 2500);
    try {
      const timed = async () => {
        const started = Date.now();
        const res = await request(app).get('/slips').set('Authorization', bearer('usr_alice')).set('Verification-Id', id);
        return { status: res.status, code: (res.body as { code?: unknown }).code, took: Date.now() - started };
      };
      // The first check's batch is in flight; the second one, 100 ms later, waits for it (800 ms)
      // before its own batch is sent: ioredis alone would answer it after about 1.5 s.
      const first = timed();
      await new Promise((resolve) => setTimeout(resolve, 100));
      const second = await timed();
      expect(await first).toEqual({ status: 503, code: 'verification.unavailable', took: expect.any(Number) });
      expect(second).toEqual({ status: 503, code: 'verification.unavailable', took: expect.any(Number) });
      expect(second.took).toBeLessThan(1200);
    } finally {
      await pause.ended();
    }
  });
});
