import { createHash } from 'node:crypto';
import express from 'express';
import request from 'supertest';
import { canonicalAction, createStepUp, jwtAuthenticator, type Action, type AuditEvent } from '../lib/index';
import { PASSKEY_CHALLENGE_TTL_MS } from '../lib/passkeys/passkey-service';
import { bearer, harness, JWT_SECRET, PASSWORDS, STORE_KINDS, type Harness } from './helpers/harness';
import { SoftAuthenticator } from './helpers/soft-authenticator';

const RP_ID = 'bank.example';
const ORIGIN = 'https://bank.example';
const PASSKEYS = { rpId: RP_ID, rpName: 'Example Bank', origin: ORIGIN };
const INVALID = { code: 'verification.invalid_credentials', message: 'The passkey could not be verified.' };
const TRANSFER: Action = { type: 'transfer', amount: '250.00', currency: 'EUR', payee: 'NL91ABNA0417164300' };

type User = keyof typeof PASSWORDS;

describe.each(STORE_KINDS)('passkeys on the %s store', (kind) => {
  const clock = { offset: 0 };
  const events: AuditEvent[] = [];
  let h: Harness;

  beforeAll(async () => {
    // Records live an hour here, so that a record older than the 10 minutes enrolling asks for is still live.
    h = await harness(kind, { passkeys: PASSKEYS, recordTtlSeconds: 3600, now: () => Date.now() + clock.offset, onEvent: (event) => void events.push(event) });
    const ok = (req: express.Request, res: express.Response) => res.json({ verification: req.verification });
    h.app.get('/passkey-only', h.stepUp.requireVerification({ methods: ['passkey'] }), ok);
    h.app.post(
      '/transfer',
      express.json(),
      h.stepUp.requireVerification({ methods: ['passkey'], action: (req) => ({ type: 'transfer', ...req.body }) }),
      ok,
    );
  });
  afterAll(() => h.close());
  afterEach(() => {
    clock.offset = 0;
    h.passkeys.clear();
    events.length = 0;
  });

  const post = (path: string, user: User = 'usr_alice') => request(h.app).post(`/v${path}`).set('Authorization', bearer(user));

  /** A fresh identity record of the user (by password). */
  async function identity(user: User = 'usr_alice'): Promise<string> {
    const res = await post('/password/verify', user).send({ password: PASSWORDS[user] }).expect(201);
    return res.body.verificationRecordId;
  }

  async function startRegistration(user: User = 'usr_alice') {
    const res = await post('/web-authn/registration', user).set('Verification-Id', await identity(user)).expect(200);
    return res.body.registrationOptions;
  }

  /** Registers a new soft authenticator for the user. */
  async function register(user: User = 'usr_alice'): Promise<SoftAuthenticator> {
    const authenticator = new SoftAuthenticator({ origin: ORIGIN });
    const response = authenticator.createCredential(await startRegistration(user));
    const res = await post('/web-authn/registration/verify', user).send({ response }).expect(201);
    expect(res.body).toEqual({ credentialId: authenticator.credentialId });
    return authenticator;
  }

  async function startAuthentication(user: User = 'usr_alice', action?: Action) {
    const res = await post('/web-authn/authentication', user).send(action === undefined ? {} : { action }).expect(201);
    return res.body as { verificationRecordId: string; authenticationOptions: { challenge: string; allowCredentials: unknown[] }; expiresAt: string };
  }

  const verify = (verificationRecordId: string, response: unknown, user: User = 'usr_alice') =>
    post('/web-authn/authentication/verify', user).send({ verificationRecordId, response });

  test('register, then verify: a record of method passkey, under the challenge\'s id, that a passkey route accepts', async () => {
    const options = await startRegistration();
    expect(options).toMatchObject({
      rp: { id: RP_ID, name: 'Example Bank' },
      user: { name: 'alice@example.com' },
      authenticatorSelection: { residentKey: 'preferred', userVerification: 'required' },
      attestation: 'none',
      excludeCredentials: [],
    });
    // The user handle is an opaque HMAC, not the user id.
    expect(Buffer.from(options.user.id, 'base64url').toString('latin1')).not.toContain('usr_alice');
    expect(Buffer.from(options.user.id, 'base64url')).toHaveLength(32);

    const authenticator = new SoftAuthenticator({ origin: ORIGIN });
    await post('/web-authn/registration/verify').send({ response: authenticator.createCredential(options) }).expect(201);
    const [saved] = h.passkeys.get('usr_alice') ?? [];
    expect(saved).toEqual({ id: authenticator.credentialId, publicKey: expect.stringMatching(/^[A-Za-z0-9_-]+$/), counter: 0, transports: ['internal'] });

    // A second registration excludes the passkey already there.
    expect((await startRegistration()).excludeCredentials).toEqual([{ id: authenticator.credentialId, type: 'public-key', transports: ['internal'] }]);

    const started = await startAuthentication();
    expect(started.authenticationOptions).toMatchObject({
      rpId: RP_ID,
      userVerification: 'required',
      allowCredentials: [{ id: authenticator.credentialId, type: 'public-key', transports: ['internal'] }],
    });
    expect(Date.parse(started.expiresAt) - Date.now()).toBeGreaterThan(PASSKEY_CHALLENGE_TTL_MS - 5_000);
    const res = await verify(started.verificationRecordId, authenticator.getAssertion(started.authenticationOptions as never)).expect(200);
    expect(res.body).toEqual({ verificationRecordId: started.verificationRecordId, expiresAt: expect.any(String) });
    expect(h.passkeys.get('usr_alice')?.[0]?.counter).toBe(1);

    const passed = await request(h.app).get('/passkey-only').set('Authorization', bearer('usr_alice')).set('Verification-Id', started.verificationRecordId).expect(200);
    expect(passed.body.verification).toMatchObject({ source: 'record', method: 'passkey', userId: 'usr_alice' });
    const other = await request(h.app).get('/password-only').set('Authorization', bearer('usr_alice')).set('Verification-Id', started.verificationRecordId).expect(403);
    expect(other.body.code).toBe('verification.insufficient');

    await new Promise((resolve) => setImmediate(resolve));
    expect(events.filter((e) => e.method === 'passkey').map((e) => e.type)).toEqual([
      'factor.enrolled',
      'verification.created',
      'verification.succeeded',
      'guard.passed',
    ]);
  });

  test('a missing UV flag is 422, at registration and at authentication, without the library\'s reason', async () => {
    const authenticator = new SoftAuthenticator({ origin: ORIGIN });
    const refused = await post('/web-authn/registration/verify').send({ response: authenticator.createCredential(await startRegistration(), { userVerified: false }) });
    expect([refused.status, refused.body]).toEqual([422, INVALID]);
    expect(h.passkeys.get('usr_alice')).toBeUndefined();

    const registered = await register();
    const started = await startAuthentication();
    const res = await verify(started.verificationRecordId, registered.getAssertion(started.authenticationOptions as never, { userVerified: false }));
    expect([res.status, res.body]).toEqual([422, INVALID]);
  });

  test('a wrong origin or a wrong RP id is 422', async () => {
    for (const overrides of [{ origin: 'https://evil.example' }, { rpId: 'evil.example' }]) {
      const authenticator = new SoftAuthenticator({ origin: ORIGIN });
      const res = await post('/web-authn/registration/verify').send({ response: authenticator.createCredential(await startRegistration(), overrides) });
      expect([res.status, res.body]).toEqual([422, INVALID]);
    }
    const authenticator = await register();
    for (const overrides of [{ origin: 'https://evil.example' }, { rpId: 'evil.example' }]) {
      const started = await startAuthentication();
      const res = await verify(started.verificationRecordId, authenticator.getAssertion(started.authenticationOptions as never, overrides));
      expect([res.status, res.body]).toEqual([422, INVALID]);
    }
  });

  test('a challenge is used up by its first answer: a replay is 404, a registration replay 422', async () => {
    const authenticator = await register();
    const started = await startAuthentication();
    const assertion = authenticator.getAssertion(started.authenticationOptions as never);
    await verify(started.verificationRecordId, assertion).expect(200);
    expect((await verify(started.verificationRecordId, assertion).expect(404)).body.code).toBe('verification_record.not_found');

    // A wrong first answer uses it up too.
    const again = await startAuthentication();
    await verify(again.verificationRecordId, authenticator.getAssertion(again.authenticationOptions as never, { userVerified: false })).expect(422);
    await verify(again.verificationRecordId, authenticator.getAssertion(again.authenticationOptions as never)).expect(404);

    // Registration: the pending challenge is gone once answered.
    const second = new SoftAuthenticator({ origin: ORIGIN });
    const response = second.createCredential(await startRegistration());
    await post('/web-authn/registration/verify').send({ response }).expect(201);
    expect((await post('/web-authn/registration/verify').send({ response }).expect(422)).body).toEqual(INVALID);
  });

  test('an answer to another challenge, an unknown id and another user\'s challenge are refused', async () => {
    const authenticator = await register();
    const first = await startAuthentication();
    const second = await startAuthentication();
    await verify(first.verificationRecordId, authenticator.getAssertion(second.authenticationOptions as never)).expect(422);
    await verify('A'.repeat(32), authenticator.getAssertion(second.authenticationOptions as never)).expect(404);
    await verify('not-an-id', authenticator.getAssertion(second.authenticationOptions as never)).expect(404);
    const bobs = await register('usr_bob');
    await verify(second.verificationRecordId, bobs.getAssertion(second.authenticationOptions as never), 'usr_bob').expect(404);
  });

  test('another user\'s credential is 422', async () => {
    await register('usr_alice');
    const bobs = await register('usr_bob');
    const started = await startAuthentication('usr_alice');
    const res = await verify(started.verificationRecordId, bobs.getAssertion(started.authenticationOptions as never));
    expect([res.status, res.body]).toEqual([422, INVALID]);
  });

  test('a signature counter that does not move forward is 422; an authenticator without one (always 0) passes', async () => {
    const authenticator = await register();
    let started = await startAuthentication();
    await verify(started.verificationRecordId, authenticator.getAssertion(started.authenticationOptions as never, { counter: 5 })).expect(200);
    for (const counter of [5, 4, 0]) {
      started = await startAuthentication();
      const res = await verify(started.verificationRecordId, authenticator.getAssertion(started.authenticationOptions as never, { counter }));
      expect([counter, res.status, res.body]).toEqual([counter, 422, INVALID]);
    }
    expect(h.passkeys.get('usr_alice')?.[0]?.counter).toBe(5);

    const counterless = await register('usr_bob');
    for (let i = 0; i < 2; i += 1) {
      started = await startAuthentication('usr_bob');
      await verify(started.verificationRecordId, counterless.getAssertion(started.authenticationOptions as never, { counter: 0 }), 'usr_bob').expect(200);
    }
  });

  test('an expired challenge is 404 (authentication) or 422 (registration)', async () => {
    const authenticator = await register();
    const started = await startAuthentication();
    const options = await startRegistration();
    clock.offset = PASSKEY_CHALLENGE_TTL_MS + 1_000;
    await verify(started.verificationRecordId, authenticator.getAssertion(started.authenticationOptions as never)).expect(404);
    const second = new SoftAuthenticator({ origin: ORIGIN });
    expect((await post('/web-authn/registration/verify').send({ response: second.createCredential(options) }).expect(422)).body).toEqual(INVALID);
  });

  test('revokeAll makes a pending challenge unusable', async () => {
    const authenticator = await register();
    const started = await startAuthentication();
    await new Promise((resolve) => setTimeout(resolve, 2)); // the Redis store compares server times in µs
    await h.stepUp.revokeAll('usr_alice');
    await verify(started.verificationRecordId, authenticator.getAssertion(started.authenticationOptions as never)).expect(404);
  });

  test('with an action, the challenge commits to it and the record passes only the route with that exact action', async () => {
    const authenticator = await register();
    const started = await startAuthentication('usr_alice', TRANSFER);
    const challenge = Buffer.from(started.authenticationOptions.challenge, 'base64url');
    expect(challenge).toHaveLength(48);
    expect(challenge.subarray(16)).toEqual(createHash('sha256').update(canonicalAction(TRANSFER)).digest());
    await verify(started.verificationRecordId, authenticator.getAssertion(started.authenticationOptions as never)).expect(200);

    const { type: _type, ...fields } = TRANSFER;
    const transfer = (body: object) =>
      request(h.app).post('/transfer').set('Authorization', bearer('usr_alice')).set('Verification-Id', started.verificationRecordId).send(body);
    expect((await transfer({ ...fields, amount: '9999.00' }).expect(403)).body.code).toBe('verification.insufficient');
    await request(h.app).get('/passkey-only').set('Authorization', bearer('usr_alice')).set('Verification-Id', started.verificationRecordId).expect(403);
    await transfer(fields).expect(200);

    // Without an action, the challenge is 32 random bytes.
    expect(Buffer.from((await startAuthentication()).authenticationOptions.challenge, 'base64url')).toHaveLength(32);
  });

  test('registration needs a fresh identity record in the header, consumed: else the guard\'s 403', async () => {
    const missing = await post('/web-authn/registration').expect(403);
    expect(missing.body).toMatchObject({ code: 'verification.required', requirement: { methods: ['password', 'email', 'phone'], maxAge: 600 } });

    const id = await identity();
    await post('/web-authn/registration').set('Verification-Id', id).expect(200);
    expect((await post('/web-authn/registration').set('Verification-Id', id).expect(403)).body.code).toBe('verification.invalid');

    const stale = await identity();
    clock.offset = 601_000;
    expect((await post('/web-authn/registration').set('Verification-Id', stale).expect(403)).body.code).toBe('verification.insufficient');
    clock.offset = 0;

    // Bob's record is not Alice's; a record bound to an action is not an identity for enrolling.
    expect((await post('/web-authn/registration').set('Verification-Id', await identity('usr_bob')).expect(403)).body.code).toBe('verification.invalid');
    const bound = await post('/password/verify').send({ password: PASSWORDS.usr_alice, action: TRANSFER }).expect(201);
    expect((await post('/web-authn/registration').set('Verification-Id', bound.body.verificationRecordId).expect(403)).body.code).toBe(
      'verification.insufficient',
    );
    // It takes no body.
    expect((await post('/web-authn/registration').set('Verification-Id', await identity()).send({ x: 1 }).expect(400)).body).toMatchObject({
      code: 'request.invalid_input',
      field: 'body',
    });
  });

  test('a user without a passkey gets 403 no_available_method; a passkey route offers passkey once there is one', async () => {
    const res = await post('/web-authn/authentication').send({ action: TRANSFER }).expect(403);
    expect(res.body).toMatchObject({ code: 'verification.no_available_method', requirement: { methods: ['passkey'], maxAge: 3600, action: TRANSFER } });
    expect((await request(h.app).get('/passkey-only').set('Authorization', bearer('usr_alice')).expect(403)).body.code).toBe(
      'verification.no_available_method',
    );
    await register();
    const refused = await request(h.app).get('/passkey-only').set('Authorization', bearer('usr_alice')).expect(403);
    expect(refused.body).toMatchObject({ code: 'verification.required', requirement: { methods: ['passkey'] } });
  });

  test('malformed answers are 400 naming the field', async () => {
    const authenticator = await register();
    const ok = await startAuthentication();
    const assertion = authenticator.getAssertion(ok.authenticationOptions as never);
    for (const [response, field] of [
      [{ ...assertion, type: 'password' }, 'response.type'],
      [{ ...assertion, response: { ...assertion.response, signature: 'not base64url!' } }, 'response.response.signature'],
      [{ ...assertion, id: 'x'.repeat(2000) }, 'response.id'],
    ] as const) {
      expect((await verify(ok.verificationRecordId, response).expect(400)).body).toMatchObject({ code: 'request.invalid_input', field });
    }
    // Refused before the challenge was read: it is still there.
    await verify(ok.verificationRecordId, assertion).expect(200);
  });
});

describe('without the passkeys option', () => {
  test('the passkey endpoints are 404', async () => {
    const h = await harness('memory');
    for (const path of ['/web-authn/registration', '/web-authn/registration/verify', '/web-authn/authentication', '/web-authn/authentication/verify']) {
      const res = await request(h.app).post(`/v${path}`).set('Authorization', bearer('usr_alice')).send({});
      expect([path, res.status, res.body.code]).toEqual([path, 404, 'request.not_found']);
    }
    await h.close();
  });
});

describe('the passkeys option', () => {
  const users = { findById: () => null, listPasskeys: () => [], savePasskey: () => undefined, updatePasskeyCounter: () => undefined };
  const make = (passkeys: unknown, port: object = users) =>
    createStepUp({
      authenticate: jwtAuthenticator({ secret: JWT_SECRET, algorithms: ['HS256'] }),
      users: port as typeof users,
      secret: 'x'.repeat(32),
      passkeys: passkeys as typeof PASSKEYS,
    });

  test('is checked strictly at startup', () => {
    expect(() => make(PASSKEYS)).not.toThrow();
    expect(() => make({ ...PASSKEYS, origin: [ORIGIN, 'https://app.bank.example'] })).not.toThrow();
    expect(() => make({ rpId: 'localhost', rpName: 'Dev', origin: 'http://localhost:3000' })).not.toThrow();
    const cases: Array<[unknown, RegExp]> = [
      [{ ...PASSKEYS, rpID: RP_ID }, /ERR_STEP_UP_UNKNOWN_OPTION/],
      [{ ...PASSKEYS, rpId: 'https://bank.example' }, /rpId/],
      [{ ...PASSKEYS, rpName: '' }, /rpName/],
      [{ ...PASSKEYS, origin: 'http://bank.example' }, /origin/],
      [{ ...PASSKEYS, origin: 'https://bank.example/' }, /origin/],
      [{ ...PASSKEYS, origin: 'https://evil.example' }, /not on the rpId/],
      [{ ...PASSKEYS, origin: 'https://notbank.example' }, /not on the rpId/],
      [{ ...PASSKEYS, origin: [] }, /origin/],
      ['bank.example', /passkeys/],
    ];
    for (const [options, error] of cases) expect(() => make(options)).toThrow(error);
  });

  test('needs the user port members that keep passkeys', () => {
    for (const member of ['listPasskeys', 'savePasskey', 'updatePasskeyCounter']) {
      const { [member as keyof typeof users]: _dropped, ...rest } = users;
      expect(() => make(PASSKEYS, rest)).toThrow(/ERR_STEP_UP_MISSING_OPTION/);
      expect(() => make(PASSKEYS, rest)).toThrow(`missing: ${member}`);
    }
  });
});
