import request from 'supertest';
import type { MemoryStore } from '../lib/index';
import { bearer, dumpKeys, harness, PASSWORDS, STORE_KINDS, type Harness } from './helpers/harness';
import { recordKeyPattern } from './helpers/records';

describe.each(STORE_KINDS)('password verification (%s store)', (kind) => {
  let h: Harness;
  beforeAll(async () => {
    h = await harness(kind);
  });
  afterAll(() => h.close());

  test.each(['/v/password/verify', '/v/password'])('POST %s with the right password answers 201 with a record', async (path) => {
    const res = await request(h.app).post(path).set('Authorization', bearer('usr_alice')).send({ password: PASSWORDS.usr_alice });
    expect(res.status).toBe(201);
    expect(res.headers['cache-control']).toBe('no-store');
    expect(res.body.verificationRecordId).toMatch(/^[A-Za-z0-9_-]{32}$/);
    const expiresIn = Date.parse(res.body.expiresAt) - Date.now();
    expect(res.body.expiresAt).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
    expect(expiresIn).toBeGreaterThan(590_000);
    expect(expiresIn).toBeLessThanOrEqual(600_000);
    const guarded = await request(h.app)
      .get('/reusable')
      .set('Authorization', bearer('usr_alice'))
      .set('Verification-Id', res.body.verificationRecordId);
    expect(guarded.status).toBe(200);
    expect(guarded.body.verification).toMatchObject({ userId: 'usr_alice', method: 'password' });
  });

  const recordCount = async () => (h.redis ? (await h.redis.keys(recordKeyPattern(h.prefix))).length : (h.store as MemoryStore).size);

  test('a wrong password answers 422 and creates nothing', async () => {
    const before = await recordCount();
    const res = await request(h.app).post('/v/password/verify').set('Authorization', bearer('usr_alice')).send({ password: 'nope' });
    expect(res.status).toBe(422);
    expect(res.body).toEqual({ code: 'verification.invalid_credentials', message: expect.any(String), remainingAttempts: expect.any(Number) });
    expect(await recordCount()).toBe(before);
  });

  test("another user's password does not verify alice", async () => {
    const res = await request(h.app).post('/v/password/verify').set('Authorization', bearer('usr_alice')).send({ password: PASSWORDS.usr_bob });
    expect(res.status).toBe(422);
  });

  test('a user with no password gets the same answer as a wrong password', async () => {
    const carol = await request(h.app).post('/v/password/verify').set('Authorization', bearer('usr_carol')).send({ password: 'anything' });
    const alice = await request(h.app).post('/v/password/verify').set('Authorization', bearer('usr_alice')).send({ password: 'anything' });
    expect(carol.status).toBe(alice.status);
    // The same answer; only the caller's own count of attempts left differs between two users' budgets.
    expect(carol.body).toEqual({ ...alice.body, remainingAttempts: expect.any(Number) });
    expect(Object.keys(carol.body).sort()).toEqual(Object.keys(alice.body).sort());
  });

  test('an unknown user (valid token, no such account) gets the same 422', async () => {
    const res = await request(h.app).post('/v/password/verify').set('Authorization', bearer('usr_ghost')).send({ password: 'x' });
    expect(res.status).toBe(422);
    expect(res.body.code).toBe('verification.invalid_credentials');
  });

  if (kind === 'redis') {
    test('in Redis every key has a TTL and no key or value holds the password or the record id', async () => {
      const created = await request(h.app).post('/v/password/verify').set('Authorization', bearer('usr_bob')).send({ password: PASSWORDS.usr_bob });
      expect(created.status).toBe(201);
      const keys = await dumpKeys(h.redis!, `${h.prefix}*`);
      expect(keys.length).toBeGreaterThan(0);
      for (const { key, pttl, text } of keys) {
        expect(pttl).toBeGreaterThan(0);
        expect(`${key} ${text}`).not.toContain(created.body.verificationRecordId);
        expect(`${key} ${text}`).not.toContain(PASSWORDS.usr_alice);
        expect(`${key} ${text}`).not.toContain(PASSWORDS.usr_bob);
      }
    });
  }
});

describe('password timing', () => {
  test('no password and wrong password take about the same time (bcrypt against a dummy hash of the same cost)', async () => {
    const h = await harness('memory');
    const time = async (userId: string) => {
      const started = process.hrtime.bigint();
      await request(h.app).post('/v/password/verify').set('Authorization', bearer(userId)).send({ password: 'wrong-password' }).expect(422);
      return Number(process.hrtime.bigint() - started) / 1e6;
    };
    await time('usr_alice'); // warm up: learns the cost of real hashes
    await time('usr_carol');
    const wrong: number[] = [];
    const none: number[] = [];
    for (let i = 0; i < 5; i += 1) {
      wrong.push(await time('usr_alice'));
      none.push(await time('usr_carol'));
    }
    const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] as number;
    // bcrypt cost 10 takes tens of ms; without the dummy hash "no password" would answer in ~1 ms.
    expect(median(none)).toBeGreaterThan(median(wrong) * 0.5);
    expect(median(none)).toBeLessThan(median(wrong) * 2);
    await h.close();
  });
});
