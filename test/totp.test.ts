import { randomBytes } from 'node:crypto';
import express from 'express';
import jwt from 'jsonwebtoken';
import { Secret, URI } from 'otpauth';
import request from 'supertest';
import { createStepUp, jwtAuthenticator, MemoryStore, RedisStore, type AuditEvent, type StepUp, type StepUpOptions } from '../lib/index';
import { SecretSealer } from '../lib/totp/sealed-secret';
import { bearer, dumpKeys, harness, JWT_SECRET, STORE_KINDS, testRedisClient, UNLIMITED, type StoreKind } from './helpers/harness';
import { midStep, TOTP_STEP_MS, TOTP_USER_PASSWORD, totpAccounts, totpCodeAt } from './helpers/totp';
import type Redis from 'ioredis';

const SERVER_SECRET = randomBytes(32);
const STEP = TOTP_STEP_MS;

interface Setup {
  app: express.Express;
  stepUp: StepUp;
  accounts: ReturnType<typeof totpAccounts>;
  clock: { now: number };
  events: AuditEvent[];
  redis: Redis | undefined;
  prefix: string;
  close(): Promise<void>;
}

/** An app with TOTP on, on the chosen store, with a clock the tests set (at the middle of the current step by default). */
async function setup(kind: StoreKind, options: Partial<StepUpOptions> = {}): Promise<Setup> {
  const accounts = totpAccounts();
  const clock = { now: midStep() };
  const now = () => clock.now;
  const events: AuditEvent[] = [];
  const prefix = `totp:${randomBytes(6).toString('hex')}:`;
  const redis = kind === 'redis' ? await testRedisClient() : undefined;
  const stepUp = createStepUp({
    authenticate: jwtAuthenticator({ secret: JWT_SECRET, algorithms: ['HS256'] }),
    users: accounts.users,
    store: redis ? new RedisStore({ client: redis, prefix }) : new MemoryStore({ now }),
    secret: SERVER_SECRET,
    limits: UNLIMITED,
    // Longer than the enrollment's 10 minutes, so that a live record can be too old for it.
    recordTtlSeconds: 1200,
    totp: { issuer: 'Example Bank' },
    now,
    onEvent: (event) => void events.push(event),
    ...options,
  });
  const app = express();
  app.use('/v', stepUp.router);
  app.get('/any', stepUp.requireVerification(), (req, res) => res.json({ verification: req.verification }));
  app.get('/totp-only', stepUp.requireVerification({ methods: ['totp'] }), (req, res) => res.json({ verification: req.verification }));
  return { app, stepUp, accounts, clock, events, redis, prefix, close: async () => void (await redis?.quit()) };
}

const tokenWithSession = (userId: string, sid: string) => `Bearer ${jwt.sign({ sub: userId, sid }, JWT_SECRET, { algorithm: 'HS256', expiresIn: 300 })}`;

/** A fresh password record of the user (an identity record, any method will do for enrolling). */
async function passwordRecord(s: Setup, userId: string, auth = bearer(userId), body: object = {}): Promise<string> {
  const res = await request(s.app).post('/v/password/verify').set('Authorization', auth).send({ password: TOTP_USER_PASSWORD, ...body }).expect(201);
  return res.body.verificationRecordId as string;
}

async function startEnrollment(s: Setup, userId: string, auth = bearer(userId)): Promise<{ secret: string; otpauthUri: string }> {
  const recordId = await passwordRecord(s, userId, auth);
  const res = await request(s.app).post('/v/totp/enrollment').set('Authorization', auth).set('Verification-Id', recordId).expect(200);
  return res.body as { secret: string; otpauthUri: string };
}

/** Enrolls TOTP for the user (start and confirm with the current code); its secret. */
async function enroll(s: Setup, userId: string): Promise<string> {
  const { secret } = await startEnrollment(s, userId);
  await request(s.app).post('/v/totp/enrollment/verify').set('Authorization', bearer(userId)).send({ code: totpCodeAt(secret, s.clock.now) }).expect(204);
  return secret;
}

const verifyTotp = (s: Setup, userId: string, code: string, auth = bearer(userId)) =>
  request(s.app).post('/v/totp/verify').set('Authorization', auth).send({ code });

/** A 6-digit code that is none of the window's codes at `at`. */
function wrongCodeFor(secret: string, at: number): string {
  const window = [-1, 0, 1].map((offset) => totpCodeAt(secret, at + offset * STEP));
  for (let n = 0; ; n += 1) {
    const candidate = String(n).padStart(6, '0');
    if (!window.includes(candidate)) return candidate;
  }
}

describe.each(STORE_KINDS)('TOTP (%s store)', (kind) => {
  let s: Setup;
  beforeAll(async () => {
    s = await setup(kind);
  });
  afterAll(() => s.close());
  beforeEach(() => {
    s.clock.now = midStep();
  });

  describe('POST /totp/enrollment needs a fresh identity record, and uses it up', () => {
    test('without the header: 403 verification.required with the requirement', async () => {
      const user = s.accounts.add();
      const res = await request(s.app).post('/v/totp/enrollment').set('Authorization', bearer(user));
      expect(res.status).toBe(403);
      expect(res.headers['cache-control']).toBe('no-store');
      // A password and an email but no sender here, and no TOTP yet: only the password is offered.
      expect(res.body).toEqual({ code: 'verification.required', message: expect.any(String), requirement: { methods: ['password'], maxAge: 600 } });
    });

    test('an unknown, another user\'s or a used record: 403 verification.invalid', async () => {
      const user = s.accounts.add();
      const other = s.accounts.add();
      const enrollWith = (id: string) => request(s.app).post('/v/totp/enrollment').set('Authorization', bearer(user)).set('Verification-Id', id);
      expect((await enrollWith('A'.repeat(32))).body.code).toBe('verification.invalid');
      expect((await enrollWith(await passwordRecord(s, other))).body.code).toBe('verification.invalid');
      const recordId = await passwordRecord(s, user);
      expect((await enrollWith(recordId)).status).toBe(200);
      const again = await enrollWith(recordId);
      expect(again.status).toBe(403);
      expect(again.body.code).toBe('verification.invalid');
      // And the record no longer passes a guard either: enrolling used it up.
      expect((await request(s.app).get('/any').set('Authorization', bearer(user)).set('Verification-Id', recordId)).body.code).toBe('verification.invalid');
    });

    test('a record verified more than 10 minutes ago, or bound to an action: 403 verification.insufficient', async () => {
      const user = s.accounts.add();
      const stale = await passwordRecord(s, user);
      s.clock.now += 601_000;
      const res = await request(s.app).post('/v/totp/enrollment').set('Authorization', bearer(user)).set('Verification-Id', stale);
      expect(res.status).toBe(403);
      expect(res.body).toMatchObject({ code: 'verification.insufficient', requirement: { maxAge: 600 } });
      const bound = await passwordRecord(s, user, bearer(user), { action: { type: 'transfer', amount: '1.00' } });
      const boundRes = await request(s.app).post('/v/totp/enrollment').set('Authorization', bearer(user)).set('Verification-Id', bound);
      expect(boundRes.body.code).toBe('verification.insufficient');
    });

    test('takes no body: a non-empty one is 400 request.invalid_input, and leaves the record unused', async () => {
      const user = s.accounts.add();
      const recordId = await passwordRecord(s, user);
      const enrollWith = (body?: object) => {
        const req = request(s.app).post('/v/totp/enrollment').set('Authorization', bearer(user)).set('Verification-Id', recordId);
        return body === undefined ? req : req.send(body);
      };
      const refused = await enrollWith({ issuer: 'Evil Corp' });
      expect(refused.status).toBe(400);
      expect(refused.body.code).toBe('request.invalid_input');
      expect((await enrollWith()).status).toBe(200);
    });

    test('a user with no method at all: 403 verification.no_available_method', async () => {
      const res = await request(s.app).post('/v/totp/enrollment').set('Authorization', bearer('usr_ghost'));
      expect(res.status).toBe(403);
      expect(res.body).toMatchObject({ code: 'verification.no_available_method', requirement: { methods: [] } });
    });

    test('answers a new 160-bit base32 secret and its otpauth URI (issuer, the user\'s email, SHA1, 6 digits, 30 s)', async () => {
      const user = s.accounts.add();
      const { secret, otpauthUri } = await startEnrollment(s, user);
      expect(secret).toMatch(/^[A-Z2-7]{32}$/);
      expect(Secret.fromBase32(secret).bytes).toHaveLength(20);
      const parsed = URI.parse(otpauthUri);
      expect(parsed).toMatchObject({ issuer: 'Example Bank', label: `${user}@example.com`, algorithm: 'SHA1', digits: 6, period: 30 });
      expect(parsed.secret.base32).toBe(secret);
      expect(otpauthUri).toMatch(/^otpauth:\/\/totp\/Example%20Bank:/);
      // A user without an email is labelled by its id; each enrollment draws a new secret.
      const noEmail = s.accounts.add({ email: null });
      const second = await startEnrollment(s, noEmail);
      expect(URI.parse(second.otpauthUri).label).toBe(noEmail);
      expect(second.secret).not.toBe(secret);
      expect(s.events).toContainEqual(expect.objectContaining({ type: 'record.consumed', userId: user, method: 'password' }));
    });
  });

  describe('POST /totp/enrollment/verify confirms with a first code', () => {
    test('the right code: 204, and the app saves the secret sealed (never in clear), which then verifies', async () => {
      const user = s.accounts.add();
      const { secret } = await startEnrollment(s, user);
      const res = await request(s.app).post('/v/totp/enrollment/verify').set('Authorization', bearer(user)).send({ code: totpCodeAt(secret, s.clock.now) });
      expect(res.status).toBe(204);
      expect(res.text).toBe('');
      expect(res.headers['cache-control']).toBe('no-store');
      const saved = s.accounts.saved.filter((entry) => entry.userId === user);
      expect(saved).toHaveLength(1);
      const { sealedSecret } = saved[0]!;
      const raw = Buffer.from(Secret.fromBase32(secret).bytes);
      expect(sealedSecret).toMatch(/^v1\.[A-Za-z0-9_-]+$/);
      for (const plain of [secret, secret.toLowerCase(), raw.toString('hex'), raw.toString('base64'), raw.toString('base64url')]) {
        expect(sealedSecret).not.toContain(plain);
      }
      // It is this secret, sealed under the server secret for this user.
      expect(new SecretSealer(SERVER_SECRET).open(user, sealedSecret)).toEqual(raw);
      expect(s.events).toContainEqual(expect.objectContaining({ type: 'factor.enrolled', userId: user, method: 'totp' }));
      // The enrollment is over: confirming again finds none.
      s.clock.now += STEP;
      const again = await request(s.app).post('/v/totp/enrollment/verify').set('Authorization', bearer(user)).send({ code: totpCodeAt(secret, s.clock.now) });
      expect(again.status).toBe(404);
      expect(again.body.code).toBe('verification_record.not_found');
      expect((await verifyTotp(s, user, totpCodeAt(secret, s.clock.now))).status).toBe(201);
    });

    test('a wrong code: 422 verification.invalid_credentials, and the enrollment is kept for another try', async () => {
      const user = s.accounts.add();
      const { secret } = await startEnrollment(s, user);
      const wrong = await request(s.app).post('/v/totp/enrollment/verify').set('Authorization', bearer(user)).send({ code: wrongCodeFor(secret, s.clock.now) });
      expect(wrong.status).toBe(422);
      expect(wrong.body).toEqual({ code: 'verification.invalid_credentials', message: 'The code is not correct.', remainingAttempts: expect.any(Number) });
      expect(s.accounts.saved.some((entry) => entry.userId === user)).toBe(false);
      await request(s.app).post('/v/totp/enrollment/verify').set('Authorization', bearer(user)).send({ code: totpCodeAt(secret, s.clock.now) }).expect(204);
    });

    test('no pending enrollment, an expired one, or one of another session: 404 verification_record.not_found', async () => {
      const user = s.accounts.add();
      const none = await request(s.app).post('/v/totp/enrollment/verify').set('Authorization', bearer(user)).send({ code: '123456' });
      expect(none.status).toBe(404);
      expect(none.body.code).toBe('verification_record.not_found');

      const inSession = tokenWithSession(user, 'sid-1');
      const { secret } = await startEnrollment(s, user, inSession);
      const code = totpCodeAt(secret, s.clock.now);
      for (const auth of [tokenWithSession(user, 'sid-2'), bearer(user)]) {
        expect((await request(s.app).post('/v/totp/enrollment/verify').set('Authorization', auth).send({ code })).status).toBe(404);
      }
      await request(s.app).post('/v/totp/enrollment/verify').set('Authorization', inSession).send({ code }).expect(204);

      if (kind === 'memory') {
        // 10 minutes later the pending enrollment is gone (Redis expires it on its own clock).
        const late = s.accounts.add();
        const started = await startEnrollment(s, late);
        s.clock.now += 10 * 60_000 + STEP;
        const res = await request(s.app).post('/v/totp/enrollment/verify').set('Authorization', bearer(late)).send({ code: totpCodeAt(started.secret, s.clock.now) });
        expect(res.status).toBe(404);
      }
    });

    test('concurrent confirmations (codes of two steps of the window): exactly one enrolls, the other finds no enrollment', async () => {
      for (let round = 0; round < 5; round += 1) {
        const user = s.accounts.add();
        const { secret } = await startEnrollment(s, user);
        const confirm = (at: number) => request(s.app).post('/v/totp/enrollment/verify').set('Authorization', bearer(user)).send({ code: totpCodeAt(secret, at) });
        s.events.length = 0;
        const answers = await Promise.all([confirm(s.clock.now), confirm(s.clock.now + STEP)]);
        expect(answers.map((res) => res.status).sort()).toEqual([204, 404]);
        expect(s.accounts.saved.filter((entry) => entry.userId === user)).toHaveLength(1);
        await new Promise((resolve) => setImmediate(resolve));
        expect(s.events.filter((event) => event.type === 'factor.enrolled' && event.userId === user)).toHaveLength(1);
      }
    });

    test('stepUp.revokeAll ends a pending enrollment', async () => {
      const user = s.accounts.add();
      const { secret } = await startEnrollment(s, user);
      await s.stepUp.revokeAll(user);
      const res = await request(s.app).post('/v/totp/enrollment/verify').set('Authorization', bearer(user)).send({ code: totpCodeAt(secret, s.clock.now) });
      expect(res.status).toBe(404);
    });

    test('a code that is not 6 digits: 400 request.invalid_input naming the field', async () => {
      const user = s.accounts.add();
      for (const code of ['12345', '1234567', '123 456', '12345a', '１２３４５６', 123456]) {
        const res = await request(s.app).post('/v/totp/enrollment/verify').set('Authorization', bearer(user)).send({ code });
        expect([code, res.status, res.body.code, res.body.field]).toEqual([code, 400, 'request.invalid_input', 'code']);
      }
    });
  });

  describe('POST /totp/verify', () => {
    test('the right code: 201 with a record of method totp that passes requireVerification({ methods: [\'totp\'] })', async () => {
      const user = s.accounts.add();
      const secret = await enroll(s, user);
      s.clock.now += STEP;
      const res = await verifyTotp(s, user, totpCodeAt(secret, s.clock.now));
      expect(res.status).toBe(201);
      expect(res.headers['cache-control']).toBe('no-store');
      expect(res.body).toEqual({ verificationRecordId: expect.stringMatching(/^[A-Za-z0-9_-]{32}$/), expiresAt: new Date(s.clock.now + 1_200_000).toISOString() });
      const guarded = await request(s.app).get('/totp-only').set('Authorization', bearer(user)).set('Verification-Id', res.body.verificationRecordId);
      expect(guarded.status).toBe(200);
      expect(guarded.body.verification).toMatchObject({ userId: user, method: 'totp', source: 'record' });
      expect(s.events).toContainEqual(expect.objectContaining({ type: 'verification.created', userId: user, method: 'totp' }));
    });

    test('a guard refusal offers totp only to users who enrolled it', async () => {
      const enrolled = s.accounts.add();
      await enroll(s, enrolled);
      const refused = await request(s.app).get('/totp-only').set('Authorization', bearer(enrolled));
      expect(refused.body).toMatchObject({ code: 'verification.required', requirement: { methods: ['totp'] } });
      const other = await request(s.app).get('/totp-only').set('Authorization', bearer(s.accounts.add()));
      expect(other.body).toMatchObject({ code: 'verification.no_available_method', requirement: { methods: [] } });
    });

    test('a code is accepted once: the same code again, or the confirming code, is refused', async () => {
      const user = s.accounts.add();
      const secret = await enroll(s, user);
      // The code that confirmed the enrollment is used: it does not verify in the same step.
      const confirming = totpCodeAt(secret, s.clock.now);
      expect((await verifyTotp(s, user, confirming)).body.code).toBe('verification.invalid_credentials');
      s.clock.now += STEP;
      const code = totpCodeAt(secret, s.clock.now);
      expect((await verifyTotp(s, user, code)).status).toBe(201);
      const replay = await verifyTotp(s, user, code);
      expect(replay.status).toBe(422);
      expect(replay.body).toEqual({ code: 'verification.invalid_credentials', message: 'The code is not correct.', remainingAttempts: expect.any(Number) });
      // Concurrent requests with one code: exactly one passes.
      s.clock.now += STEP;
      const next = totpCodeAt(secret, s.clock.now);
      const statuses = (await Promise.all([1, 2, 3, 4].map(() => verifyTotp(s, user, next)))).map((r) => r.status).sort();
      expect(statuses).toEqual([201, 422, 422, 422]);
    });

    test('a code one step early or late is accepted; two steps off is refused', async () => {
      const user = s.accounts.add();
      const secret = await enroll(s, user);
      const enrolledAt = s.clock.now;
      s.clock.now = enrolledAt + 2 * STEP;
      expect((await verifyTotp(s, user, totpCodeAt(secret, s.clock.now - STEP))).status).toBe(201);
      expect((await verifyTotp(s, user, totpCodeAt(secret, s.clock.now + STEP))).status).toBe(201);
      s.clock.now = enrolledAt + 10 * STEP;
      expect((await verifyTotp(s, user, totpCodeAt(secret, s.clock.now - 2 * STEP))).status).toBe(422);
      expect((await verifyTotp(s, user, totpCodeAt(secret, s.clock.now + 2 * STEP))).status).toBe(422);
      expect((await verifyTotp(s, user, totpCodeAt(secret, s.clock.now))).status).toBe(201);
    });

    test('once a later step is used, an earlier one is refused (each step once, in order)', async () => {
      const user = s.accounts.add();
      const secret = await enroll(s, user);
      s.clock.now += 3 * STEP;
      expect((await verifyTotp(s, user, totpCodeAt(secret, s.clock.now + STEP))).status).toBe(201);
      expect((await verifyTotp(s, user, totpCodeAt(secret, s.clock.now))).status).toBe(422);
    });

    test('a user without TOTP gets the same answer as a wrong code', async () => {
      const enrolled = s.accounts.add();
      const secret = await enroll(s, enrolled);
      const without = s.accounts.add();
      const wrong = await verifyTotp(s, enrolled, wrongCodeFor(secret, s.clock.now));
      const none = await verifyTotp(s, without, totpCodeAt(secret, s.clock.now));
      expect(none.status).toBe(422);
      expect(none.body).toEqual(wrong.body);
      expect((await verifyTotp(s, 'usr_ghost', '123456')).body).toEqual({ ...wrong.body, remainingAttempts: expect.any(Number) });
    });

    test('a sealed secret that was tampered with, or copied from another user, does not verify', async () => {
      const alice = s.accounts.add();
      const bob = s.accounts.add();
      const aliceSecret = await enroll(s, alice);
      const sealed = s.accounts.accounts.get(alice)!.totpSecret as string;
      s.clock.now += STEP;
      // Bob's row gets Alice's sealed secret: it does not open for Bob.
      s.accounts.accounts.get(bob)!.totpSecret = sealed;
      expect((await verifyTotp(s, bob, totpCodeAt(aliceSecret, s.clock.now))).status).toBe(422);
      // One character of Alice's changed: it no longer opens.
      const last = sealed.slice(-1) === 'A' ? 'B' : 'A';
      s.accounts.accounts.get(alice)!.totpSecret = sealed.slice(0, -1) + last;
      expect((await verifyTotp(s, alice, totpCodeAt(aliceSecret, s.clock.now))).status).toBe(422);
      s.accounts.accounts.get(alice)!.totpSecret = sealed;
      expect((await verifyTotp(s, alice, totpCodeAt(aliceSecret, s.clock.now))).status).toBe(201);
    });

    test('with an action: the record satisfies only a guard asking for that action', async () => {
      const user = s.accounts.add();
      const secret = await enroll(s, user);
      s.clock.now += STEP;
      const res = await request(s.app)
        .post('/v/totp/verify')
        .set('Authorization', bearer(user))
        .send({ code: totpCodeAt(secret, s.clock.now), action: { type: 'transfer', amount: '250.00' } })
        .expect(201);
      const plain = await request(s.app).get('/totp-only').set('Authorization', bearer(user)).set('Verification-Id', res.body.verificationRecordId);
      expect(plain.body.code).toBe('verification.insufficient');
    });
  });

  if (kind === 'redis') {
    test('in Redis nothing holds the secret in clear (pending or confirmed), every key has a TTL, and a revocation outlives the enrollment', async () => {
      const user = s.accounts.add();
      const { secret } = await startEnrollment(s, user);
      const raw = Buffer.from(Secret.fromBase32(secret).bytes);
      const plainForms = [secret, secret.toLowerCase(), raw.toString('hex'), raw.toString('base64'), raw.toString('base64url'), raw.toString('latin1')];
      const expectNoSecret = async () => {
        const keys = await dumpKeys(s.redis!, `${s.prefix}*`);
        expect(keys.length).toBeGreaterThan(0);
        for (const { key, pttl, text } of keys) {
          expect(pttl).toBeGreaterThan(0);
          for (const plain of plainForms) expect(`${key} ${text}`).not.toContain(plain);
        }
        return keys;
      };
      const pending = await expectNoSecret();
      expect(pending.some(({ pttl }) => pttl > 9 * 60_000)).toBe(true);
      await request(s.app).post('/v/totp/enrollment/verify').set('Authorization', bearer(user)).send({ code: totpCodeAt(secret, s.clock.now) }).expect(204);
      await expectNoSecret();

      // Short codes and records: revocation must still cover a 10-minute enrollment.
      const short = await setup('redis', { codeTtlSeconds: 60, recordTtlSeconds: 60 });
      try {
        await short.stepUp.revokeAll(user);
        const marks = await dumpKeys(short.redis!, `${short.prefix}*`);
        expect(marks).toHaveLength(1);
        expect(marks[0]!.pttl).toBeGreaterThan(9.5 * 60_000);
      } finally {
        await short.close();
      }
    });
  }
});

describe.each(STORE_KINDS)('enrollWith: which fresh records may enroll a factor (%s store)', (kind) => {
  /** A verified identity record of `method`, made just now for `userId`, saved straight into the store. */
  const recordOf = async (s: Setup, userId: string, method: string) => {
    const id = randomBytes(24).toString('base64url');
    const at = s.clock.now;
    await s.stepUp.store.create({ id, userId, status: 'verified', method, purpose: 'identity', createdAt: at, verifiedAt: at, expiresAt: at + 600_000 });
    return id;
  };
  const enrollWithRecord = (s: Setup, userId: string, recordId: string) =>
    request(s.app).post('/v/totp/enrollment').set('Authorization', bearer(userId)).set('Verification-Id', recordId);

  test('by default (the contract) an email record enrolls', async () => {
    const s = await setup(kind);
    try {
      const user = s.accounts.add();
      expect((await enrollWithRecord(s, user, await recordOf(s, user, 'email'))).status).toBe(200);
    } finally {
      await s.close();
    }
  });

  test("narrowed to ['password', 'passkey', 'totp']: an email or SMS record is refused (and left unused), a password record enrolls", async () => {
    const s = await setup(kind, { enrollWith: ['password', 'passkey', 'totp'] });
    try {
      const user = s.accounts.add();
      const email = await recordOf(s, user, 'email');
      const refused = await enrollWithRecord(s, user, email);
      expect(refused.status).toBe(403);
      expect(refused.body).toEqual({ code: 'verification.insufficient', message: expect.any(String), requirement: { methods: ['password'], maxAge: 600 } });
      expect(await s.stepUp.store.get(user, email)).not.toBeNull();
      expect((await enrollWithRecord(s, user, await recordOf(s, user, 'phone'))).status).toBe(403);
      expect((await enrollWithRecord(s, user, await passwordRecord(s, user))).status).toBe(200);
    } finally {
      await s.close();
    }
  });

  test('a user with none of those methods is told so: 403 verification.no_available_method', async () => {
    const s = await setup(kind, { enrollWith: ['passkey', 'totp'] });
    try {
      const user = s.accounts.add();
      const res = await enrollWithRecord(s, user, await recordOf(s, user, 'email'));
      expect(res.body.code).toBe('verification.no_available_method');
    } finally {
      await s.close();
    }
  });

  test('an invalid list is refused at startup', () => {
    for (const enrollWith of [[], ['Email'], 'password']) {
      expect(() =>
        createStepUp({ authenticate: () => 'u', users: { findById: () => null }, enrollWith: enrollWith as never, onWarning: () => undefined }),
      ).toThrow(expect.objectContaining({ code: 'ERR_STEP_UP_INVALID_OPTION' }));
    }
  });
});

describe('TOTP shares the password failure budget', () => {
  test.each(STORE_KINDS)('wrong TOTP codes and wrong passwords count together, then even right ones get 429 (%s)', async (kind) => {
    const s = await setup(kind, { limits: { ...UNLIMITED, passwordFailures: { limit: 3, windowSeconds: 60 } } });
    const user = s.accounts.add();
    const secret = await enroll(s, user);
    s.clock.now += STEP;
    const wrongPassword = () => request(s.app).post('/v/password/verify').set('Authorization', bearer(user)).send({ password: 'wrong' });
    expect((await wrongPassword()).body.remainingAttempts).toBe(2);
    const wrongCode = await verifyTotp(s, user, wrongCodeFor(secret, s.clock.now));
    expect(wrongCode.body).toMatchObject({ code: 'verification.invalid_credentials', remainingAttempts: 1 });
    const wrongConfirm = await request(s.app).post('/v/totp/enrollment/verify').set('Authorization', bearer(user)).send({ code: '000000' });
    expect(wrongConfirm.status).toBe(404); // no pending enrollment: counted too
    const right = await verifyTotp(s, user, totpCodeAt(secret, s.clock.now));
    expect(right.status).toBe(429);
    expect(right.body.code).toBe('verification.too_many_attempts');
    expect(right.headers['retry-after']).toBeDefined();
    expect((await request(s.app).post('/v/password/verify').set('Authorization', bearer(user)).send({ password: TOTP_USER_PASSWORD })).status).toBe(429);
    await s.close();
  });

  test('a right code gives its slot back', async () => {
    const s = await setup('memory', { limits: { ...UNLIMITED, passwordFailures: { limit: 2, windowSeconds: 60 } } });
    const user = s.accounts.add();
    const secret = await enroll(s, user);
    for (let i = 1; i <= 4; i += 1) {
      s.clock.now += STEP;
      expect((await verifyTotp(s, user, totpCodeAt(secret, s.clock.now))).status).toBe(201);
    }
    await s.close();
  });
});

describe('TOTP off', () => {
  test('without the totp option the endpoints do not exist: 404 request.not_found', async () => {
    const h = await harness('memory');
    for (const path of ['/v/totp/enrollment', '/v/totp/enrollment/verify', '/v/totp/verify']) {
      const res = await request(h.app).post(path).set('Authorization', bearer('usr_alice')).send({ code: '123456' });
      expect([path, res.status, res.body.code]).toEqual([path, 404, 'request.not_found']);
    }
    await h.close();
  });

  test('the totp option is checked at startup', () => {
    const base = { authenticate: () => null, users: { findById: () => null, saveTotpSecret: () => undefined } };
    const codeOf = (options: object) => {
      try {
        createStepUp({ ...base, ...options } as StepUpOptions);
        return 'ok';
      } catch (error) {
        return (error as { code?: string }).code;
      }
    };
    expect(codeOf({ totp: { issuer: 'Example Bank' } })).toBe('ok');
    expect(codeOf({ totp: { issuer: 'Example Bank', digits: 8 } })).toBe('ERR_STEP_UP_UNKNOWN_OPTION');
    for (const issuer of [undefined, '', '   ', 'a:b', 'x'.repeat(65), 'line\nbreak', 42]) {
      expect([issuer, codeOf({ totp: { issuer } })]).toEqual([issuer, 'ERR_STEP_UP_INVALID_OPTION']);
    }
    expect(codeOf({ totp: 'Example Bank' })).toBe('ERR_STEP_UP_INVALID_OPTION');
    expect(codeOf({ totp: null })).toBe('ERR_STEP_UP_INVALID_OPTION');
    expect(codeOf({ users: { findById: () => null }, totp: { issuer: 'Example Bank' } })).toBe('ERR_STEP_UP_MISSING_OPTION');
  });
});
