import express from 'express';
import request from 'supertest';
import { createStepUp, VerificationError } from '../lib/index';
import { bearer, clockedHarness, PASSWORDS, STORE_KINDS, testUsers, UNLIMITED } from './helpers/harness';

describe.each(STORE_KINDS)('requireVerification() (%s store)', (kind) => {
  const setup = clockedHarness(kind);

  const verifyPassword = async (userId: 'usr_alice' | 'usr_bob' = 'usr_alice'): Promise<string> => {
    const res = await request(setup.h.app).post('/v/password/verify').set('Authorization', bearer(userId)).send({ password: PASSWORDS[userId] });
    expect(res.status).toBe(201);
    return res.body.verificationRecordId as string;
  };

  const expectRefusal = (res: request.Response, code: string, requirement = { methods: ['password', 'email', 'phone'], maxAge: 600 }) => {
    expect(res.status).toBe(403);
    expect(res.headers['content-type']).toMatch(/^application\/json/);
    expect(res.body).toEqual({ code, message: expect.any(String), requirement });
  };

  test('passes with a fresh record and sets req.verification', async () => {
    const id = await verifyPassword();
    const res = await request(setup.h.app).get('/reusable').set('Authorization', bearer('usr_alice')).set('Verification-Id', id);
    expect(res.status).toBe(200);
    expect(res.body.verification).toEqual({ source: 'record', id, userId: 'usr_alice', method: 'password', verifiedAt: expect.any(String) });
  });

  test('without a token: 401 with WWW-Authenticate, not 403', async () => {
    const id = await verifyPassword();
    const res = await request(setup.h.app).get('/reusable').set('Verification-Id', id);
    expect(res.status).toBe(401);
    expect(res.headers['www-authenticate']).toMatch(/^Bearer /);
    expect(res.body.code).toBe('auth.unauthorized');
  });

  test('no header: 403 verification.required with the requirement', async () => {
    expectRefusal(await request(setup.h.app).get('/reusable').set('Authorization', bearer('usr_alice')), 'verification.required');
  });

  test.each([
    ['garbage', 'not-a-record'],
    ['well-formed but unknown', 'A'.repeat(32)],
    ['10 000 characters', 'x'.repeat(10_000)],
    ['unicode', 'ü'.repeat(16)],
  ])('a %s id: 403 verification.invalid', async (_label, id) => {
    const res = await request(setup.h.app).get('/reusable').set('Authorization', bearer('usr_alice')).set('Verification-Id', id);
    expectRefusal(res, 'verification.invalid');
  });

  test("another user's record: 403 verification.invalid, the same answer as unknown", async () => {
    const id = await verifyPassword('usr_bob');
    const res = await request(setup.h.app).get('/reusable').set('Authorization', bearer('usr_alice')).set('Verification-Id', id);
    expectRefusal(res, 'verification.invalid');
    // and bob can still use it: the refusal did not consume it
    await request(setup.h.app).post('/single').set('Authorization', bearer('usr_bob')).set('Verification-Id', id).expect(200);
  });

  test('an expired record: 403 verification.invalid', async () => {
    const id = await verifyPassword();
    setup.clock.offset = 601_000; // past the 600 s record TTL
    expectRefusal(
      await request(setup.h.app).get('/reusable').set('Authorization', bearer('usr_alice')).set('Verification-Id', id),
      'verification.invalid',
    );
  });

  test('a record older than maxAge: 403 verification.insufficient, still fine for a laxer route', async () => {
    const id = await verifyPassword();
    setup.clock.offset = 61_000;
    const res = await request(setup.h.app).get('/fresh').set('Authorization', bearer('usr_alice')).set('Verification-Id', id);
    expectRefusal(res, 'verification.insufficient', { methods: ['password', 'email', 'phone'], maxAge: 60 });
    await request(setup.h.app).get('/reusable').set('Authorization', bearer('usr_alice')).set('Verification-Id', id).expect(200);
  });

  test('a method the route does not allow: 403 verification.insufficient', async () => {
    const id = await verifyPassword();
    const res = await request(setup.h.app).get('/codes-only').set('Authorization', bearer('usr_alice')).set('Verification-Id', id);
    expectRefusal(res, 'verification.insufficient', { methods: ['email', 'phone'], maxAge: 600 });
    await request(setup.h.app).get('/password-only').set('Authorization', bearer('usr_alice')).set('Verification-Id', id).expect(200);
  });

  test('a reusable route accepts the same record many times', async () => {
    const id = await verifyPassword();
    for (let i = 0; i < 3; i += 1) {
      await request(setup.h.app).get('/reusable').set('Authorization', bearer('usr_alice')).set('Verification-Id', id).expect(200);
    }
  });

  test('a single-use route accepts a record once, then it is invalid everywhere', async () => {
    const id = await verifyPassword();
    await request(setup.h.app).post('/single').set('Authorization', bearer('usr_alice')).set('Verification-Id', id).expect(200);
    expectRefusal(
      await request(setup.h.app).post('/single').set('Authorization', bearer('usr_alice')).set('Verification-Id', id),
      'verification.invalid',
    );
    expectRefusal(
      await request(setup.h.app).get('/reusable').set('Authorization', bearer('usr_alice')).set('Verification-Id', id),
      'verification.invalid',
    );
  });

  test('of 25 concurrent requests with one single-use record, exactly one passes', async () => {
    const id = await verifyPassword();
    const server = setup.h.app.listen(0);
    try {
      const results = await Promise.all(
        Array.from({ length: 25 }, () =>
          request(server).post('/single').set('Authorization', bearer('usr_alice')).set('Verification-Id', id),
        ),
      );
      const statuses = results.map((r) => r.status);
      expect(statuses.filter((s) => s === 200)).toHaveLength(1);
      expect(statuses.filter((s) => s === 403)).toHaveLength(24);
    } finally {
      server.close();
    }
  });

  test('the header name is configurable', async () => {
    const id = await verifyPassword();
    await request(setup.h.app).get('/custom-header').set('Authorization', bearer('usr_alice')).set('logto-verification-id', id).expect(200);
    const res = await request(setup.h.app).get('/custom-header').set('Authorization', bearer('usr_alice')).set('Verification-Id', id);
    expect(res.body.code).toBe('verification.required');
  });
});

describe('requireVerification() options', () => {
  test('invalid options throw at startup with a clear message', async () => {
    const { createStepUp, jwtAuthenticator } = await import('../lib/index');
    const stepUp = createStepUp({
      authenticate: jwtAuthenticator({ secret: 'k'.repeat(32), algorithms: ['HS256'] }),
      users: { findById: () => null },
    });
    expect(() => stepUp.requireVerification({ methods: [] })).toThrow(/methods/);
    expect(() => stepUp.requireVerification({ methods: ['sms' as never] })).not.toThrow();
    expect(() => stepUp.requireVerification({ methods: ['SMS' as never] })).toThrow(/methods/);
    expect(() => stepUp.requireVerification({ methods: ['x'.repeat(33)] })).toThrow(/methods/);
    expect(() => stepUp.requireVerification({ maxAge: 0 })).toThrow(/maxAge/);
    expect(() => stepUp.requireVerification({ header: 'bad header' })).toThrow(/header/);
  });

  test('a custom authenticate(req) works (e.g. req.user from a session)', async () => {
    const express = (await import('express')).default;
    const { createStepUp } = await import('../lib/index');
    const { testUsers } = await import('./helpers/harness');
    const users = await testUsers();
    const stepUp = createStepUp({
      authenticate: (req) => req.header('x-test-user'),
      users: { findById: (id) => users.get(id) ?? null },
    });
    const app = express();
    app.use('/v', stepUp.router);
    app.get('/guarded', stepUp.requireVerification(), (req, res) => res.json(req.verification));
    const created = await request(app).post('/v/password').set('x-test-user', 'usr_alice').send({ password: PASSWORDS.usr_alice }).expect(201);
    await request(app).get('/guarded').set('x-test-user', 'usr_alice').set('Verification-Id', created.body.verificationRecordId).expect(200);
    await request(app).get('/guarded').set('x-test-user', 'usr_bob').set('Verification-Id', created.body.verificationRecordId).expect(403);
    await request(app).get('/guarded').set('Verification-Id', created.body.verificationRecordId).expect(401);
  });
});

describe('the guard with custom authenticators (sync, async, thenable, throwing)', () => {
  const build = async (authenticate: Parameters<typeof createStepUp>[0]['authenticate']) => {
    const users = await testUsers();
    const stepUp = createStepUp({
      authenticate,
      users: { findById: (id) => users.get(id) ?? null },
      limits: UNLIMITED,
      onWarning: () => undefined,
      onUnexpectedError: () => undefined,
    });
    const app = express();
    app.use('/v', stepUp.router);
    app.get('/g', stepUp.requireVerification(), (req, res) => res.json({ userId: req.verification?.userId }));
    return app;
  };
  const flow = async (app: express.Express) => {
    const made = await request(app).post('/v/password/verify').send({ password: PASSWORDS.usr_alice });
    if (made.status !== 201) return made.status;
    return (await request(app).get('/g').set('Verification-Id', made.body.verificationRecordId)).status;
  };

  test.each([
    ['a sync user id', () => 'usr_alice'],
    ['a sync principal with a session', () => ({ userId: 'usr_alice', sessionId: 's-1' })],
    ['an async principal', async () => ({ userId: 'usr_alice' })],
    ['a thenable', () => ({ then: (resolve: (value: string) => void) => resolve('usr_alice') }) as unknown as string],
  ])('%s passes', async (_label, authenticate) => {
    expect(await flow(await build(authenticate))).toBe(200);
  });

  test.each([
    ['returns null', () => null, 401],
    ['throws a VerificationError', () => {
      throw new VerificationError('auth.unauthorized');
    }, 401],
    ['rejects', async () => {
      throw new Error('directory down');
    }, 500],
    ['throws', () => {
      throw new Error('bug');
    }, 500],
    ['gives an empty session id', () => ({ userId: 'usr_alice', sessionId: '' }), 401],
  ])('an authenticator that %s: JSON %s, never a pass', async (_label, authenticate, status) => {
    const app = await build(authenticate as never);
    const res = await request(app).get('/g').set('Verification-Id', 'A'.repeat(32));
    expect(res.status).toBe(status);
    expect(res.headers['content-type']).toMatch(/^application\/json/);
  });
});
