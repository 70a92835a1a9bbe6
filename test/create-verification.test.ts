/**
 * `stepUp.createVerification(req, { method, action? })`: records of the app's own methods (an SSO
 * re-login, a hardware token), on both stores.
 */
import express from 'express';
import request from 'supertest';
import { asyncHandler, jsonErrorHandler, StepUpConfigError, StoreUnavailableError, VerificationError, type AuditEvent } from '../lib/index';
import { STORE_KINDS } from './helpers/harness';
import { authFor, echoVerification, stepUpApp, type StepUpApp } from './helpers/step-up-app';

const USERS = [
  // A password on file (never checked here), an email without a sender to reach it, and SSO.
  { id: 'usr_alice', passwordHash: '$2b$10$unused', email: 'alice@example.com', methods: ['sso'] },
  { id: 'usr_bob', methods: ['sso'] },
];
const TRANSFER = { type: 'transfer', amount: '250.00', payee: 'NL91ABNA0417164300' };

/** The app's routes: a "return from the SSO re-login" that makes the record, and guarded routes. */
function addRoutes({ app, stepUp }: StepUpApp, caught: unknown[] = []): void {
  app.post(
    '/sso/return',
    express.json(),
    asyncHandler(async (req, res) => {
      try {
        res.status(201).json(await stepUp.createVerification(req, { method: 'sso', action: req.body.action }));
      } catch (error) {
        caught.push(error);
        throw error;
      }
    }),
  );
  app.get('/sso-only', stepUp.requireVerification({ methods: ['sso'] }), echoVerification);
  app.get('/sso-or-password', stepUp.requireVerification({ methods: ['sso', 'password'] }), echoVerification);
  app.get('/default', stepUp.requireVerification(), echoVerification);
  app.post(
    '/transfer',
    express.json(),
    stepUp.requireVerification({ methods: ['sso'], action: (req) => ({ type: 'transfer', amount: req.body.amount, payee: req.body.payee }) }),
    echoVerification,
  );
  app.use(jsonErrorHandler());
}

describe.each(STORE_KINDS)('createVerification (%s store)', (kind) => {
  let s: StepUpApp;
  const events: AuditEvent[] = [];
  const now = { offset: 0 };
  beforeAll(async () => {
    s = await stepUpApp(kind, USERS, { now: () => Date.now() + now.offset, onEvent: (event) => void events.push(event) });
    addRoutes(s);
  });
  afterAll(() => s.close());
  afterEach(() => {
    now.offset = 0;
  });

  const created = async (auth: string, action?: object): Promise<string> => {
    const res = await request(s.app).post('/sso/return').set('Authorization', auth).send(action ? { action } : {});
    expect(res.status).toBe(201);
    return res.body.verificationRecordId as string;
  };
  const guarded = (path: string, auth: string, id: string) => request(s.app).get(path).set('Authorization', auth).set('Verification-Id', id);

  test('resolves { verificationRecordId, expiresAt } like the endpoints; the record passes a route that lists the method', async () => {
    const before = Date.now();
    const res = await request(s.app).post('/sso/return').set('Authorization', authFor('usr_alice')).send({});
    expect(res.status).toBe(201);
    expect(Object.keys(res.body).sort()).toEqual(['expiresAt', 'verificationRecordId']);
    expect(res.body.verificationRecordId).toMatch(/^[A-Za-z0-9_-]{32}$/);
    const expiresAt = Date.parse(res.body.expiresAt);
    expect(new Date(expiresAt).toISOString()).toBe(res.body.expiresAt);
    expect(expiresAt).toBeGreaterThanOrEqual(before + 600_000);
    expect(expiresAt).toBeLessThanOrEqual(Date.now() + 600_000);

    for (const path of ['/sso-only', '/sso-or-password']) {
      const passed = await guarded(path, authFor('usr_alice'), res.body.verificationRecordId);
      expect(passed.status).toBe(200);
      expect(passed.body.verification).toEqual({
        source: 'record',
        id: res.body.verificationRecordId,
        userId: 'usr_alice',
        method: 'sso',
        verifiedAt: expect.any(String),
      });
    }
  });

  test('the default guard (built-in methods only) refuses it: 403 verification.insufficient', async () => {
    const id = await created(authFor('usr_alice'));
    const res = await guarded('/default', authFor('usr_alice'), id);
    expect(res.status).toBe(403);
    expect(res.body.code).toBe('verification.insufficient');
    expect(res.body.requirement.methods).toEqual(['password']);
  });

  test('it lives recordTtlSeconds: expired, it is verification.invalid', async () => {
    const id = await created(authFor('usr_alice'));
    now.offset = 601_000;
    expect((await guarded('/sso-only', authFor('usr_alice'), id)).body.code).toBe('verification.invalid');
  });

  test("another user's request cannot use it", async () => {
    const id = await created(authFor('usr_alice'));
    expect((await guarded('/sso-only', authFor('usr_bob'), id)).body.code).toBe('verification.invalid');
    await guarded('/sso-only', authFor('usr_alice'), id).expect(200);
  });

  test('it is bound to the session of the request that made it', async () => {
    const id = await created(authFor('usr_alice', 'session-1'));
    const elsewhere = await guarded('/sso-only', authFor('usr_alice', 'session-2'), id);
    expect(elsewhere.status).toBe(403);
    expect(elsewhere.body.code).toBe('verification.invalid');
    await guarded('/sso-only', authFor('usr_alice', 'session-1'), id).expect(200);
  });

  test('with an action it passes only a guard asking for exactly that action', async () => {
    const auth = authFor('usr_alice');
    const bound = await created(auth, TRANSFER);
    const transfer = (body: object, id: string) => request(s.app).post('/transfer').set('Authorization', auth).set('Verification-Id', id).send(body);
    const other = await transfer({ amount: '999.00', payee: TRANSFER.payee }, bound);
    expect(other.status).toBe(403);
    expect(other.body.code).toBe('verification.insufficient');
    expect((await guarded('/sso-only', auth, bound)).body.code).toBe('verification.insufficient');
    const passed = await transfer({ amount: '250.00', payee: TRANSFER.payee }, bound);
    expect(passed.status).toBe(200);
    expect(passed.body.verification.action).toEqual(TRANSFER);
    // and a record without an action does not pass the transfer
    const unbound = await created(auth);
    expect((await transfer({ amount: '250.00', payee: TRANSFER.payee }, unbound)).body.code).toBe('verification.insufficient');
  });

  test.each([
    ['a type with capitals', { type: 'Transfer' }],
    ['a nested object', { type: 'transfer', payee: { iban: 'x' } }],
    ['no type', { amount: 1 }],
    ['17 fields', { type: 'transfer', ...Object.fromEntries(Array.from({ length: 17 }, (_, i) => [`f${i}`, i])) }],
  ])('an invalid action (%s): 400 request.invalid_input naming the field, no record made', async (_label, action) => {
    events.length = 0;
    const res = await request(s.app).post('/sso/return').set('Authorization', authFor('usr_alice')).send({ action });
    expect(res.status).toBe(400);
    expect(res.body).toEqual({ code: 'request.invalid_input', message: expect.any(String), field: 'action' });
    await new Promise((resolve) => setImmediate(resolve));
    expect(events).toEqual([]);
  });

  test('an unauthenticated request: rejects with 401 auth.unauthorized (WWW-Authenticate)', async () => {
    const caught: unknown[] = [];
    const bare = await stepUpApp(kind, USERS);
    addRoutes(bare, caught);
    try {
      const res = await request(bare.app).post('/sso/return').send({});
      expect(res.status).toBe(401);
      expect(res.headers['www-authenticate']).toMatch(/^Bearer /);
      expect(res.body.code).toBe('auth.unauthorized');
      expect(caught).toHaveLength(1);
      expect(caught[0]).toBeInstanceOf(VerificationError);
    } finally {
      await bare.close();
    }
  });

  test("an audit event verification.created names the method and the record's hash, never its id", async () => {
    events.length = 0;
    const id = await created(authFor('usr_bob'));
    await new Promise((resolve) => setImmediate(resolve));
    expect(events).toMatchObject([{ type: 'verification.created', at: expect.any(String), userId: 'usr_bob', method: 'sso', recordRef: expect.stringMatching(/^[0-9a-f]{12}$/) }]);
    expect(JSON.stringify(events)).not.toContain(id);
  });
});

describe('createVerification refuses names it must not make records of', () => {
  let s: StepUpApp;
  beforeAll(async () => {
    s = await stepUpApp('memory', USERS);
  });
  afterAll(() => s.close());
  // The name is checked before anything else: a bad one is a bug in the app, whatever the request.
  const call = (options: unknown) => s.stepUp.createVerification({ headers: {} } as express.Request, options as never);

  test.each(['password', 'email', 'phone', 'passkey', 'totp', 'sign_in'])(
    'the built-in or reserved name %p: StepUpConfigError (only the library makes those records)',
    async (method) => {
      const error = await call({ method }).catch((caught: unknown) => caught);
      expect(error).toBeInstanceOf(StepUpConfigError);
      expect(error).toBeInstanceOf(TypeError);
      expect(error).toMatchObject({ code: 'ERR_STEP_UP_INVALID_OPTION', message: expect.stringContaining('reserved') });
    },
  );

  test.each([['an empty name', ''], ['capitals', 'SSO'], ['a leading digit', '1sso'], ['a space', 'hardware token'], ['33 characters', `s${'x'.repeat(32)}`], ['a number', 42], ['no method', undefined]])(
    '%s: StepUpConfigError ERR_STEP_UP_INVALID_OPTION',
    async (_label, method) => {
      await expect(call({ method })).rejects.toMatchObject({ name: 'StepUpConfigError', code: 'ERR_STEP_UP_INVALID_OPTION' });
    },
  );

  test('an unknown option or no options object: StepUpConfigError', async () => {
    await expect(call({ method: 'sso', acton: TRANSFER })).rejects.toMatchObject({ code: 'ERR_STEP_UP_UNKNOWN_OPTION', message: expect.stringContaining('`action`') });
    await expect(call(undefined)).rejects.toMatchObject({ code: 'ERR_STEP_UP_INVALID_OPTION' });
    await expect(call('sso')).rejects.toMatchObject({ code: 'ERR_STEP_UP_INVALID_OPTION' });
  });

  test('a 32-character name of its own is fine', async () => {
    // The request has no token: past the name check, authentication refuses it.
    await expect(call({ method: `s${'x'.repeat(31)}` })).rejects.toMatchObject({ code: 'auth.unauthorized' });
  });
});

describe('createVerification with the store down', () => {
  test('rejects with StoreUnavailableError: 503 verification.unavailable through the JSON error handler', async () => {
    const s = await stepUpApp('redis', USERS);
    const caught: unknown[] = [];
    addRoutes(s, caught);
    await s.close(); // the store's client is gone
    const res = await request(s.app).post('/sso/return').set('Authorization', authFor('usr_alice')).send({});
    expect(res.status).toBe(503);
    expect(res.body.code).toBe('verification.unavailable');
    expect(caught[0]).toBeInstanceOf(StoreUnavailableError);
  });
});
