import { abandonedPost } from './helpers/abandoned-request';
import type { AddressInfo } from 'node:net';
import request from 'supertest';
import { memoryCounters, StoreUnavailableError, type AuditEvent, type Counters, type RateLimits } from '../lib/index';
import { newRecordId } from '../lib/record-id';
import { bearer, harness, PASSWORDS, STORE_KINDS, UNLIMITED, type Harness } from './helpers/harness';
import { sleep } from './helpers/records';

const ALICE_EMAIL = { type: 'email', value: 'alice@example.com' } as const;
/** Everything off but what a test turns on. */
const NONE: RateLimits = UNLIMITED;

const passwordAttempt = (h: Harness, password: string, userId = 'usr_alice') =>
  request(h.app).post('/v/password/verify').set('Authorization', bearer(userId)).send({ password });
const sendCode = (h: Harness, identifier: object, userId = 'usr_alice') =>
  request(h.app).post('/v/verification-code').set('Authorization', bearer(userId)).send({ identifier });
const verifyCode = (h: Harness, identifier: object, verificationId: string, code: string) =>
  request(h.app).post('/v/verification-code/verify').set('Authorization', bearer('usr_alice')).send({ identifier, verificationId, code });

/** A 429 of the contract: JSON code, Retry-After within the window, the IETF RateLimit headers (draft 8). */
function expectLimited(res: request.Response, code: string, name: string, windowSeconds: number): void {
  expect(res.status).toBe(429);
  expect(res.body).toEqual({ code, message: expect.any(String) });
  const retryAfter = Number(res.headers['retry-after']);
  expect(retryAfter).toBeGreaterThan(0);
  expect(retryAfter).toBeLessThanOrEqual(windowSeconds);
  expect(res.headers.ratelimit).toMatch(new RegExp(`"${name}"; r=0; t=\\d+`));
  expect(res.headers['ratelimit-policy']).toMatch(new RegExp(`"${name}"; q=\\d+; w=${windowSeconds}`));
}

describe.each(STORE_KINDS)('rate limits (%s store)', (kind) => {
  const open: Harness[] = [];
  const make = async (limits: RateLimits, extra: Parameters<typeof harness>[1] = {}, shared: { prefix?: string } = {}) => {
    const h = await harness(kind, { limits: { ...NONE, ...limits }, ...extra }, shared);
    open.push(h);
    return h;
  };
  afterAll(async () => {
    await Promise.all(open.map((h) => h.close()));
  });

  test('password: after 5 failures even the right password is refused until the window ends', async () => {
    const h = await make({ passwordFailures: { limit: 5, windowSeconds: 3 } });
    for (let i = 0; i < 5; i += 1) expect((await passwordAttempt(h, 'wrong')).status).toBe(422);
    expectLimited(await passwordAttempt(h, PASSWORDS.usr_alice), 'verification.too_many_attempts', 'password_failures', 3);
    // another user is not affected
    expect((await passwordAttempt(h, PASSWORDS.usr_bob, 'usr_bob')).status).toBe(201);
    await sleep(3100);
    expect((await passwordAttempt(h, PASSWORDS.usr_alice)).status).toBe(201);
  });

  test('password: a success does not reset a running window of failures', async () => {
    const h = await make({ passwordFailures: { limit: 5, windowSeconds: 60 } });
    for (let i = 0; i < 3; i += 1) await passwordAttempt(h, 'wrong').expect(422);
    await passwordAttempt(h, PASSWORDS.usr_alice).expect(201);
    for (let i = 0; i < 2; i += 1) await passwordAttempt(h, 'wrong').expect(422);
    expect((await passwordAttempt(h, PASSWORDS.usr_alice)).status).toBe(429);
  });

  test('codes: a resend cooldown per identifier', async () => {
    const h = await make({ codeResendCooldownSeconds: 1 });
    await sendCode(h, ALICE_EMAIL).expect(201);
    const res = await sendCode(h, { type: 'email', value: 'ALICE@example.com' });
    expectLimited(res, 'verification_code.rate_limited', 'code_cooldown', 1);
    expect(h.sent).toHaveLength(1);
    await sendCode(h, { type: 'phone', value: '+14155550100' }).expect(201);
    await sleep(1100);
    await sendCode(h, ALICE_EMAIL).expect(201);
  });

  test('codes: at most 5 per identifier per window', async () => {
    const h = await make({ codesPerIdentifier: { limit: 5, windowSeconds: 3600 } });
    for (let i = 0; i < 5; i += 1) await sendCode(h, ALICE_EMAIL).expect(201);
    expectLimited(await sendCode(h, ALICE_EMAIL), 'verification_code.rate_limited', 'codes_per_identifier', 3600);
    expect(h.sent).toHaveLength(5);
  });

  test('codes: at most 10 per user per window, across identifiers', async () => {
    const h = await make({ codesPerUser: { limit: 10, windowSeconds: 3600 } });
    for (let i = 0; i < 10; i += 1) await sendCode(h, { type: 'email', value: `alice+${i}@example.com` }).expect(201);
    expectLimited(await sendCode(h, { type: 'email', value: 'alice+x@example.com' }), 'verification_code.rate_limited', 'codes_per_user', 3600);
    await sendCode(h, { type: 'email', value: 'bob@example.com' }, 'usr_bob').expect(201);
  });

  test('codes: a refused send does not use up the other limits', async () => {
    const h = await make({ codeResendCooldownSeconds: 60, codesPerUser: { limit: 2, windowSeconds: 3600 } });
    await sendCode(h, ALICE_EMAIL).expect(201);
    for (let i = 0; i < 3; i += 1) await sendCode(h, ALICE_EMAIL).expect(429); // cooldown
    await sendCode(h, { type: 'phone', value: '+14155550100' }).expect(201); // still the 2nd of 2
    expect((await sendCode(h, { type: 'email', value: 'alice+1@example.com' })).body.code).toBe('verification_code.rate_limited');
  });

  test('codes: dropping the connection mid-send does not give the count back', async () => {
    const slow = { send: () => new Promise<void>((resolve) => setTimeout(resolve, 300)) };
    const h = await make({ codeResendCooldownSeconds: 60, codesPerUser: { limit: 3, windowSeconds: 3600 } }, { sender: slow });
    const server = h.app.listen(0, '127.0.0.1');
    await new Promise((resolve) => server.once('listening', resolve));
    const { port } = server.address() as AddressInfo;
    const abandoned = (identifier: object) => abandonedPost(port, '/v/verification-code', { identifier });
    for (let i = 0; i < 3; i += 1) await abandoned({ type: 'email', value: `alice+${i}@example.com` });
    await abandoned(ALICE_EMAIL);
    await sleep(400); // the abandoned sends finish on the server
    const cooldown = await request(server).post('/v/verification-code').set('Authorization', bearer('usr_alice')).send({ identifier: ALICE_EMAIL });
    expect(cooldown.status).toBe(429);
    const perUser = await request(server).post('/v/verification-code').set('Authorization', bearer('usr_alice')).send({ identifier: { type: 'phone', value: '+14155550100' } });
    expect(perUser.status).toBe(429);
    server.close();
  });

  test("codes: another account cannot use up a user's codes to their own identifiers", async () => {
    const h = await make({ codeResendCooldownSeconds: 60, codesPerIdentifier: { limit: 2, windowSeconds: 3600 }, codesPerNewIdentifier: { limit: 3, windowSeconds: 3600 } });
    // bob keeps sending to alice's address (for him a new identifier) until refused
    await sendCode(h, ALICE_EMAIL, 'usr_bob').expect(201);
    expect((await sendCode(h, ALICE_EMAIL, 'usr_bob')).status).toBe(429); // his own cooldown
    // alice is not affected, and her sends are hers alone (no count of bob's in her headers)
    const own = await sendCode(h, ALICE_EMAIL);
    expect(own.status).toBe(201);
    expect(own.headers.ratelimit).toContain('"codes_per_identifier"; r=1;');
    expect(own.headers.ratelimit).not.toContain('codes_per_new_identifier');
  });

  test('codes: a cap on one new identifier across all accounts, without revealing counts', async () => {
    const h = await make({ codesPerNewIdentifier: { limit: 3, windowSeconds: 3600 } });
    const stranger = { type: 'email', value: 'victim@example.org' };
    const first = await sendCode(h, stranger, 'usr_alice');
    expect(first.status).toBe(201);
    expect(first.headers.ratelimit ?? '').not.toContain('codes_per_new_identifier');
    await sendCode(h, stranger, 'usr_bob').expect(201);
    await sendCode(h, stranger, 'usr_carol').expect(201);
    const fourth = await sendCode(h, stranger, 'usr_bob');
    expect(fourth.status).toBe(429);
    expect(fourth.body.code).toBe('verification_code.rate_limited');
    expect(Number(fourth.headers['retry-after'])).toBeGreaterThan(0);
    expect(fourth.headers.ratelimit ?? '').not.toContain('codes_per_new_identifier');
    // identity codes to one's own address are never counted there
    for (let i = 0; i < 4; i += 1) {
      await sleep(3); // past the 1 ms resend cooldown of the other limits
      await sendCode(h, { type: 'email', value: 'bob@example.com' }, 'usr_bob').expect(201);
    }
  });

  test('codes: address variants of one inbox share the cross-account cap', async () => {
    const h = await make({ codesPerNewIdentifier: { limit: 3, windowSeconds: 3600 } });
    const variants = ['victim@gmail.com', 'victim+1@gmail.com', 'v.ictim+2@googlemail.com', 'vic.tim@gmail.com'];
    const statuses = [];
    for (const [i, value] of variants.entries()) {
      statuses.push((await sendCode(h, { type: 'email', value }, i % 2 === 0 ? 'usr_alice' : 'usr_bob')).status);
    }
    expect(statuses).toEqual([201, 201, 201, 429]);
    // another inbox at the same provider is not affected
    await sendCode(h, { type: 'email', value: 'someone.else@gmail.com' }, 'usr_bob').expect(201);
  });

  test('code checks: at most 20 wrong per user, and a resend does not reset it', async () => {
    const h = await make({ codeFailuresPerUser: { limit: 20, windowSeconds: 3600 } });
    let wrongAnswers = 0;
    for (let record = 0; record < 4; record += 1) {
      const id = (await sendCode(h, ALICE_EMAIL)).body.verificationRecordId as string;
      for (let i = 0; i < 5; i += 1) {
        const res = await verifyCode(h, ALICE_EMAIL, id, 'abcdef');
        expect([422, 429]).toContain(res.status);
        expect(res.body.code).not.toBe('verification.too_many_attempts');
        wrongAnswers += 1;
      }
    }
    expect(wrongAnswers).toBe(20);
    // a fresh code, the right one: still refused
    const id = (await sendCode(h, ALICE_EMAIL)).body.verificationRecordId as string;
    const res = await verifyCode(h, ALICE_EMAIL, id, h.sent[h.sent.length - 1]!.code);
    expectLimited(res, 'verification.too_many_attempts', 'code_failures', 3600);
  });

  test('per IP: a ceiling over the whole router, before authentication', async () => {
    const h = await make({ perIp: { limit: 3, windowSeconds: 60 } });
    for (let i = 0; i < 3; i += 1) await request(h.app).post('/v/password').send({ password: 'x' }).expect(401);
    expectLimited(await request(h.app).post('/v/password').send({ password: 'x' }), 'request.rate_limited', 'per_ip', 60);
  });

  test('per IP on the code routes: counted once per request, in the route batch or on the way out', async () => {
    const h = await make({ perIp: { limit: 4, windowSeconds: 60 } });
    const first = await sendCode(h, ALICE_EMAIL);
    expect(first.status).toBe(201);
    expect(first.headers.ratelimit).toMatch(/^"per_ip"; r=3; t=\d+, "code_cooldown"; r=0;/);
    await request(h.app).post('/v/verification-code').send({ identifier: ALICE_EMAIL }).expect(401); // no token: counted too
    await sendCode(h, { type: 'email', value: 'not-an-email' }).expect(400); // invalid: counted too
    const wrong = await verifyCode(h, ALICE_EMAIL, first.body.verificationRecordId as string, '000000');
    expect([422, 404]).toContain(wrong.status);
    expect(wrong.headers.ratelimit).toMatch(/^"per_ip"; r=0; t=\d+, "code_failures"; r=\d+;/);
    // the 5th request of the window, whatever its route or error, is refused by the ceiling
    expectLimited(await request(h.app).post('/v/verification-code').send({ identifier: ALICE_EMAIL }), 'request.rate_limited', 'per_ip', 60);
    expectLimited(await sendCode(h, { type: 'phone', value: '+14155550100' }), 'request.rate_limited', 'per_ip', 60);
    expectLimited(await verifyCode(h, ALICE_EMAIL, first.body.verificationRecordId as string, h.sent[0]!.code), 'request.rate_limited', 'per_ip', 60);
    expectLimited(await passwordAttempt(h, PASSWORDS.usr_alice), 'request.rate_limited', 'per_ip', 60);
    expect(h.sent).toHaveLength(1);
  });

  test('codes: a send refused by the per-IP ceiling uses up none of the user limits', async () => {
    const h = await make({ perIp: { limit: 1, windowSeconds: 60 }, codesPerUser: { limit: 5, windowSeconds: 3600 } });
    const other = await make({ perIp: { limit: 100, windowSeconds: 60 }, codesPerUser: { limit: 5, windowSeconds: 3600 } }, {}, { prefix: h.prefix });
    await sendCode(h, ALICE_EMAIL).expect(201);
    for (let i = 0; i < 3; i += 1) expect((await sendCode(h, { type: 'email', value: `alice+${i}@example.com` })).status).toBe(429);
    if (kind === 'redis') {
      // the same user through another instance (sharing the counters) still has 4 of 5 codes this hour
      const res = await sendCode(other, { type: 'phone', value: '+14155550100' });
      expect(res.status).toBe(201);
      expect(res.headers.ratelimit).toContain('"codes_per_user"; r=3;');
    }
  });

  test('SMS: destinations outside the allowed countries are refused before anything is sent', async () => {
    const h = await make({ sms: { allowedCountryCallingCodes: ['44'] } });
    const res = await sendCode(h, { type: 'phone', value: '+14155550100' });
    expect(res.status).toBe(422);
    expect(res.body.code).toBe('verification_code.identifier_not_allowed');
    await sendCode(h, { type: 'phone', value: '+447911123456' }).expect(201);
    await sendCode(h, ALICE_EMAIL).expect(201);
    expect(h.sent.map((m) => m.to)).toEqual(['+447911123456', 'alice@example.com']);
  });

  test('SMS: a cap per number prefix stops pumping across a number range', async () => {
    const h = await make({ sms: { perPrefix: { prefixDigits: 7, limit: 2, windowSeconds: 3600 } } });
    await sendCode(h, { type: 'phone', value: '+14155550100' }).expect(201);
    await sendCode(h, { type: 'phone', value: '+14155550111' }).expect(201);
    const third = await sendCode(h, { type: 'phone', value: '+14155550122' });
    expect(third.status).toBe(422);
    // a counter shared by all users sends no RateLimit headers: they would tell about others' sends
    expect(third.headers.ratelimit ?? '').not.toContain('sms_prefix');
    expect(third.body.code).toBe('verification_code.identifier_not_allowed');
    await sendCode(h, { type: 'phone', value: '+14165550100' }).expect(201); // another prefix
    expect(h.sent).toHaveLength(3);
  });

  if (kind === 'redis') {
    test('two instances sharing one Redis share the counters', async () => {
      const prefix = `shared:${Date.now()}:`;
      const limits = { passwordFailures: { limit: 5, windowSeconds: 60 }, codeResendCooldownSeconds: 60 };
      const a = await make(limits, {}, { prefix });
      const b = await make(limits, {}, { prefix });
      for (let i = 0; i < 5; i += 1) await passwordAttempt(i % 2 === 0 ? a : b, 'wrong').expect(422);
      expect((await passwordAttempt(a, PASSWORDS.usr_alice)).status).toBe(429);
      expect((await passwordAttempt(b, PASSWORDS.usr_alice)).status).toBe(429);
      await sendCode(a, { type: 'phone', value: '+14155550100' }).expect(201);
      expect((await sendCode(b, { type: 'phone', value: '+14155550100' })).status).toBe(429);
      // and a code sent through one instance verifies through the other
      const id = (await sendCode(b, ALICE_EMAIL)).body.verificationRecordId as string;
      await verifyCode(a, ALICE_EMAIL, id, b.sent[b.sent.length - 1]!.code).expect(200);
    });
  }
});

/** Memory counters that all fail with `error()`, as Redis counters do when Redis is gone. */
function failingCounters(error: () => Error): Counters {
  const base = memoryCounters();
  return (name) =>
    new Proxy(base(name), {
      get: (counters, key) => {
        if (key === 'increment') return () => Promise.reject(error());
        const value = Reflect.get(counters, key, counters) as unknown;
        return typeof value === 'function' ? value.bind(counters) : value;
      },
    });
}

// express-rate-limit runs its store calls in an async middleware; on Express 4 nothing would catch a
// rejection there, so these run on both majors (jest.config.js) and fail on an unhandled rejection.
describe('rate-limit counters that fail (passOnStoreError: false)', () => {
  test.each([
    ['an unreachable store: 503 verification.unavailable', () => new StoreUnavailableError(), 503, 'verification.unavailable'],
    ['any other store error: 500 server.internal_error', () => new Error('counter store bug'), 500, 'server.internal_error'],
  ])('%s, JSON, never a pass and never a crash', async (_label, error, status, code) => {
    const unexpected: unknown[] = [];
    const h = await harness('memory', {
      counters: failingCounters(error),
      onUnexpectedError: (caught) => void unexpected.push(caught),
    });
    const answers = [
      await passwordAttempt(h, PASSWORDS.usr_alice),
      await sendCode(h, ALICE_EMAIL),
      await verifyCode(h, ALICE_EMAIL, newRecordId(), '123456'),
    ];
    for (const res of answers) {
      expect(res.status).toBe(status);
      expect(res.body).toEqual({ code, message: expect.any(String) });
    }
    expect(h.sent).toHaveLength(0);
    expect(unexpected).toHaveLength(status === 500 ? 3 : 0);
    await h.close();
  });
});

describe('an attacker holding alice’s token', () => {
  test('is stopped at the documented limits, and the audit stream tells the story without a secret', async () => {
    const events: AuditEvent[] = [];
    const h = await harness('redis', { limits: {}, onEvent: (event) => void events.push(event) });
    const attempts: number[] = [];
    // guessing the password
    for (let i = 0; i < 7; i += 1) attempts.push((await passwordAttempt(h, `guess-${i}`)).status);
    expect(attempts).toEqual([422, 422, 422, 422, 422, 429, 429]);
    expect((await passwordAttempt(h, PASSWORDS.usr_alice)).status).toBe(429);
    // flooding alice's phone
    const floods = [];
    for (let i = 0; i < 3; i += 1) floods.push((await sendCode(h, { type: 'phone', value: '+14155550100' })).status);
    expect(floods).toEqual([201, 429, 429]);
    expect(h.sent).toHaveLength(1);
    const code = h.sent[0]!.code;

    const types = events.map((e) => e.type);
    expect(types.filter((t) => t === 'verification.failed')).toHaveLength(5);
    expect(types.filter((t) => t === 'verification.locked').length).toBeGreaterThanOrEqual(3);
    expect(types.filter((t) => t === 'verification.rate_limited')).toHaveLength(2);
    expect(events.find((e) => e.type === 'verification.created')).toMatchObject({ userId: 'usr_alice', method: 'phone', identifier: '+1***00' });
    const text = JSON.stringify(events);
    expect(text).not.toContain(code);
    expect(text).not.toContain(PASSWORDS.usr_alice);
    expect(text).not.toContain('guess-');
    expect(text).not.toContain('14155550100');
    await h.close();
  });
});
