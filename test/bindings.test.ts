/**
 * A verification means this user, this session, this action: revocation, session binding and
 * action binding (PSD2 dynamic linking), black-box through the example app, on both stores.
 */
import express from 'express';
import request from 'supertest';
import { ALICE, BOB, startExample } from './helpers/example';
import { STORE_KINDS } from './helpers/harness';

const TRANSFER = { amount: '250.00', currency: 'EUR', payee: 'NL91ABNA0417164300' } as const;
const ACTION = { type: 'transfer', ...TRANSFER };

describe.each(STORE_KINDS)('bindings through the example app (%s store)', (kind) => {
  let ex: Awaited<ReturnType<typeof startExample>>;
  beforeAll(async () => {
    ex = await startExample(kind);
  });
  afterAll(() => ex.close());

  const api = (auth: string) => ({
    password: (body: object) => request(ex.app).post('/api/verifications/password/verify').set('Authorization', auth).send(body),
    sendCode: (identifier: object, action?: object) =>
      request(ex.app).post('/api/verifications/verification-code').set('Authorization', auth).send({ identifier, ...(action ? { action } : {}) }),
    verifyCode: (identifier: object, verificationId: string, code: string) =>
      request(ex.app).post('/api/verifications/verification-code/verify').set('Authorization', auth).send({ identifier, verificationId, code }),
    payslips: (id?: string) => {
      const req = request(ex.app).get('/api/payslips').set('Authorization', auth);
      return id ? req.set('Verification-Id', id) : req;
    },
    transfer: (body: object, id?: string) => {
      const req = request(ex.app).post('/api/transfers').set('Authorization', auth);
      return (id ? req.set('Verification-Id', id) : req).send(body);
    },
  });
  const verified = async (auth: string, action?: object): Promise<string> => {
    const res = await api(auth).password({ password: ALICE.password, ...(action ? { action } : {}) });
    expect(res.status).toBe(201);
    return res.body.verificationRecordId as string;
  };

  describe('revocation', () => {
    test('a password change kills earlier reusable and pending records; new ones work', async () => {
      const auth = await ex.signIn(ALICE);
      const reusable = await verified(auth);
      const email = { type: 'email', value: ALICE.email };
      const pending = (await api(auth).sendCode(email)).body.verificationRecordId as string;
      const pendingCode = ex.lastCodeTo(ALICE.email);
      await api(auth).payslips(reusable).expect(200);

      const changer = await verified(auth);
      await request(ex.app).post('/api/my-account/password').set('Authorization', auth).set('Verification-Id', changer).send({ password: ALICE.password }).expect(204);

      const refused = await api(auth).payslips(reusable);
      expect(refused.status).toBe(403);
      expect(refused.body.code).toBe('verification.invalid');
      expect((await api(auth).verifyCode(email, pending, pendingCode)).status).toBe(404);
      // the record that authorised the change is used up with it
      expect((await api(auth).payslips(changer)).body.code).toBe('verification.invalid');
      await api(auth).payslips(await verified(auth)).expect(200);
    });

    test('a primary-email change kills earlier records; a code to the old address no longer proves identity', async () => {
      const bob = await ex.signIn(BOB);
      const oldEmail = { type: 'email', value: BOB.email };
      const before = (await api(bob).password({ password: BOB.password })).body.verificationRecordId as string;
      // a code sent to bob's current email before the change
      const oldCodeRecord = (await api(bob).sendCode(oldEmail)).body.verificationRecordId as string;
      const oldCode = ex.lastCodeTo(BOB.email);

      const newEmail = { type: 'email', value: `bob.${kind}@example.org` };
      const proof = (await api(bob).sendCode(newEmail)).body.verificationRecordId as string;
      const proven = (await api(bob).verifyCode(newEmail, proof, ex.lastCodeTo(newEmail.value))).body.verificationRecordId as string;
      const identity = (await api(bob).password({ password: BOB.password })).body.verificationRecordId as string;
      await request(ex.app)
        .post('/api/my-account/primary-email')
        .set('Authorization', bob)
        .set('Verification-Id', identity)
        .send({ email: newEmail.value, newIdentifierVerificationRecordId: proven })
        .expect(204);

      expect((await api(bob).payslips(before)).body.code).toBe('verification.invalid');
      expect((await api(bob).verifyCode(oldEmail, oldCodeRecord, oldCode)).status).toBe(404);
      // a fresh code to the old address verifies, but proves nothing about identity any more
      const fresh = (await api(bob).sendCode(oldEmail)).body.verificationRecordId as string;
      const stale = (await api(bob).verifyCode(oldEmail, fresh, ex.lastCodeTo(BOB.email))).body.verificationRecordId as string;
      const res = await api(bob).payslips(stale);
      expect(res.status).toBe(403);
      expect(res.body.code).toBe('verification.insufficient');
    });

    test('purpose is decided at verify time: a code sent to the current email, verified after the email changed, proves nothing', async () => {
      const auth = await ex.signIn(ALICE);
      const email = { type: 'email', value: ex.users.account('usr_alice')!.email };
      const sent = (await api(auth).sendCode(email)).body.verificationRecordId as string;
      const code = ex.lastCodeTo(email.value);
      // The address changes behind the library's back (another device, an admin, a support agent):
      ex.users.setEmail('usr_alice', `alice.moved.${kind}@example.org`);
      try {
        const record = (await api(auth).verifyCode(email, sent, code)).body.verificationRecordId as string;
        const res = await request(ex.app).post('/api/payouts').set('Authorization', auth).set('Verification-Id', record).send({ amount: 1, currency: 'EUR', destination: 'x' });
        expect(res.status).toBe(403);
        expect(res.body.code).toBe('verification.insufficient');
      } finally {
        ex.users.setEmail('usr_alice', email.value);
      }
    });
  });

  describe('sessions', () => {
    test('two sign-ins of one user are two sessions whose records do not cross', async () => {
      const first = await ex.signIn(ALICE);
      const second = await ex.signIn(ALICE);
      const inFirst = await verified(first);
      const inSecond = await verified(second);
      const crossed = await api(second).payslips(inFirst);
      expect(crossed.status).toBe(403);
      expect(crossed.body.code).toBe('verification.invalid');
      expect((await api(first).payslips(inSecond)).body.code).toBe('verification.invalid');
      await api(first).payslips(inFirst).expect(200);
      await api(second).payslips(inSecond).expect(200);
      // and a pending code of one session cannot be verified from the other
      const phone = { type: 'phone', value: ALICE.phone };
      const pending = (await api(first).sendCode(phone)).body.verificationRecordId as string;
      expect((await api(second).verifyCode(phone, pending, ex.lastCodeTo(ALICE.phone))).status).toBe(404);
    });
  });

  describe('transfers (action binding)', () => {
    test('an unbound record is insufficient, and every refusal carries requirement.action', async () => {
      const auth = await ex.signIn(ALICE);
      const none = await api(auth).transfer(TRANSFER);
      expect(none.status).toBe(403);
      expect(none.body).toMatchObject({ code: 'verification.required', requirement: { maxAge: 300, action: ACTION } });
      const unbound = await api(auth).transfer(TRANSFER, await verified(auth));
      expect(unbound.status).toBe(403);
      expect(unbound.body).toMatchObject({ code: 'verification.insufficient', requirement: { action: ACTION } });
      expect(unbound.headers['cache-control']).toBe('no-store');
    });

    test('a record bound to 250.00 does not pay 251.00 or another payee; it pays 250.00 once; replay 403', async () => {
      const auth = await ex.signIn(ALICE);
      const bound = await verified(auth, ACTION);
      const more = await api(auth).transfer({ ...TRANSFER, amount: '251.00' }, bound);
      expect(more.status).toBe(403);
      expect(more.body).toMatchObject({ code: 'verification.insufficient', requirement: { action: { ...ACTION, amount: '251.00' } } });
      expect((await api(auth).transfer({ ...TRANSFER, payee: 'DE89370400440532013000' }, bound)).body.code).toBe('verification.insufficient');
      const paid = await api(auth).transfer(TRANSFER, bound);
      expect(paid.status).toBe(201);
      expect(paid.body).toEqual({ id: expect.any(String), ...TRANSFER });
      expect((await api(auth).transfer(TRANSFER, bound)).body.code).toBe('verification.invalid');
    });

    test('a transfer-bound record does not open payslips', async () => {
      const auth = await ex.signIn(ALICE);
      const res = await api(auth).payslips(await verified(auth, ACTION));
      expect(res.status).toBe(403);
      expect(res.body.code).toBe('verification.insufficient');
    });

    test('the code message names the amount and the payee; the verified code approves exactly that transfer', async () => {
      const auth = await ex.signIn(ALICE);
      const phone = { type: 'phone', value: ALICE.phone };
      const sent = await api(auth).sendCode(phone, ACTION);
      expect(sent.status).toBe(201);
      const message = ex.sent[ex.sent.length - 1]!;
      expect(message.action).toEqual(ACTION);
      const record = (await api(auth).verifyCode(phone, sent.body.verificationRecordId, message.code)).body.verificationRecordId as string;
      await api(auth).transfer(TRANSFER, record).expect(201);
    });

    test('20 parallel transfers with one bound record: exactly one passes', async () => {
      const auth = await ex.signIn(ALICE);
      const bound = await verified(auth, ACTION);
      const results = await Promise.all(Array.from({ length: 20 }, () => api(auth).transfer(TRANSFER, bound)));
      expect(results.filter((r) => r.status === 201)).toHaveLength(1);
      expect(results.filter((r) => r.status === 403)).toHaveLength(19);
    });

    test('a malformed transfer is a 400 and does not burn the verification', async () => {
      const auth = await ex.signIn(ALICE);
      const bound = await verified(auth, ACTION);
      for (const bad of [{ ...TRANSFER, amount: '250' }, { ...TRANSFER, amount: 250 }, { ...TRANSFER, currency: 'eur' }, { ...TRANSFER, payee: '' }]) {
        const res = await api(auth).transfer(bad, bound);
        expect(res.status).toBe(400);
        expect(res.body.code).toBe('request.invalid_input');
      }
      await api(auth).transfer(TRANSFER, bound).expect(201);
    });
  });
});

describe('example app findings (security review)', () => {
  test('the console sender prints the action the code approves', async () => {
    const lines: string[] = [];
    const ex = await startExample('memory', {}, { realSenders: true, log: (line) => void lines.push(line) });
    const auth = await ex.signIn(ALICE);
    await request(ex.app)
      .post('/api/verifications/verification-code')
      .set('Authorization', auth)
      .send({ identifier: { type: 'phone', value: ALICE.phone }, action: ACTION })
      .expect(201);
    expect(lines.join('\n')).toContain('to approve transfer: amount 250.00, currency EUR, payee NL91ABNA0417164300');
    await ex.close();
  });

  test('binding an email tells whether it belongs to another account only after the caller proved control of it', async () => {
    const ex = await startExample('memory');
    const auth = await ex.signIn(ALICE);
    const identity = async () =>
      (await request(ex.app).post('/api/verifications/password/verify').set('Authorization', auth).send({ password: ALICE.password })).body.verificationRecordId as string;
    const probe = async (email: string) =>
      request(ex.app)
        .post('/api/my-account/primary-email')
        .set('Authorization', auth)
        .set('Verification-Id', await identity())
        .send({ email, newIdentifierVerificationRecordId: 'A'.repeat(32) });
    const taken = await probe(BOB.email);
    const free = await probe('nobody@example.net');
    expect(taken.status).toBe(free.status);
    expect(taken.body).toEqual(free.body);
    expect(taken.body.code).toBe('verification.new_identifier_unverified');
    // once alice proves she controls bob's address (she cannot in real life), she learns it is taken
    const email = { type: 'email', value: BOB.email };
    const sent = await request(ex.app).post('/api/verifications/verification-code').set('Authorization', auth).send({ identifier: email });
    const proven = await request(ex.app)
      .post('/api/verifications/verification-code/verify')
      .set('Authorization', auth)
      .send({ identifier: email, verificationId: sent.body.verificationRecordId, code: ex.lastCodeTo(BOB.email) });
    const res = await request(ex.app)
      .post('/api/my-account/primary-email')
      .set('Authorization', auth)
      .set('Verification-Id', await identity())
      .send({ email: BOB.email, newIdentifierVerificationRecordId: proven.body.verificationRecordId });
    expect(res.status).toBe(409);
    expect(res.body.code).toBe('account.email_taken');
    await ex.close();
  });

  test("wrong passwords from one client lock that client out of the account, not the owner elsewhere; nothing shared in headers", async () => {
    const ex = await startExample('redis', {}, { limits: {} });
    const outer = express();
    outer.set('trust proxy', 1);
    outer.use(ex.app);
    const from = (ip: string) => (body: object) => request(outer).post('/api/sign-in').set('X-Forwarded-For', ip).send(body);
    const attacker = from('203.0.113.7');
    for (let i = 0; i < 10; i += 1) {
      const res = await attacker({ email: BOB.email, password: `guess-${i}` });
      expect(res.status).toBe(401);
      expect(res.body.code).toBe('auth.invalid_credentials');
    }
    expect((await attacker({ email: BOB.email, password: BOB.password })).status).toBe(429);
    // bob, from home, signs in (slowed down a little, never locked out)
    const home = await from('198.51.100.20')({ email: BOB.email, password: BOB.password });
    expect(home.status).toBe(200);
    expect(home.headers['cache-control']).toBe('no-store');
    // No email, and no plain hash of one, in any Redis key name.
    const keys = await ex.redis!.keys(`${ex.store!.prefix}*`);
    const { createHash } = await import('node:crypto');
    for (const digest of ['hex', 'base64url'] as const) {
      const plain = createHash('sha256').update(BOB.email).digest(digest);
      for (const key of keys) expect(key).not.toContain(plain.slice(0, 16));
    }
    for (const key of keys) expect(key).not.toContain(BOB.email);
    await ex.close();
  }, 30_000);

  test('a wrong password tells how many attempts are left before the lockout', async () => {
    const ex = await startExample('memory', {}, { limits: {} });
    const auth = await ex.signIn(ALICE);
    const left: unknown[] = [];
    for (let i = 0; i < 5; i += 1) {
      const res = await request(ex.app).post('/api/verifications/password/verify').set('Authorization', auth).send({ password: 'wrong' });
      left.push(res.status === 422 ? res.body.remainingAttempts : res.status);
    }
    expect(left).toEqual([4, 3, 2, 1, 0]);
    const locked = await request(ex.app).post('/api/verifications/password/verify').set('Authorization', auth).send({ password: ALICE.password });
    expect(locked.status).toBe(429);
    expect(locked.body.code).toBe('verification.too_many_attempts');
    await ex.close();
  });
});

describe('example app with OIDC_ISSUER: an identity provider tokens too', () => {
  test("the provider's token (sub, sid) works for the router and the guards; the app's own tokens still work", async () => {
    const { OidcStandIn } = await import('./helpers/oidc-provider');
    const provider = await OidcStandIn.start();
    try {
      const key = await provider.createKey('RS256');
      const ex = await startExample('memory', { OIDC_ISSUER: provider.issuer, OIDC_AUDIENCE: 'bank-api' });
      const providerToken = `Bearer ${await provider.sign(key, 'bank-api', { claims: { sub: 'usr_alice', sid: 'idp-session-1' } })}`;
      const account = await request(ex.app).get('/api/my-account').set('Authorization', providerToken);
      expect(account.status).toBe(200);
      expect(account.body.id).toBe('usr_alice');
      const record = await request(ex.app).post('/api/verifications/password/verify').set('Authorization', providerToken).send({ password: ALICE.password });
      expect(record.status).toBe(201);
      await request(ex.app).get('/api/payslips').set('Authorization', providerToken).set('Verification-Id', record.body.verificationRecordId).expect(200);
      // bound to the provider's session: the same user's own-token session cannot use it
      const own = await ex.signIn(ALICE);
      expect((await request(ex.app).get('/api/payslips').set('Authorization', own).set('Verification-Id', record.body.verificationRecordId)).status).toBe(403);
      // a token for another audience is refused
      const other = `Bearer ${await provider.sign(key, 'another-api', { claims: { sub: 'usr_alice' } })}`;
      expect((await request(ex.app).get('/api/my-account').set('Authorization', other)).status).toBe(401);
      await ex.close();
    } finally {
      await provider.close();
    }
  });
});
