import { abandonedPost } from './helpers/abandoned-request';
import type { AddressInfo } from 'node:net';
import bcrypt from 'bcrypt';
import type { Store as RateLimitStore } from 'express-rate-limit';
import type Redis from 'ioredis';
import request from 'supertest';
import { memoryCounters, redisCounters, type Counters, type RateLimits, type StepUpUser } from '../lib/index';
import { bearer, harness, PASSWORDS, STORE_KINDS, testRedisClient, UNLIMITED, type Harness, type StoreKind } from './helpers/harness';
import { sleep } from './helpers/records';

/**
 * The failure budgets (wrong passwords, wrong codes per user) under concurrency: a check in flight
 * holds a slot, a refusal never counts, a success gives its slot back.
 */

const ALICE_EMAIL = { type: 'email', value: 'alice@example.com' } as const;

const passwordAttempt = (h: Harness, password: string) =>
  request(h.app).post('/v/password/verify').set('Authorization', bearer('usr_alice')).send({ password });
const sendCode = (h: Harness) => request(h.app).post('/v/verification-code').set('Authorization', bearer('usr_alice')).send({ identifier: ALICE_EMAIL });
/** Sends a code to alice's email; first waits out the 1 ms resend cooldown of UNLIMITED (a send within it is a 429). */
async function newCode(h: Harness): Promise<string> {
  await sleep(3);
  return (await sendCode(h).expect(201)).body.verificationRecordId as string;
}
const verifyCode = (h: Harness, verificationId: string, code: string) =>
  request(h.app).post('/v/verification-code/verify').set('Authorization', bearer('usr_alice')).send({ identifier: ALICE_EMAIL, verificationId, code });

/** Counters of the chosen kind whose stores a test can read (the count a key holds now). */
interface ReadableCounters {
  readonly counters: Counters;
  hits(limit: string, key: string): Promise<number>;
  close(): Promise<void>;
}

async function readableCounters(kind: StoreKind): Promise<ReadableCounters> {
  let redis: Redis | undefined;
  let base: Counters;
  if (kind === 'redis') {
    redis = await testRedisClient();
    base = redisCounters({ client: redis, prefix: `fb:${Date.now()}:${Math.random().toString(36).slice(2)}:` });
  } else {
    base = memoryCounters();
  }
  const stores = new Map<string, RateLimitStore>();
  return {
    counters: (name) => {
      const store = base(name);
      stores.set(name, store);
      return store;
    },
    hits: async (limit, key) => (await stores.get(limit)?.get?.(key))?.totalHits ?? 0,
    close: async () => void (await redis?.quit()),
  };
}

const tally = (statuses: number[]) => statuses.reduce<Record<number, number>>((acc, s) => ({ ...acc, [s]: (acc[s] ?? 0) + 1 }), {});

describe.each(STORE_KINDS)('failure budgets under concurrency (%s store)', (kind) => {
  const open: Array<{ close(): Promise<void> }> = [];
  afterAll(async () => {
    await Promise.all(open.map((item) => item.close()));
  });

  /** A harness whose password checks are counted (bcrypt, as the built-in check does), and its counters. */
  async function make(limits: RateLimits, delayMs = 0) {
    const counters = await readableCounters(kind);
    const checks = { started: 0 };
    const h = await harness(kind, {
      limits: { ...UNLIMITED, ...limits },
      counters: counters.counters,
      verifyPassword: async (user: StepUpUser | null, password: string) => {
        checks.started += 1;
        if (delayMs > 0) await sleep(delayMs);
        return typeof user?.passwordHash === 'string' && bcrypt.compare(password, user.passwordHash);
      },
    });
    open.push(counters, h);
    return { h, counters, checks };
  }

  test('password: a burst of correct verifications leaves the budget whole', async () => {
    const { h, counters } = await make({ passwordFailures: { limit: 5, windowSeconds: 60 } });
    const burst = await Promise.all(Array.from({ length: 20 }, () => passwordAttempt(h, PASSWORDS.usr_alice)));
    const statuses = tally(burst.map((res) => res.status));
    // at most the limit in flight at once; the others are refused, never a 422
    expect(Object.keys(statuses).sort()).toEqual(expect.arrayContaining(['201']));
    expect((statuses[201] ?? 0) + (statuses[429] ?? 0)).toBe(20);
    expect(statuses[201]).toBeGreaterThanOrEqual(5);
    expect(await counters.hits('password_failures', 'u:usr_alice')).toBe(0);
    // the whole budget is there: 5 wrong ones, counted down to 0, then the lockout
    const remaining = [];
    for (let i = 0; i < 5; i += 1) {
      const res = await passwordAttempt(h, 'wrong');
      expect(res.status).toBe(422);
      remaining.push(res.body.remainingAttempts);
    }
    expect(remaining).toEqual([4, 3, 2, 1, 0]);
    expect((await passwordAttempt(h, PASSWORDS.usr_alice)).status).toBe(429);
  });

  test('password: wrong passwords in parallel stop at the limit, and no more reach the check', async () => {
    const { h, counters, checks } = await make({ passwordFailures: { limit: 5, windowSeconds: 60 } });
    const burst = await Promise.all(Array.from({ length: 30 }, () => passwordAttempt(h, 'wrong')));
    expect(tally(burst.map((res) => res.status))).toEqual({ 422: 5, 429: 25 });
    expect(checks.started).toBe(5);
    expect(burst.filter((res) => res.status === 422).map((res) => res.body.remainingAttempts).sort()).toEqual([0, 1, 2, 3, 4]);
    for (const res of burst.filter((r) => r.status === 429)) expect(res.body.code).toBe('verification.too_many_attempts');
    expect(await counters.hits('password_failures', 'u:usr_alice')).toBe(5);
    expect((await passwordAttempt(h, PASSWORDS.usr_alice)).status).toBe(429);
    expect(checks.started).toBe(5);
  });

  test('password: refused requests do not count, right or wrong', async () => {
    const { h, counters } = await make({ passwordFailures: { limit: 3, windowSeconds: 60 } });
    for (let i = 0; i < 3; i += 1) await passwordAttempt(h, 'wrong').expect(422);
    const refused = await Promise.all(Array.from({ length: 20 }, (_, i) => passwordAttempt(h, i % 2 === 0 ? PASSWORDS.usr_alice : 'wrong')));
    expect(refused.every((res) => res.status === 429)).toBe(true);
    expect(await counters.hits('password_failures', 'u:usr_alice')).toBe(3);
  });

  test('password: correct checks in flight refuse the others only while they run', async () => {
    const { h, counters } = await make({ passwordFailures: { limit: 2, windowSeconds: 60 } }, 200);
    const inFlight = [passwordAttempt(h, PASSWORDS.usr_alice), passwordAttempt(h, PASSWORDS.usr_alice)].map((r) => r.then((res) => res));
    await sleep(60);
    expect((await passwordAttempt(h, PASSWORDS.usr_alice)).status).toBe(429); // both slots taken by checks still running
    expect((await Promise.all(inFlight)).map((res) => res.status)).toEqual([201, 201]);
    expect(await counters.hits('password_failures', 'u:usr_alice')).toBe(0);
    expect((await passwordAttempt(h, PASSWORDS.usr_alice)).status).toBe(201);
  });

  test('password: a correct check whose client hung up gives its slot back', async () => {
    const { h, counters, checks } = await make({ passwordFailures: { limit: 2, windowSeconds: 60 } }, 200);
    const server = h.app.listen(0, '127.0.0.1');
    await new Promise((resolve) => server.once('listening', resolve));
    const { port } = server.address() as AddressInfo;
    const abandoned = () => abandonedPost(port, '/v/password/verify', { password: PASSWORDS.usr_alice });
    await Promise.all([abandoned(), abandoned()]);
    // The checks finish on the server, for clients that are gone: 200 ms and a bcrypt compare each,
    // far longer on a loaded machine, so wait for the slots to come back (or the deadline) rather than a fixed time.
    const deadline = Date.now() + 5000;
    while (checks.started < 2 && Date.now() < deadline) await sleep(10); // both took their slot and started
    while ((await counters.hits('password_failures', 'u:usr_alice')) !== 0 && Date.now() < deadline) await sleep(25);
    expect(checks.started).toBe(2);
    expect(await counters.hits('password_failures', 'u:usr_alice')).toBe(0);
    expect((await request(server).post('/v/password/verify').set('Authorization', bearer('usr_alice')).send({ password: PASSWORDS.usr_alice })).status).toBe(201);
    server.close();
  });

  test('codes: a burst of correct code checks leaves the budget whole', async () => {
    const { h, counters } = await make({ codeFailuresPerUser: { limit: 3, windowSeconds: 60 } });
    const sent: Array<{ id: string; code: string }> = [];
    for (let i = 0; i < 10; i += 1) {
      const id = await newCode(h);
      sent.push({ id, code: h.sent[h.sent.length - 1]!.code });
    }
    const burst = await Promise.all(sent.map(({ id, code }) => verifyCode(h, id, code)));
    for (const res of burst) expect([200, 429]).toContain(res.status);
    expect(burst.filter((res) => res.status === 200).length).toBeGreaterThanOrEqual(3);
    expect(await counters.hits('code_failures', 'u:usr_alice')).toBe(0);
    // the codes refused in the burst can be checked again, and the whole budget is there
    for (const [i, res] of burst.entries()) {
      if (res.status === 429) await verifyCode(h, sent[i]!.id, sent[i]!.code).expect(200);
    }
    const id = await newCode(h);
    for (let i = 0; i < 3; i += 1) expect((await verifyCode(h, id, '000000')).body.code).toMatch(/^verification_code\./);
    expect((await verifyCode(h, id, h.sent[h.sent.length - 1]!.code)).body.code).toBe('verification.too_many_attempts');
  });

  test('codes: wrong codes in parallel stop at the limit, and refused ones do not count', async () => {
    const { h, counters } = await make({ codeFailuresPerUser: { limit: 4, windowSeconds: 60 } });
    const ids: string[] = [];
    for (let i = 0; i < 6; i += 1) ids.push(await newCode(h));
    const burst = await Promise.all(Array.from({ length: 24 }, (_, i) => verifyCode(h, ids[i % ids.length]!, '000000')));
    const checked = burst.filter((res) => res.body.code !== 'verification.too_many_attempts');
    expect(checked).toHaveLength(4);
    for (const res of checked) expect(res.body.code).toBe('verification_code.code_mismatch');
    expect(await counters.hits('code_failures', 'u:usr_alice')).toBe(4);
    const more = await Promise.all(Array.from({ length: 10 }, () => verifyCode(h, ids[0]!, '000000')));
    expect(more.every((res) => res.body.code === 'verification.too_many_attempts')).toBe(true);
    expect(await counters.hits('code_failures', 'u:usr_alice')).toBe(4);
  });
});
