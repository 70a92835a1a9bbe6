/**
 * `requireVerification.strict()`, `.moderate()`, `.lax()`: what each preset lets through, its
 * merged overrides, and its strict options, on both stores.
 */
import express from 'express';
import request from 'supertest';
import type { CodeMessage, StepUpOptions } from '../lib/index';
import { STORE_KINDS, type StoreKind } from './helpers/harness';
import { authFor, echoVerification, stepUpApp, type StepUpApp } from './helpers/step-up-app';

const ALICE = { id: 'usr_alice', passwordHash: '$2b$10$checked-by-verifyPassword', email: 'alice@example.com', phone: '+14155550100' };
const DAVE = { id: 'usr_dave', passwordHash: null, email: 'dave@example.com' };
const PASSWORD = 'alice-password';
const amountAction = (req: express.Request) => ({ type: 'transfer', amount: String(req.body.amount) });

interface PresetApp extends StepUpApp {
  readonly sent: CodeMessage[];
  readonly clock: { offset: number };
}

async function presetApp(kind: StoreKind, options: Partial<StepUpOptions> = {}): Promise<PresetApp> {
  const sent: CodeMessage[] = [];
  const clock = { offset: 0 };
  const s = await stepUpApp(kind, [ALICE, DAVE], {
    // The app's own check keeps bcrypt out of these tests; the record is the same.
    verifyPassword: (user, password) => user?.id === ALICE.id && password === PASSWORD,
    sender: { send: async (message) => void sent.push(message) },
    now: () => Date.now() + clock.offset,
    ...options,
  });
  const { app, stepUp } = s;
  app.post('/strict', stepUp.requireVerification.strict(), echoVerification);
  app.post('/strict-transfer', express.json(), stepUp.requireVerification.strict({ action: amountAction }), echoVerification);
  app.get('/strict-reusable', stepUp.requireVerification.strict({ singleUse: false }), echoVerification);
  app.post('/strict-undefined', stepUp.requireVerification.strict({ maxAge: undefined as unknown as number }), echoVerification);
  app.get('/moderate', stepUp.requireVerification.moderate(), echoVerification);
  app.get('/lax', stepUp.requireVerification.lax(), echoVerification);
  return { ...s, sent, clock };
}

describe.each(STORE_KINDS)('guard presets (%s store)', (kind) => {
  let s: PresetApp;
  let long: PresetApp;
  beforeAll(async () => {
    s = await presetApp(kind);
    long = await presetApp(kind, { recordTtlSeconds: 3600 });
  });
  afterAll(async () => {
    await s.close();
    await long.close();
  });
  afterEach(() => {
    s.clock.offset = 0;
    long.clock.offset = 0;
  });

  const auth = authFor(ALICE.id);
  const byPassword = async (on: PresetApp = s, action?: object): Promise<string> => {
    const res = await request(on.app).post('/v/password/verify').set('Authorization', auth).send({ password: PASSWORD, ...(action ? { action } : {}) });
    expect(res.status).toBe(201);
    return res.body.verificationRecordId as string;
  };
  const byEmail = async (on: PresetApp = s): Promise<string> => {
    const identifier = { type: 'email', value: ALICE.email };
    const sent = await request(on.app).post('/v/verification-code').set('Authorization', auth).send({ identifier }).expect(201);
    const code = on.sent.at(-1)?.code;
    const verified = await request(on.app)
      .post('/v/verification-code/verify')
      .set('Authorization', auth)
      .send({ identifier, verificationId: sent.body.verificationRecordId, code });
    expect(verified.status).toBe(200);
    return verified.body.verificationRecordId as string;
  };
  const call = (on: PresetApp, method: 'get' | 'post', path: string, id?: string, who = auth) => {
    const req = request(on.app)[method](path).set('Authorization', who);
    return id === undefined ? req : req.set('Verification-Id', id);
  };

  describe('strict', () => {
    test('a password record passes once (single use); its refusals ask for a strong method within 5 minutes', async () => {
      const refused = await call(s, 'post', '/strict');
      expect(refused.status).toBe(403);
      // passkey and TOTP are the preset's too, but not offered while those factors are off
      expect(refused.body).toEqual({ code: 'verification.required', message: expect.any(String), requirement: { methods: ['password'], maxAge: 300 } });
      const id = await byPassword();
      const passed = await call(s, 'post', '/strict', id);
      expect(passed.status).toBe(200);
      expect(passed.body.verification).toMatchObject({ method: 'password', id });
      expect((await call(s, 'post', '/strict', id)).body.code).toBe('verification.invalid');
    });

    test('an email code is refused: 403 verification.insufficient, requirement.methods narrowed; the record is not used up', async () => {
      const id = await byEmail();
      const refused = await call(s, 'post', '/strict', id);
      expect(refused.status).toBe(403);
      expect(refused.body).toEqual({ code: 'verification.insufficient', message: expect.any(String), requirement: { methods: ['password'], maxAge: 300 } });
      await call(s, 'get', '/moderate', id).expect(200);
    });

    test('a password record older than 5 minutes is refused', async () => {
      const id = await byPassword();
      s.clock.offset = 301_000;
      expect((await call(s, 'post', '/strict', id)).body.code).toBe('verification.insufficient');
      await call(s, 'get', '/moderate', id).expect(200);
    });

    test('a user who has only email and SMS cannot meet it: 403 verification.no_available_method', async () => {
      const refused = await call(s, 'post', '/strict', undefined, authFor(DAVE.id));
      expect(refused.body).toEqual({ code: 'verification.no_available_method', message: expect.any(String), requirement: { methods: [], maxAge: 300 } });
    });

    test('overrides merge over the preset: strict({ action }) stays single use, 5 minutes, strong methods', async () => {
      const transfer = (amount: string, id?: string) => call(s, 'post', '/strict-transfer', id).send({ amount });
      const refused = await transfer('250.00');
      expect(refused.body.requirement).toEqual({ methods: ['password'], maxAge: 300, action: { type: 'transfer', amount: '250.00' } });
      const id = await byPassword(s, { type: 'transfer', amount: '250.00' });
      expect((await transfer('999.00', id)).body.code).toBe('verification.insufficient');
      await transfer('250.00', id).expect(200);
      expect((await transfer('250.00', id)).body.code).toBe('verification.invalid');
    });

    test('strict({ singleUse: false }) is reusable; an override set to undefined keeps the preset value', async () => {
      const id = await byPassword();
      await call(s, 'get', '/strict-reusable', id).expect(200);
      await call(s, 'get', '/strict-reusable', id).expect(200);
      expect((await call(s, 'post', '/strict-undefined')).body.requirement.maxAge).toBe(300);
      await call(s, 'post', '/strict-undefined', id).expect(200);
      expect((await call(s, 'post', '/strict-undefined', id)).body.code).toBe('verification.invalid');
    });
  });

  describe('moderate and lax', () => {
    test('moderate: any built-in method within 10 minutes, reusable', async () => {
      const refused = await call(s, 'get', '/moderate');
      expect(refused.body.requirement).toEqual({ methods: ['password', 'email', 'phone'], maxAge: 600 });
      const id = await byEmail();
      await call(s, 'get', '/moderate', id).expect(200);
      const again = await call(s, 'get', '/moderate', id);
      expect(again.status).toBe(200);
      expect(again.body.verification.method).toBe('email');
    });

    test('lax: as long as the record lives (recordTtlSeconds); moderate still asks again after 10 minutes', async () => {
      expect((await call(s, 'get', '/lax')).body.requirement.maxAge).toBe(600);
      expect((await call(long, 'get', '/lax')).body.requirement).toEqual({ methods: ['password', 'email', 'phone'], maxAge: 3600 });
      expect((await call(long, 'get', '/moderate')).body.requirement.maxAge).toBe(600);
      const id = await byEmail(long);
      long.clock.offset = 3_000_000; // 50 minutes
      expect((await call(long, 'get', '/moderate', id)).body.code).toBe('verification.insufficient');
      await call(long, 'get', '/lax', id).expect(200);
      await call(long, 'get', '/lax', id).expect(200);
      long.clock.offset = 3_601_000;
      expect((await call(long, 'get', '/lax', id)).body.code).toBe('verification.invalid');
    });
  });
});

describe('presets never ask beyond the life of a record', () => {
  test('with recordTtlSeconds 120, every preset asks for a record verified within 120 s', async () => {
    const s = await presetApp('memory', { recordTtlSeconds: 120 });
    try {
      for (const [method, path] of [['post', '/strict'], ['get', '/moderate'], ['get', '/lax']] as const) {
        expect((await request(s.app)[method](path).set('Authorization', authFor(ALICE.id))).body.requirement.maxAge).toBe(120);
      }
    } finally {
      await s.close();
    }
  });
});

describe('preset options are checked like the guard options', () => {
  let s: PresetApp;
  beforeAll(async () => {
    s = await presetApp('memory');
  });
  afterAll(() => s.close());
  const presets = () => s.stepUp.requireVerification;

  test.each(['strict', 'moderate', 'lax'] as const)('%s: an unknown key throws ERR_STEP_UP_UNKNOWN_OPTION under the preset name', (name) => {
    expect(() => presets()[name]({ singleuse: true } as never)).toThrow(
      expect.objectContaining({ code: 'ERR_STEP_UP_UNKNOWN_OPTION', message: expect.stringMatching(new RegExp(`requireVerification\\.${name}\\(\\).*singleUse`)) }),
    );
  });

  test('invalid values and impossible combinations throw at startup', () => {
    expect(() => presets().strict({ maxAge: 0 })).toThrow(expect.objectContaining({ code: 'ERR_STEP_UP_INVALID_OPTION', message: expect.stringMatching(/maxAge/) }));
    expect(() => presets().lax({ methods: [] })).toThrow(expect.objectContaining({ code: 'ERR_STEP_UP_INVALID_OPTION' }));
    // strict is single use, which a provider sign-in cannot be
    expect(() => presets().strict({ acceptAuthTime: true })).toThrow(/singleUse/);
    expect(() => presets().strict({ acceptAuthTime: true, singleUse: false })).not.toThrow();
    expect(() => presets().moderate('strict' as never)).toThrow(expect.objectContaining({ code: 'ERR_STEP_UP_INVALID_OPTION' }));
    expect(() => presets().moderate(null as never)).not.toThrow();
  });

  test('the plain guard is still a function of its options', () => {
    expect(typeof presets()).toBe('function');
    expect(typeof presets()({ maxAge: 60 })).toBe('function');
  });
});
