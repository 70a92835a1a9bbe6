/**
 * A refusal asks only for what the user can do: `requirement.methods` is the route's methods this
 * user can use now, and a user who can use none gets 403 `verification.no_available_method`.
 * A request that passes never pays for the user lookup this costs.
 */
import request from 'supertest';
import type { StepUpOptions, StepUpUser } from '../lib/index';
import { STORE_KINDS, type StoreKind } from './helpers/harness';
import { authFor, echoVerification, stepUpApp, type StepUpApp } from './helpers/step-up-app';

const HASH = '$2b$10$unused'; // "a password is set": never checked here
const silentSender = { send: async () => undefined };

/** An app over one user `u`, with a default route, a route of the app's own method and a TOTP route. */
async function appFor(kind: StoreKind, user: Omit<StepUpUser, 'id'>, options: Partial<StepUpOptions> = {}): Promise<StepUpApp> {
  const s = await stepUpApp(kind, [{ id: 'u', ...user }], options);
  s.app.get('/default', s.stepUp.requireVerification(), echoVerification);
  s.app.get('/sso', s.stepUp.requireVerification({ methods: ['sso', 'password'] }), echoVerification);
  s.app.get('/totp', s.stepUp.requireVerification({ methods: ['totp', 'passkey', 'password'] }), echoVerification);
  s.app.get('/rfc9470', s.stepUp.requireVerification({ challenge: 'rfc9470' }), echoVerification);
  return s;
}

describe.each(STORE_KINDS)('requirement.methods: what this user can use now (%s store)', (kind) => {
  const opened: StepUpApp[] = [];
  afterAll(() => Promise.all(opened.map((s) => s.close())));
  /** The refusal of `path` for user `u` without a record. */
  const refusal = async (user: Omit<StepUpUser, 'id'>, options: Partial<StepUpOptions> = {}, path = '/default') => {
    const s = await appFor(kind, user, options);
    opened.push(s);
    const res = await request(s.app).get(path).set('Authorization', authFor('u'));
    expect(res.status).toBe(403);
    expect(res.headers['content-type']).toMatch(/^application\/json/);
    return res.body as { code: string; message: string; requirement: { methods: string[]; maxAge: number } };
  };

  test('no password, no email, no phone: 403 verification.no_available_method with requirement.methods []', async () => {
    const body = await refusal({ passwordHash: null, email: null, phone: null }, { sender: silentSender });
    expect(body).toEqual({ code: 'verification.no_available_method', message: expect.any(String), requirement: { methods: [], maxAge: 600 } });
  });

  test('an unknown user (findById gives null): 403 verification.no_available_method', async () => {
    const s = await appFor(kind, {}, { sender: silentSender });
    opened.push(s);
    const res = await request(s.app).get('/default').set('Authorization', authFor('nobody'));
    expect(res.status).toBe(403);
    expect(res.body.code).toBe('verification.no_available_method');
  });

  test('the same for an unusable record: no_available_method, not verification.invalid', async () => {
    const s = await appFor(kind, { passwordHash: null }, { sender: silentSender });
    opened.push(s);
    const res = await request(s.app).get('/default').set('Authorization', authFor('u')).set('Verification-Id', 'A'.repeat(32));
    expect(res.body).toEqual({ code: 'verification.no_available_method', message: expect.any(String), requirement: { methods: [], maxAge: 600 } });
  });

  test("with an rfc9470 route it is still the contract's 403, not a step-up challenge", async () => {
    const body = await refusal({ passwordHash: null }, { sender: silentSender }, '/rfc9470');
    expect(body.code).toBe('verification.no_available_method');
  });

  test('a user with only an email: requirement.methods ["email"]', async () => {
    const body = await refusal({ email: 'u@example.com' }, { sender: silentSender });
    expect(body).toEqual({ code: 'verification.required', message: expect.any(String), requirement: { methods: ['email'], maxAge: 600 } });
  });

  test('a user with only a phone: requirement.methods ["phone"]', async () => {
    expect((await refusal({ phone: '+14155550100' }, { sender: silentSender })).requirement.methods).toEqual(['phone']);
  });

  test('everything on file: the route\'s order, passkey and TOTP left out while those factors are off', async () => {
    const body = await refusal({ passwordHash: HASH, email: 'u@example.com', phone: '+14155550100', totpSecret: 'sealed' }, { sender: silentSender });
    expect(body.requirement.methods).toEqual(['password', 'email', 'phone']);
  });

  test('no sender configured: email and phone are not offered', async () => {
    const body = await refusal({ passwordHash: HASH, email: 'u@example.com', phone: '+14155550100' });
    expect(body.requirement.methods).toEqual(['password']);
    expect((await refusal({ email: 'u@example.com', phone: '+14155550100' })).code).toBe('verification.no_available_method');
  });

  test('an empty string is not an identifier or a password', async () => {
    expect((await refusal({ passwordHash: '', email: '', phone: '' }, { sender: silentSender })).code).toBe('verification.no_available_method');
  });

  describe('with the app\'s own verifyPassword (the hash may live elsewhere)', () => {
    const verifyPassword = () => false;
    test('password is offered when passwordHash is absent', async () => {
      expect((await refusal({}, { verifyPassword })).requirement.methods).toEqual(['password']);
    });
    test('password is not offered when passwordHash is null', async () => {
      expect((await refusal({ passwordHash: null }, { verifyPassword })).code).toBe('verification.no_available_method');
    });
    test('without verifyPassword, an absent passwordHash means no password', async () => {
      expect((await refusal({})).code).toBe('verification.no_available_method');
    });
  });

  describe("the app's own methods", () => {
    test('offered when StepUpUser.methods lists it', async () => {
      expect((await refusal({ passwordHash: HASH, methods: ['sso'] }, {}, '/sso')).requirement.methods).toEqual(['sso', 'password']);
    });
    test('not offered otherwise', async () => {
      expect((await refusal({ passwordHash: HASH, methods: ['hardware_token'] }, {}, '/sso')).requirement.methods).toEqual(['password']);
      expect((await refusal({ passwordHash: HASH }, {}, '/sso')).requirement.methods).toEqual(['password']);
      expect((await refusal({ methods: [] }, {}, '/sso')).code).toBe('verification.no_available_method');
    });
    test('never by the default guard, which takes only built-in methods', async () => {
      expect((await refusal({ methods: ['sso'] })).code).toBe('verification.no_available_method');
    });
  });

  test('TOTP is not offered while the totp factor is off, even with a secret on file', async () => {
    expect((await refusal({ passwordHash: HASH, totpSecret: 'sealed' }, {}, '/totp')).requirement.methods).toEqual(['password']);
  });

  test('a passing request costs no user lookup; a refusal costs exactly one', async () => {
    const s = await appFor(kind, { passwordHash: HASH, methods: ['sso'] });
    opened.push(s);
    s.app.post('/sso/return', (req, res, next) => {
      s.stepUp.createVerification(req, { method: 'sso' }).then((made) => res.status(201).json(made), next);
    });
    const made = await request(s.app).post('/sso/return').set('Authorization', authFor('u')).expect(201);
    const before = s.lookups.count;
    for (let i = 0; i < 3; i += 1) {
      await request(s.app).get('/sso').set('Authorization', authFor('u')).set('Verification-Id', made.body.verificationRecordId).expect(200);
    }
    expect(s.lookups.count).toBe(before);
    await request(s.app).get('/sso').set('Authorization', authFor('u')).expect(403);
    expect(s.lookups.count).toBe(before + 1);
  });

  test('a user port that fails on the refusal path: still a 403, with the route\'s methods as they are, and the error told to onUnexpectedError', async () => {
    const unexpected: unknown[] = [];
    const s = await stepUpApp(kind, [], {
      users: {
        findById: () => {
          throw new Error('user database down');
        },
      },
      onUnexpectedError: (error) => void unexpected.push(error),
    });
    opened.push(s);
    s.app.get('/default', s.stepUp.requireVerification({ methods: ['password', 'totp'], maxAge: 60 }), echoVerification);
    const res = await request(s.app).get('/default').set('Authorization', authFor('u'));
    expect(res.status).toBe(403);
    expect(res.body).toEqual({ code: 'verification.required', message: expect.any(String), requirement: { methods: ['password', 'totp'], maxAge: 60 } });
    expect(unexpected).toEqual([expect.objectContaining({ message: 'user database down' })]);
  });

  test('an onUnexpectedError that throws changes nothing: the refusal is still a 403, answered (guard and factor enrollment)', async () => {
    const s = await stepUpApp(kind, [], {
      users: {
        findById: () => {
          throw new Error('user database down');
        },
        saveTotpSecret: () => undefined,
      },
      totp: { issuer: 'Bank' },
      onUnexpectedError: () => {
        throw new Error('the logger is down too');
      },
    });
    opened.push(s);
    s.app.get('/default', s.stepUp.requireVerification({ methods: ['password'], maxAge: 60 }), echoVerification);
    // Before: the guard's request was never answered (and its promise rejected, unhandled), the
    // enrollment got Express's own HTML 500.
    const guarded = await request(s.app).get('/default').set('Authorization', authFor('u')).timeout(3000);
    expect(guarded.status).toBe(403);
    expect(guarded.body).toMatchObject({ code: 'verification.required', requirement: { methods: ['password'], maxAge: 60 } });
    const enrollment = await request(s.app).post('/v/totp/enrollment').set('Authorization', authFor('u')).timeout(3000);
    expect(enrollment.status).toBe(403);
    expect(enrollment.body).toMatchObject({ code: 'verification.required' });
  });

  test('a passkey listing that is not a list offers no passkey (never a 500)', async () => {
    const s = await stepUpApp(kind, [], {
      users: {
        findById: (id) => ({ id, passwordHash: HASH }),
        // A bug of the app's port: not a list.
        listPasskeys: () => ({ length: 1 }) as never,
        savePasskey: () => undefined,
        updatePasskeyCounter: () => undefined,
      },
      passkeys: { rpId: 'bank.example', rpName: 'Bank', origin: 'https://bank.example' },
    });
    opened.push(s);
    s.app.get('/passkey', s.stepUp.requireVerification({ methods: ['passkey', 'password'] }), echoVerification);
    const res = await request(s.app).get('/passkey').set('Authorization', authFor('u'));
    expect(res.status).toBe(403);
    expect(res.body.requirement.methods).toEqual(['password']);
  });
});
