import { createSecretKey, generateKeyPairSync, randomBytes } from 'node:crypto';
import jwt from 'jsonwebtoken';
import request from 'supertest';
import { createStepUp, jwtAuthenticator, MemoryStore, RedisStore } from '../lib/index';
import { bearer, harness, JWT_SECRET, PASSWORDS, testUsers, tokenFor, type Harness } from './helpers/harness';
import { recordKeyPattern } from './helpers/records';

const fakeReq = (authorization?: string) =>
  ({ headers: authorization === undefined ? {} : { authorization } }) as unknown as Parameters<ReturnType<typeof jwtAuthenticator>>[0];

describe('jwtAuthenticator', () => {
  const auth = jwtAuthenticator({ secret: JWT_SECRET, algorithms: ['HS256'] });

  test('a valid token gives its sub', () => {
    expect(auth(fakeReq(`Bearer ${tokenFor('usr_alice')}`))).toEqual({ userId: 'usr_alice' });
  });

  test('sid, auth_time, acr and amr are reported beside the sub', () => {
    const token = jwt.sign({ sub: 'usr_alice', sid: 'sess-1', auth_time: 1_700_000_000, acr: 'urn:bank:aal2', amr: ['pwd', 'otp'] }, JWT_SECRET, {
      algorithm: 'HS256',
      expiresIn: 60,
    });
    expect(auth(fakeReq(`Bearer ${token}`))).toEqual({
      userId: 'usr_alice',
      sessionId: 'sess-1',
      authTime: 1_700_000_000,
      acr: 'urn:bank:aal2',
      amr: ['pwd', 'otp'],
    });
  });

  test.each([
    ['an empty sid', { sid: '' }],
    ['a numeric sid', { sid: 42 }],
    ['auth_time as a string', { auth_time: '1700000000' }],
    ['amr as a string', { amr: 'pwd' }],
  ])('%s makes the token invalid rather than ignored', (_label, claims) => {
    const token = jwt.sign({ sub: 'usr_alice', ...claims }, JWT_SECRET, { algorithm: 'HS256', expiresIn: 60 });
    expect(() => auth(fakeReq(`Bearer ${token}`))).toThrow(expect.objectContaining({ code: 'auth.unauthorized' }));
  });

  test('no Authorization header: unauthenticated (null)', () => {
    expect(auth(fakeReq())).toBeNull();
  });

  const unsigned = `${Buffer.from('{"alg":"none","typ":"JWT"}').toString('base64url')}.${Buffer.from(
    JSON.stringify({ sub: 'usr_alice', exp: Math.floor(Date.now() / 1000) + 60 }),
  ).toString('base64url')}.`;

  test.each([
    ['expired', tokenFor('usr_alice', { expiresIn: -10 })],
    ['alg none', unsigned],
    ['signed with another secret', jwt.sign({ sub: 'usr_alice' }, 'x'.repeat(32), { expiresIn: 60 })],
    ['HS512 when only HS256 is allowed', jwt.sign({ sub: 'usr_alice' }, JWT_SECRET, { algorithm: 'HS512', expiresIn: 60 })],
    ['without exp', jwt.sign({ sub: 'usr_alice' }, JWT_SECRET, { algorithm: 'HS256' })],
    ['without sub', jwt.sign({ foo: 1 }, JWT_SECRET, { algorithm: 'HS256', expiresIn: 60 })],
    ['not a JWT', 'abc'],
    ['10 000 characters', 'a'.repeat(10_000)],
  ])('%s: 401 invalid_token', (_label, token) => {
    expect(() => auth(fakeReq(`Bearer ${token}`))).toThrow(expect.objectContaining({ code: 'auth.unauthorized' }));
  });

  test('a Basic header is refused', () => {
    expect(() => auth(fakeReq('Basic dXNlcjpwYXNz'))).toThrow(expect.objectContaining({ status: 401 }));
  });

  test('issuer and audience are checked when configured', () => {
    const strict = jwtAuthenticator({ secret: JWT_SECRET, algorithms: ['HS256'], issuer: 'https://id.example', audience: 'bank' });
    const good = jwt.sign({ sub: 'u1' }, JWT_SECRET, { expiresIn: 60, issuer: 'https://id.example', audience: 'bank' });
    const wrongAud = jwt.sign({ sub: 'u1' }, JWT_SECRET, { expiresIn: 60, issuer: 'https://id.example', audience: 'shop' });
    expect(strict(fakeReq(`Bearer ${good}`))).toEqual({ userId: 'u1' });
    expect(() => strict(fakeReq(`Bearer ${wrongAud}`))).toThrow(expect.objectContaining({ status: 401 }));
  });

  test('RS256 with a public key; an HS256 token made with the public key as secret is refused', () => {
    const { publicKey, privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
    const rs = jwtAuthenticator({ publicKey, algorithms: ['RS256'] });
    expect(rs(fakeReq(`Bearer ${jwt.sign({ sub: 'u2' }, privateKey, { algorithm: 'RS256', expiresIn: 60 })}`))).toEqual({ userId: 'u2' });
    const pem = publicKey.export({ type: 'spki', format: 'pem' });
    const confused = jwt.sign({ sub: 'u2' }, pem, { algorithm: 'HS256', expiresIn: 60 });
    expect(() => rs(fakeReq(`Bearer ${confused}`))).toThrow(expect.objectContaining({ status: 401 }));
  });

  test.each([
    [{ algorithms: [] }, /algorithms/],
    [{ algorithms: ['none'] }, /none/],
    [{ algorithms: ['HS256', 'RS256'], secret: JWT_SECRET }, /all be HS/],
    [{ algorithms: ['HS256'] }, /secret/],
    [{ algorithms: ['HS256'], secret: 'short' }, /32 bytes/],
    [{ algorithms: ['RS256'] }, /publicKey/],
    [{ algorithms: ['HS256'], secret: JWT_SECRET, clockToleranceSeconds: Number.NaN }, /clockToleranceSeconds/],
    [{ algorithms: ['HS256'], secret: JWT_SECRET, clockToleranceSeconds: '30' }, /clockToleranceSeconds/],
    [{ algorithms: ['HS256'], secret: JWT_SECRET, clockToleranceSeconds: -1 }, /clockToleranceSeconds/],
    [{ algorithms: ['HS256'], secret: JWT_SECRET, clockToleranceSeconds: 301 }, /clockToleranceSeconds/],
    [{ algorithms: ['HS256'], secret: JWT_SECRET, audience: /bank/g }, /audience/],
    [{ algorithms: ['HS256'], secret: JWT_SECRET, issuer: [] }, /issuer/],
    [{ algorithms: ['HS256'], secret: JWT_SECRET, issuer: '' }, /issuer/],
  ])('misconfiguration %p throws at startup', (options, message) => {
    expect(() => jwtAuthenticator(options as never)).toThrow(message);
  });
});

describe('jwtAuthenticator: tokens it verified before', () => {
  const now = () => Math.floor(Date.now() / 1000);
  const signed = (claims: Record<string, unknown>) => jwt.sign({ sub: 'usr_alice', ...claims }, JWT_SECRET, { algorithm: 'HS256' });
  afterEach(() => jest.useRealTimers());

  test('a token seen before expires at its exp: refused from then on, with the leeway counted as jsonwebtoken counts it', () => {
    jest.useFakeTimers({ now: 1_800_000_000_000 });
    const auth = jwtAuthenticator({ secret: JWT_SECRET, algorithms: ['HS256'], clockToleranceSeconds: 5 });
    const token = signed({ exp: now() + 10 });
    expect(auth(fakeReq(`Bearer ${token}`))).toEqual({ userId: 'usr_alice' });
    jest.setSystemTime(Date.now() + 14_999);
    expect(auth(fakeReq(`Bearer ${token}`))).toEqual({ userId: 'usr_alice' });
    jest.setSystemTime(Date.now() + 1);
    expect(() => auth(fakeReq(`Bearer ${token}`))).toThrow(expect.objectContaining({ code: 'auth.unauthorized' }));
    // Dropped when it failed: a clock set back has it verified in full again, as with no memory at all.
    jest.setSystemTime(Date.now() - 60_000);
    expect(auth(fakeReq(`Bearer ${token}`))).toEqual({ userId: 'usr_alice' });
  });

  test('nbf is checked on every use, also when the clock goes back after the first', () => {
    jest.useFakeTimers({ now: 1_800_000_000_000 });
    const auth = jwtAuthenticator({ secret: JWT_SECRET, algorithms: ['HS256'] });
    const token = signed({ nbf: now(), exp: now() + 60 });
    expect(auth(fakeReq(`Bearer ${token}`))).toEqual({ userId: 'usr_alice' });
    jest.setSystemTime(Date.now() - 1_000);
    expect(() => auth(fakeReq(`Bearer ${token}`))).toThrow(expect.objectContaining({ code: 'auth.unauthorized' }));
  });

  test('a token that failed is not remembered, and one character changed is another token', () => {
    const auth = jwtAuthenticator({ secret: JWT_SECRET, algorithms: ['HS256'] });
    const token = signed({ exp: now() + 60 });
    const [header, payload, signature] = token.split('.') as [string, string, string];
    const forged = `${header}.${Buffer.from(JSON.stringify({ sub: 'usr_bob', exp: now() + 60 })).toString('base64url')}.${signature}`;
    expect(auth(fakeReq(`Bearer ${token}`))).toEqual({ userId: 'usr_alice' });
    expect(() => auth(fakeReq(`Bearer ${forged}`))).toThrow(expect.objectContaining({ code: 'auth.unauthorized' }));
    expect(() => auth(fakeReq(`Bearer ${forged}`))).toThrow(expect.objectContaining({ code: 'auth.unauthorized' }));
    const flipped = `${header}.${payload}.${signature.slice(0, -2)}${signature.endsWith('AA') ? 'BA' : 'AA'}`;
    expect(() => auth(fakeReq(`Bearer ${flipped}`))).toThrow(expect.objectContaining({ code: 'auth.unauthorized' }));
  });

  test('each authenticator remembers only what it verified: a token of one key does not pass another', () => {
    const mine = jwtAuthenticator({ secret: JWT_SECRET, algorithms: ['HS256'] });
    const other = jwtAuthenticator({ secret: 'y'.repeat(32), algorithms: ['HS256'] });
    const token = signed({ exp: now() + 60 });
    expect(mine(fakeReq(`Bearer ${token}`))).toEqual({ userId: 'usr_alice' });
    expect(() => other(fakeReq(`Bearer ${token}`))).toThrow(expect.objectContaining({ code: 'auth.unauthorized' }));
  });

  test('the principal every request with one token shares cannot be changed by a handler', () => {
    const auth = jwtAuthenticator({ secret: JWT_SECRET, algorithms: ['HS256'] });
    const token = signed({ exp: now() + 60, sid: 'sess-1', amr: ['pwd'] });
    const first = auth(fakeReq(`Bearer ${token}`)) as { userId: string; amr: string[] };
    expect(Object.isFrozen(first) && Object.isFrozen(first.amr)).toBe(true);
    expect(() => {
      first.userId = 'usr_bob';
    }).toThrow(TypeError);
    expect(() => first.amr.push('hwk')).toThrow(TypeError);
    expect(auth(fakeReq(`Bearer ${token}`))).toEqual({ userId: 'usr_alice', sessionId: 'sess-1', amr: ['pwd'] });
  });

  test('past its capacity it starts again, and every token still passes or fails as before', () => {
    const auth = jwtAuthenticator({ secret: JWT_SECRET, algorithms: ['HS256'] });
    const exp = now() + 60;
    // Signed with a KeyObject: jsonwebtoken turns a string secret into one on every call, which is slow.
    const key = createSecretKey(Buffer.from(JWT_SECRET));
    const tokens = Array.from({ length: 10_050 }, (_, i) => jwt.sign({ sub: `usr_${i}`, exp }, key, { algorithm: 'HS256' }));
    for (const token of tokens) auth(fakeReq(`Bearer ${token}`));
    const verify = jest.spyOn(jwt, 'verify');
    try {
      // Remembered since the restart at 10,000: no verification.
      expect(auth(fakeReq(`Bearer ${tokens[10_049]}`))).toEqual({ userId: 'usr_10049' });
      expect(verify).not.toHaveBeenCalled();
      // Forgotten at the restart: verified in full, and still valid.
      expect(auth(fakeReq(`Bearer ${tokens[0]}`))).toEqual({ userId: 'usr_0' });
      expect(verify).toHaveBeenCalledTimes(1);
    } finally {
      verify.mockRestore();
    }
  });

  test('the issuers and audiences are the ones given at startup: changing the array afterwards changes nothing', () => {
    const issuers = ['https://id.example', 'https://old-id.example'];
    const auth = jwtAuthenticator({ secret: JWT_SECRET, algorithms: ['HS256'], issuer: issuers });
    const fromOld = jwt.sign({ sub: 'usr_alice', iss: 'https://old-id.example', exp: now() + 60 }, JWT_SECRET, { algorithm: 'HS256' });
    const fromNew = jwt.sign({ sub: 'usr_alice', iss: 'https://new-id.example', exp: now() + 60 }, JWT_SECRET, { algorithm: 'HS256' });
    issuers.splice(1, 1, 'https://new-id.example');
    // Seen before the change or not, each token gets the answer of the rules made at startup.
    for (let i = 0; i < 2; i += 1) {
      expect(auth(fakeReq(`Bearer ${fromOld}`))).toEqual({ userId: 'usr_alice' });
      expect(() => auth(fakeReq(`Bearer ${fromNew}`))).toThrow(expect.objectContaining({ code: 'auth.unauthorized' }));
    }
  });

  test('a token over 2,048 characters is verified in full every time, never remembered', () => {
    const auth = jwtAuthenticator({ secret: JWT_SECRET, algorithms: ['HS256'] });
    const long = signed({ exp: now() + 60, acr: 'a'.repeat(1600) });
    expect(long.length).toBeGreaterThan(2048);
    const verify = jest.spyOn(jwt, 'verify');
    try {
      for (let i = 0; i < 3; i += 1) expect(auth(fakeReq(`Bearer ${long}`))).toMatchObject({ userId: 'usr_alice' });
      expect(verify).toHaveBeenCalledTimes(3);
    } finally {
      verify.mockRestore();
    }
  });

  test('a remembered token is not verified again; a different one is', () => {
    const auth = jwtAuthenticator({ secret: JWT_SECRET, algorithms: ['HS256'] });
    const verify = jest.spyOn(jwt, 'verify');
    try {
      const token = signed({ exp: now() + 60 });
      for (let i = 0; i < 3; i += 1) expect(auth(fakeReq(`Bearer ${token}`))).toEqual({ userId: 'usr_alice' });
      expect(verify).toHaveBeenCalledTimes(1);
      auth(fakeReq(`Bearer ${signed({ exp: now() + 61 })}`));
      expect(verify).toHaveBeenCalledTimes(2);
    } finally {
      verify.mockRestore();
    }
  });
});

describe('createStepUp options', () => {
  const base = { authenticate: () => 'u', users: { findById: () => null } };
  test('a shared store without a secret is a startup error', () => {
    const redisLike = { defineCommand: () => undefined } as never;
    expect(() => createStepUp({ ...base, store: new RedisStore({ client: redisLike }) })).toThrow(/secret.*same on every instance/);
  });
  test('the memory store works without a secret; short secrets are refused', () => {
    expect(() => createStepUp({ ...base, store: new MemoryStore() })).not.toThrow();
    expect(() => createStepUp({ ...base, secret: 'short' })).toThrow(/32 bytes/);
  });
  test('missing authenticate or users, bad numbers', () => {
    expect(() => createStepUp({ users: base.users } as never)).toThrow(/authenticate/);
    expect(() => createStepUp({ authenticate: base.authenticate } as never)).toThrow(/users/);
    expect(() => createStepUp({ ...base, recordTtlSeconds: -1 })).toThrow(/recordTtlSeconds/);
    expect(() => createStepUp({ ...base, maxCodeAttempts: 2.5 })).toThrow(/maxCodeAttempts/);
    expect(() => createStepUp({ ...base, bcryptCost: 3 })).toThrow(/bcryptCost/);
    expect(() => createStepUp({ ...base, now: (() => Number.NaN) as () => number })).toThrow(/now/);
    expect(() => createStepUp({ ...base, limits: { codesPerUser: { limit: 0, windowSeconds: 60 } } })).toThrow(/codesPerUser/);
    expect(() => createStepUp({ ...base, limits: { sms: { allowedCountryCallingCodes: ['+44'] } } })).toThrow(/allowedCountryCallingCodes/);
  });

  test('TTLs with fractions of a millisecond and a fractional clock still give whole-millisecond expiries in Redis', async () => {
    const h = await harness('redis', { recordTtlSeconds: 600.0005, now: () => Date.now() + 0.25 });
    const res = await request(h.app).post('/v/password').set('Authorization', bearer('usr_alice')).send({ password: PASSWORDS.usr_alice });
    expect(res.status).toBe(201);
    const keys = await h.redis!.keys(recordKeyPattern(h.prefix));
    expect(keys).toHaveLength(1);
    expect(await h.redis!.pttl(keys[0]!)).toBeGreaterThan(590_000);
    await h.close();
  });

  test("an app error thrown by a custom authenticator is a plain 500, never taken for a body error", async () => {
    const { default: express } = await import('express');
    const stepUp = createStepUp({
      authenticate: () => {
        throw Object.assign(new Error('session store down'), { status: 401, expose: true });
      },
      users: { findById: () => null },
    });
    const app = express();
    app.use('/v', stepUp.router);
    app.get('/g', stepUp.requireVerification(), (_req, res) => res.json({ passed: true }));
    for (const res of [await request(app).get('/g'), await request(app).post('/v/password').send({ password: 'x' })]) {
      expect(res.status).toBe(500);
      expect(res.body).toEqual({ code: 'server.internal_error', message: expect.any(String) });
    }
  });

  test('an authenticator may give an integer user id', async () => {
    const { default: express } = await import('express');
    const users = await testUsers();
    const alice = users.get('usr_alice')!;
    const stepUp = createStepUp({ authenticate: () => 42, users: { findById: (id) => (id === '42' ? { ...alice, id: '42' } : null) } });
    const app = express();
    app.use('/v', stepUp.router);
    app.get('/g', stepUp.requireVerification(), (req, res) => res.json(req.verification));
    const created = await request(app).post('/v/password').send({ password: PASSWORDS.usr_alice });
    expect(created.status).toBe(201);
    const guarded = await request(app).get('/g').set('Verification-Id', created.body.verificationRecordId);
    expect(guarded.body.userId).toBe('42');
  });

  test("an app's own frozen principal is read afresh on every request: its session binding is never taken from an earlier one", async () => {
    const { default: express } = await import('express');
    const users = await testUsers();
    let session = 'sess-a';
    // One frozen object for every request, whose session changes: only principals the library froze itself share their requester.
    const principal = Object.freeze({
      userId: 'usr_alice',
      get sessionId() {
        return session;
      },
    });
    const stepUp = createStepUp({ authenticate: () => principal, users: { findById: (id) => users.get(id) ?? null }, secret: randomBytes(32) });
    const app = express();
    app.use('/v', stepUp.router);
    app.get('/g', stepUp.requireVerification(), (_req, res) => res.json({ ok: true }));
    const created = await request(app).post('/v/password').send({ password: PASSWORDS.usr_alice });
    expect(created.status).toBe(201);
    await request(app).get('/g').set('Verification-Id', created.body.verificationRecordId).expect(200);
    session = 'sess-b';
    const elsewhere = await request(app).get('/g').set('Verification-Id', created.body.verificationRecordId);
    expect(elsewhere.status).toBe(403);
    expect(elsewhere.body.code).toBe('verification.invalid');
  });
});

describe('router authentication', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await harness('memory');
  });

  test.each(['/v/password/verify', '/v/verification-code', '/v/verification-code/verify'])('%s without a token: 401 JSON', async (path) => {
    const res = await request(h.app).post(path).send({});
    expect(res.status).toBe(401);
    expect(res.headers['www-authenticate']).toBe('Bearer realm="express-step-up"');
    expect(res.body).toEqual({ code: 'auth.unauthorized', message: expect.any(String) });
  });

  test('an expired token: 401 with error="invalid_token"', async () => {
    const res = await request(h.app)
      .post('/v/password/verify')
      .set('Authorization', `Bearer ${tokenFor('usr_alice', { expiresIn: -1 })}`)
      .send({ password: PASSWORDS.usr_alice });
    expect(res.status).toBe(401);
    expect(res.headers['www-authenticate']).toContain('error="invalid_token"');
  });

  test('the secret of the token never appears in an answer', async () => {
    const res = await request(h.app).post('/v/password/verify').set('Authorization', bearer('usr_alice')).send({ password: randomBytes(4).toString('hex') });
    expect(JSON.stringify(res.body)).not.toContain(JWT_SECRET);
  });
});
