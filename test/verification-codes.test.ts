import request from 'supertest';
import type { MemoryStore } from '../lib/index';
import { bearer, clockedHarness, dumpKeys, harness, PASSWORDS, STORE_KINDS } from './helpers/harness';

const ALICE_EMAIL = { type: 'email', value: 'alice@example.com' } as const;
const ALICE_PHONE = { type: 'phone', value: '+14155550100' } as const;

describe.each(STORE_KINDS)('one-time codes (%s store)', (kind) => {
  const setup = clockedHarness(kind);

  const send = (identifier: object, userId = 'usr_alice') =>
    request(setup.h.app).post('/v/verification-code').set('Authorization', bearer(userId)).send({ identifier });
  const verify = (identifier: object, verificationId: string, code: string, userId = 'usr_alice') =>
    request(setup.h.app).post('/v/verification-code/verify').set('Authorization', bearer(userId)).send({ identifier, verificationId, code });
  const lastCode = () => setup.h.sent[setup.h.sent.length - 1]!.code;
  const wrongCode = (code: string) => String((Number(code) + 1) % 1_000_000).padStart(6, '0');
  const recordCount = async () => (setup.h.redis ? (await setup.h.redis.keys(`${setup.h.prefix}rec:*`)).length : (setup.h.store as MemoryStore).size);

  test('send: 201 after delivery, 6 digits to the normalised address, expiry of the code', async () => {
    const res = await send({ type: 'email', value: '  Alice@Example.COM ' });
    expect(res.status).toBe(201);
    expect(res.body.verificationRecordId).toMatch(/^[A-Za-z0-9_-]{32}$/);
    const expiresIn = Date.parse(res.body.expiresAt) - Date.now();
    expect(expiresIn).toBeGreaterThan(590_000);
    expect(expiresIn).toBeLessThanOrEqual(600_000);
    const message = setup.h.sent[setup.h.sent.length - 1]!;
    expect(message).toMatchObject({ channel: 'email', to: 'alice@example.com' });
    expect(message.code).toMatch(/^\d{6}$/);
    expect(message.expiresAt.toISOString()).toBe(res.body.expiresAt);
  });

  test('email identity flow: wrong code 422 counted, right code 200, guard passes with method email', async () => {
    const sent = await send(ALICE_EMAIL);
    const id = sent.body.verificationRecordId as string;
    const code = lastCode();
    const wrong = await verify(ALICE_EMAIL, id, wrongCode(code));
    expect(wrong.status).toBe(422);
    expect(wrong.body).toEqual({ code: 'verification_code.code_mismatch', message: expect.any(String), remainingAttempts: 4 });
    const ok = await verify(ALICE_EMAIL, id, code);
    expect(ok.status).toBe(200);
    expect(ok.body.verificationRecordId).toBe(id);
    expect(Date.parse(ok.body.expiresAt) - Date.now()).toBeGreaterThan(590_000);
    const guarded = await request(setup.h.app).get('/codes-only').set('Authorization', bearer('usr_alice')).set('Verification-Id', id);
    expect(guarded.status).toBe(200);
    expect(guarded.body.verification).toMatchObject({ method: 'email', identifier: ALICE_EMAIL });
    // password-only routes are not satisfied by a code
    expect((await request(setup.h.app).get('/password-only').set('Authorization', bearer('usr_alice')).set('Verification-Id', id)).body.code).toBe(
      'verification.insufficient',
    );
  });

  test('phone identity flow, the number given in E.164', async () => {
    const id = (await send(ALICE_PHONE)).body.verificationRecordId as string;
    expect(setup.h.sent[setup.h.sent.length - 1]).toMatchObject({ channel: 'phone', to: '+14155550100' });
    await verify(ALICE_PHONE, id, lastCode()).expect(200);
    const res = await request(setup.h.app).post('/single').set('Authorization', bearer('usr_alice')).set('Verification-Id', id);
    expect(res.status).toBe(200);
    expect(res.body.verification.method).toBe('phone');
  });

  test('a pending (unverified) code record never passes the guard', async () => {
    const id = (await send(ALICE_EMAIL)).body.verificationRecordId as string;
    const res = await request(setup.h.app).get('/reusable').set('Authorization', bearer('usr_alice')).set('Verification-Id', id);
    expect(res.body.code).toBe('verification.invalid');
  });

  test('five wrong codes kill the record: the right code then gets 429 exceed_max_try', async () => {
    const id = (await send(ALICE_EMAIL)).body.verificationRecordId as string;
    const code = lastCode();
    for (let i = 1; i <= 4; i += 1) {
      const res = await verify(ALICE_EMAIL, id, wrongCode(code));
      expect(res.status).toBe(422);
      expect(res.body.remainingAttempts).toBe(5 - i);
    }
    const fifth = await verify(ALICE_EMAIL, id, wrongCode(code));
    expect(fifth.status).toBe(429);
    expect(fifth.body.code).toBe('verification_code.exceed_max_try');
    const right = await verify(ALICE_EMAIL, id, code);
    expect(right.status).toBe(429);
    expect(right.body.code).toBe('verification_code.exceed_max_try');
  });

  test("bob can neither verify nor use alice's record", async () => {
    const id = (await send(ALICE_EMAIL)).body.verificationRecordId as string;
    const code = lastCode();
    const stolen = await verify(ALICE_EMAIL, id, code, 'usr_bob');
    expect(stolen.status).toBe(404);
    expect(stolen.body.code).toBe('verification_record.not_found');
    await verify(ALICE_EMAIL, id, code).expect(200);
    const used = await request(setup.h.app).get('/reusable').set('Authorization', bearer('usr_bob')).set('Verification-Id', id);
    expect(used.status).toBe(403);
    expect(used.body.code).toBe('verification.invalid');
  });

  test('unknown, malformed and already verified ids are the same 404', async () => {
    const unknown = await verify(ALICE_EMAIL, 'A'.repeat(32), '123456');
    const malformed = await verify(ALICE_EMAIL, 'nope', '123456');
    expect(unknown.status).toBe(404);
    expect(malformed.body).toEqual(unknown.body);
    const id = (await send(ALICE_EMAIL)).body.verificationRecordId as string;
    const code = lastCode();
    await verify(ALICE_EMAIL, id, code).expect(200);
    const again = await verify(ALICE_EMAIL, id, code);
    expect(again.status).toBe(404);
    expect(again.body).toEqual(unknown.body);
  });

  test('identifier mismatch: 422, and the record still works for its identifier', async () => {
    const id = (await send(ALICE_EMAIL)).body.verificationRecordId as string;
    const code = lastCode();
    const res = await verify(ALICE_PHONE, id, code);
    expect(res.status).toBe(422);
    expect(res.body.code).toBe('verification_code.identifier_mismatch');
    await verify(ALICE_EMAIL, id, code).expect(200);
  });

  test('an expired code: 404', async () => {
    const id = (await send(ALICE_EMAIL)).body.verificationRecordId as string;
    setup.clock.offset = 601_000;
    const res = await verify(ALICE_EMAIL, id, lastCode());
    expect(res.status).toBe(404);
  });

  test.each([
    ['unknown type', { type: 'fax', value: '123' }, 'identifier.type'],
    ['not an email', { type: 'email', value: 'not-an-email' }, 'identifier.value'],
    ['email without a real domain', { type: 'email', value: 'a@b' }, 'identifier.value'],
    ['phone without +country', { type: 'phone', value: '4155550100' }, 'identifier.value'],
    ['phone too short', { type: 'phone', value: '+1415555' }, 'identifier.value'],
    ['phone with no such country', { type: 'phone', value: '+999123456' }, 'identifier.value'],
    ['10 000-character email', { type: 'email', value: `${'a'.repeat(10_000)}@example.com` }, 'identifier.value'],
    ['10 000-character phone', { type: 'phone', value: '+1'.padEnd(10_000, '5') }, 'identifier.value'],
    ['missing value', { type: 'email' }, 'identifier.value'],
    ['a string instead of an object', 'alice@example.com', 'identifier'],
  ])('bad identifier (%s): 400 naming the field, nothing sent', async (_label, identifier, field) => {
    const before = setup.h.sent.length;
    const res = await send(identifier as object);
    expect(res.status).toBe(400);
    expect(res.body.code).toBe('request.invalid_input');
    expect(res.body.field).toBe(field);
    expect(setup.h.sent.length).toBe(before);
  });

  test('verify: missing code or verificationId is a 400 naming it', async () => {
    const res = await request(setup.h.app).post('/v/verification-code/verify').set('Authorization', bearer('usr_alice')).send({ identifier: ALICE_EMAIL, code: '1' });
    expect(res.status).toBe(400);
    expect(res.body.field).toBe('verificationId');
  });

  test('a new identifier: verifiable, never satisfies the guard, redeemed once for exactly that email', async () => {
    const newEmail = { type: 'email', value: 'alice.new@example.com' } as const;
    const newId = (await send(newEmail)).body.verificationRecordId as string;
    await verify(newEmail, newId, lastCode()).expect(200);
    const guarded = await request(setup.h.app).get('/reusable').set('Authorization', bearer('usr_alice')).set('Verification-Id', newId);
    expect(guarded.status).toBe(403);
    expect(guarded.body.code).toBe('verification.insufficient');

    const identity = await request(setup.h.app).post('/v/password').set('Authorization', bearer('usr_alice')).send({ password: PASSWORDS.usr_alice });
    const bind = (email: string, recordId: string, userId = 'usr_alice', verificationId = identity.body.verificationRecordId as string) =>
      request(setup.h.app)
        .post('/bind-email')
        .set('Authorization', bearer(userId))
        .set('Verification-Id', verificationId)
        .send({ email, newIdentifierVerificationRecordId: recordId });

    const otherEmail = await bind('someone.else@example.com', newId);
    expect(otherEmail.status).toBe(403);
    expect(otherEmail.body).toEqual({ code: 'verification.new_identifier_unverified', message: expect.any(String), identifierType: 'email' });
    // the new-identifier record cannot stand in for the identity record
    expect((await bind('alice.new@example.com', newId, 'usr_alice', newId)).body.code).toBe('verification.insufficient');

    const bound = await bind('Alice.New@example.com', newId);
    expect(bound.status).toBe(200);
    expect(bound.body.bound).toEqual(newEmail);
    const twice = await bind('alice.new@example.com', newId);
    expect(twice.status).toBe(403);
    expect(twice.body.code).toBe('verification.new_identifier_unverified');
  });

  test('requireNewIdentifier() without an identity verification before it fails closed', async () => {
    const express = (await import('express')).default;
    const { createStepUp, jwtAuthenticator } = await import('../lib/index');
    const { JWT_SECRET, testUsers } = await import('./helpers/harness');
    const users = await testUsers();
    const reported: unknown[] = [];
    const stepUp = createStepUp({
      authenticate: jwtAuthenticator({ secret: JWT_SECRET, algorithms: ['HS256'] }),
      users: { findById: (id) => users.get(id) ?? null },
      sender: { send: async (m) => void setup.h.sent.push(m) },
      onUnexpectedError: (error) => void reported.push(error),
    });
    const app = express();
    app.use('/v', stepUp.router);
    app.post('/bind-alone', express.json(), stepUp.requireNewIdentifier({ type: 'email' }), (_req, res) => res.json({ bound: true }));
    const newEmail = { type: 'email', value: 'alone@example.com' };
    const sent = await request(app).post('/v/verification-code').set('Authorization', bearer('usr_alice')).send({ identifier: newEmail });
    await request(app).post('/v/verification-code/verify').set('Authorization', bearer('usr_alice')).send({ identifier: newEmail, verificationId: sent.body.verificationRecordId, code: lastCode() }).expect(200);
    const res = await request(app).post('/bind-alone').set('Authorization', bearer('usr_alice')).send({ email: newEmail.value, newIdentifierVerificationRecordId: sent.body.verificationRecordId });
    expect(res.status).toBe(403);
    expect(res.body.code).toBe('verification.required');
    expect(String(reported[0])).toMatch(/without requireVerification/);
  });

  test("bob cannot redeem alice's new-identifier record", async () => {
    const newEmail = { type: 'email', value: 'alice.other@example.com' } as const;
    const newId = (await send(newEmail)).body.verificationRecordId as string;
    await verify(newEmail, newId, lastCode()).expect(200);
    const bobIdentity = await request(setup.h.app).post('/v/password').set('Authorization', bearer('usr_bob')).send({ password: PASSWORDS.usr_bob });
    const res = await request(setup.h.app)
      .post('/bind-email')
      .set('Authorization', bearer('usr_bob'))
      .set('Verification-Id', bobIdentity.body.verificationRecordId)
      .send({ email: newEmail.value, newIdentifierVerificationRecordId: newId });
    expect(res.status).toBe(403);
  });

  test('a failing or hanging sender: 502 delivery_failed and no record is left', async () => {
    const failing = await harness(kind, { sender: { send: async () => Promise.reject(new Error('provider said no to 123456')) } });
    const hanging = await harness(kind, { sender: { send: () => new Promise<void>(() => undefined) }, sendTimeoutMs: 200 });
    for (const app of [failing, hanging]) {
      const count = async () => (app.redis ? (await app.redis.keys(`${app.prefix}rec:*`)).length : (app.store as MemoryStore).size);
      const started = Date.now();
      const res = await request(app.app).post('/v/verification-code').set('Authorization', bearer('usr_alice')).send({ identifier: ALICE_EMAIL });
      expect(res.status).toBe(502);
      expect(res.body).toEqual({ code: 'verification_code.delivery_failed', message: expect.any(String) });
      expect(JSON.stringify(res.body)).not.toContain('123456');
      expect(Date.now() - started).toBeLessThan(2000);
      expect(await count()).toBe(0);
      await app.close();
    }
  });

  if (kind === 'redis') {
    test('in Redis no key holds a code in plain text and every key has a TTL', async () => {
      const id = (await send(ALICE_PHONE)).body.verificationRecordId as string;
      const codes = [lastCode()];
      await verify(ALICE_PHONE, id, wrongCode(codes[0]!)).expect(422);
      (await send(ALICE_EMAIL)).body.verificationRecordId;
      codes.push(lastCode());
      await verify(ALICE_PHONE, id, codes[0]!).expect(200);
      const keys = await dumpKeys(setup.h.redis!, `${setup.h.prefix}*`);
      expect(keys.length).toBeGreaterThan(1);
      for (const { key, pttl, text } of keys) {
        expect(pttl).toBeGreaterThan(0);
        for (const code of codes) expect(`${key} ${text}`).not.toContain(code);
      }
    });
  }

  test('record count does not grow on refused sends', async () => {
    const before = await recordCount();
    await send({ type: 'email', value: 'bad' }).expect(400);
    expect(await recordCount()).toBe(before);
  });
});
