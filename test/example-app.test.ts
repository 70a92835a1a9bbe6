import request from 'supertest';
import { ALICE, BOB, startExample } from './helpers/example';
import { STORE_KINDS } from './helpers/harness';

describe('example app sign-in', () => {
  test('failed sign-ins are limited per email; the right password is then refused too', async () => {
    const ex = await startExample('memory');
    for (let i = 0; i < 10; i += 1) {
      await request(ex.app).post('/api/sign-in').send({ email: BOB.email, password: `guess-${i}` }).expect(401);
    }
    const res = await request(ex.app).post('/api/sign-in').send({ email: 'BOB@example.com', password: BOB.password });
    expect(res.status).toBe(429);
    expect(res.headers['retry-after']).toBeDefined();
    await request(ex.app).post('/api/sign-in').send({ email: ALICE.email, password: ALICE.password }).expect(200);
    await ex.close();
  });

  test('oversized headers and malformed requests get JSON answers, never a 5xx', async () => {
    const { answerClientErrorsAsJson } = await import('../example-app/client-errors');
    const net = await import('node:net');
    const ex = await startExample('memory');
    const server = ex.app.listen(0, '127.0.0.1');
    answerClientErrorsAsJson(server);
    await new Promise((resolve) => server.once('listening', resolve));
    const { port } = server.address() as import('node:net').AddressInfo;
    const raw = (text: string) =>
      new Promise<string>((resolve) => {
        const socket = net.connect(port, '127.0.0.1', () => socket.end(text));
        let answer = '';
        socket.on('data', (chunk) => (answer += chunk.toString()));
        socket.on('close', () => resolve(answer));
      });
    const big = await raw(`GET /api/payslips HTTP/1.1\r\nHost: x\r\nVerification-Id: ${'v'.repeat(20_000)}\r\n\r\n`);
    expect(big).toMatch(/^HTTP\/1\.1 431 /);
    expect(big).toContain('Content-Type: application/json');
    expect(big).toContain('"code":"request.headers_too_large"');
    const garbage = await raw('NOT HTTP AT ALL\r\n\r\n');
    expect(garbage).toMatch(/^HTTP\/1\.1 400 /);
    expect(garbage).toContain('"code":"request.malformed"');
    server.close();
    await ex.close();
  });

  test('my-account/security says which second factors the user has, never a credential or secret', async () => {
    const ex = await startExample('memory');
    await request(ex.app).get('/api/my-account/security').expect(401);
    const auth = await ex.signIn(BOB);
    const before = await request(ex.app).get('/api/my-account/security').set('Authorization', auth);
    expect(before.status).toBe(200);
    expect(before.headers['cache-control']).toBe('no-store');
    // Never stored, so no ETag either; and Express matches routes case-insensitively: no-store too.
    expect(before.headers.etag).toBeUndefined();
    const upper = await request(ex.app).get('/API/My-Account/security').set('Authorization', auth);
    expect(upper.status).toBe(200);
    expect(upper.headers['cache-control']).toBe('no-store');
    expect(before.body).toEqual({ passkeys: 0, totp: false });
    // What the library hands the user port when a passkey is registered and TOTP enrolled.
    ex.users.savePasskey(BOB.id, { id: 'Y3JlZC0x', publicKey: 'cHVibGljLWtleQ', counter: 0, transports: ['internal'] });
    ex.users.savePasskey(BOB.id, { id: 'Y3JlZC0x', publicKey: 'cHVibGljLWtleQ', counter: 0 });
    ex.users.saveTotpSecret(BOB.id, 'sealed-secret');
    const after = await request(ex.app).get('/api/my-account/security').set('Authorization', auth);
    expect(after.body).toEqual({ passkeys: 1, totp: true });
    expect(JSON.stringify(after.body)).not.toContain('sealed-secret');
    ex.users.updatePasskeyCounter(BOB.id, 'Y3JlZC0x', 7);
    expect(ex.users.listPasskeys(BOB.id)).toEqual([{ id: 'Y3JlZC0x', publicKey: 'cHVibGljLWtleQ', counter: 7 }]);
    expect(ex.users.findById(BOB.id)?.totpSecret).toBe('sealed-secret');
    await ex.close();
  });

  test('no-store also for a request line with an absolute URL (what the router matches is its path)', async () => {
    const net = await import('node:net');
    const ex = await startExample('memory');
    const server = ex.app.listen(0, '127.0.0.1');
    await new Promise((resolve) => server.once('listening', resolve));
    const { port } = server.address() as import('node:net').AddressInfo;
    const answer = await new Promise<string>((resolve) => {
      const socket = net.connect(port, '127.0.0.1', () => socket.end(`GET http://127.0.0.1:${port}/api/demo-info HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n`));
      let text = '';
      socket.on('data', (chunk) => (text += chunk.toString()));
      socket.on('close', () => resolve(text));
    });
    expect(answer).toMatch(/^HTTP\/1\.1 200 /);
    expect(answer).toMatch(/\r\nCache-Control: no-store\r\n/i);
    server.close();
    await ex.close();
  });

  test('passkeys expect the page at localhost by default, or where WEBAUTHN_RP_ID / WEBAUTHN_ORIGIN say', async () => {
    const { readConfig } = await import('../example-app/config');
    expect(readConfig({ PORT: '8080' }, () => undefined).webauthn).toEqual({ rpId: 'localhost', origin: 'http://localhost:8080' });
    expect(readConfig({}, () => undefined).webauthn).toEqual({ rpId: 'localhost', origin: 'http://localhost:3000' });
    const set = readConfig({ WEBAUTHN_RP_ID: 'bank.example', WEBAUTHN_ORIGIN: 'https://app.bank.example' }, () => undefined);
    expect(set.webauthn).toEqual({ rpId: 'bank.example', origin: 'https://app.bank.example' });
  });

  /** The example app on a Redis that is not there (port 1, no retries): every store call fails. */
  const withDeadRedis = async () => {
    const Redis = (await import('ioredis')).default;
    const { RedisStore } = await import('../lib/index');
    const { createExampleApp } = await import('../example-app/app');
    const { readConfig } = await import('../example-app/config');
    const dead = new Redis({ port: 1, lazyConnect: true, enableOfflineQueue: false, maxRetriesPerRequest: 0, retryStrategy: () => null });
    dead.on('error', () => undefined);
    const { app } = await createExampleApp({ config: readConfig({}, () => undefined), store: new RedisStore({ client: dead }), log: () => undefined });
    return { app, close: () => dead.disconnect() };
  };

  test('healthz answers 503 when the store does not', async () => {
    const { app, close } = await withDeadRedis();
    const res = await request(app).get('/healthz');
    expect(res.status).toBe(503);
    close();
  });

  test('sign-in answers JSON 503 when the store behind its limits does not (no crash on Express 4)', async () => {
    const { app, close } = await withDeadRedis();
    const res = await request(app).post('/api/sign-in').send({ email: ALICE.email, password: 'wrong' });
    expect(res.status).toBe(503);
    expect(res.body).toEqual({ code: 'verification.unavailable', message: expect.any(String) });
    close();
  });
});

describe.each(STORE_KINDS)('example app, password step-up (%s store)', (kind) => {
  let ex: Awaited<ReturnType<typeof startExample>>;
  beforeAll(async () => {
    ex = await startExample(kind);
  });
  afterAll(() => ex.close());

  const verifyPassword = async (auth: string, password = ALICE.password): Promise<string> => {
    const res = await request(ex.app).post('/api/verifications/password/verify').set('Authorization', auth).send({ password });
    expect(res.status).toBe(201);
    return res.body.verificationRecordId as string;
  };
  const payout = { amount: 125.5, currency: 'USD', destination: 'DE89 3704 0044 0532 0130 00' };

  test('healthz answers 200 while the store answers', async () => {
    await request(ex.app).get('/healthz').expect(200, { status: 'ok' });
  });

  test('sign-in: 200 with a bearer token; wrong password or unknown email 401', async () => {
    const res = await request(ex.app).post('/api/sign-in').send({ email: ALICE.email, password: ALICE.password });
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ access_token: expect.any(String), token_type: 'Bearer', expires_in: 900 });
    await request(ex.app).post('/api/sign-in').send({ email: ALICE.email, password: 'nope' }).expect(401);
    await request(ex.app).post('/api/sign-in').send({ email: 'nobody@example.com', password: 'nope' }).expect(401);
  });

  test('my-account needs a token of an existing account and shows the account', async () => {
    await request(ex.app).get('/api/my-account').expect(401);
    const jwt = (await import('jsonwebtoken')).default;
    const ghost = jwt.sign({ sub: 'usr_ghost' }, ex.config.jwtSecret, { algorithm: 'HS256', expiresIn: 60 });
    await request(ex.app).get('/api/my-account').set('Authorization', `Bearer ${ghost}`).expect(401);
    const res = await request(ex.app).get('/api/my-account').set('Authorization', await ex.signIn(ALICE));
    expect(res.body).toEqual({ id: ALICE.id, email: ALICE.email, phone: ALICE.phone });
  });

  test('payout: 403 without verification, then one payout per verification', async () => {
    const auth = await ex.signIn(ALICE);
    const refused = await request(ex.app).post('/api/payouts').set('Authorization', auth).send(payout);
    expect(refused.status).toBe(403);
    expect(refused.body).toMatchObject({ code: 'verification.required', requirement: { methods: ['password', 'email', 'phone'], maxAge: 300 } });

    const id = await verifyPassword(auth);
    const paid = await request(ex.app).post('/api/payouts').set('Authorization', auth).set('Verification-Id', id).send(payout);
    expect(paid.status).toBe(201);
    expect(paid.body).toMatchObject({ status: 'accepted', amount: 125.5, currency: 'USD', by: ALICE.id });

    const again = await request(ex.app).post('/api/payouts').set('Authorization', auth).set('Verification-Id', id).send(payout);
    expect(again.status).toBe(403);
    expect(again.body.code).toBe('verification.invalid');
  });

  test('a bad payout body is refused with 400 before the record is spent', async () => {
    const auth = await ex.signIn(ALICE);
    const id = await verifyPassword(auth);
    const bad = await request(ex.app).post('/api/payouts').set('Authorization', auth).set('Verification-Id', id).send({ amount: -1 });
    expect(bad.status).toBe(400);
    expect(bad.body.code).toBe('request.invalid_input');
    await request(ex.app).post('/api/payouts').set('Authorization', auth).set('Verification-Id', id).send(payout).expect(201);
  });

  test("bob cannot pay out with alice's record", async () => {
    const id = await verifyPassword(await ex.signIn(ALICE));
    const res = await request(ex.app).post('/api/payouts').set('Authorization', await ex.signIn(BOB)).set('Verification-Id', id).send(payout);
    expect(res.status).toBe(403);
    expect(res.body.code).toBe('verification.invalid');
  });

  test('payslips: reusable within 10 minutes', async () => {
    const auth = await ex.signIn(ALICE);
    await request(ex.app).get('/api/payslips').set('Authorization', auth).expect(403);
    const id = await verifyPassword(auth);
    for (let i = 0; i < 2; i += 1) {
      const res = await request(ex.app).get('/api/payslips').set('Authorization', auth).set('Verification-Id', id);
      expect(res.status).toBe(200);
      expect(res.body.payslips.length).toBeGreaterThan(0);
    }
  });

  test('password change: needs verification; then the new password works and the old no longer', async () => {
    const auth = await ex.signIn(BOB);
    const newPassword = 'a-brand-new-passphrase';
    await request(ex.app).post('/api/my-account/password').set('Authorization', auth).send({ password: newPassword }).expect(403);
    const id = await verifyPassword(auth, BOB.password);
    await request(ex.app).post('/api/my-account/password').set('Authorization', auth).set('Verification-Id', id).send({ password: newPassword }).expect(204);
    await request(ex.app).post('/api/sign-in').send({ email: BOB.email, password: BOB.password }).expect(401);
    await request(ex.app).post('/api/sign-in').send({ email: BOB.email, password: newPassword }).expect(200);
    // the password step-up now wants the new password too
    await request(ex.app).post('/api/verifications/password').set('Authorization', auth).send({ password: BOB.password }).expect(422);
    await request(ex.app).post('/api/verifications/password').set('Authorization', auth).send({ password: newPassword }).expect(201);
  });

  test('app routes parse JSON like the router: 400, 415', async () => {
    const auth = await ex.signIn(ALICE);
    const bad = await request(ex.app).post('/api/payouts').set('Authorization', auth).set('Content-Type', 'application/json').send('{"amount":');
    expect(bad.status).toBe(400);
    expect(bad.body.code).toBe('request.invalid_json');
    const form = await request(ex.app).post('/api/sign-in').set('Content-Type', 'application/x-www-form-urlencoded').send('email=a&password=b');
    expect(form.status).toBe(415);
    expect(form.body.code).toBe('request.unsupported_media_type');
  });

  test('unknown API routes answer JSON 404', async () => {
    const res = await request(ex.app).get('/api/nope');
    expect(res.status).toBe(404);
    expect(res.body.code).toBe('request.not_found');
  });

  // What the browser test (test/e2e, Express 5 only) loads, served the same by express.static on both majors.
  test('the demo page, its script and stylesheet: served with the strict CSP, nosniff, no referrer', async () => {
    const expected: Array<[string, RegExp]> = [
      ['/', /^text\/html/],
      ['/app.js', /^text\/javascript/],
      ['/styles.css', /^text\/css/],
      ['/favicon.svg', /^image\/svg\+xml/],
    ];
    for (const [url, type] of expected) {
      const res = await request(ex.app).get(url);
      expect(res.status).toBe(200);
      expect(res.headers['content-type']).toMatch(type);
      expect(res.headers['content-security-policy']).toBe(
        "default-src 'self'; script-src 'self'; style-src 'self'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'",
      );
      expect(res.headers['x-content-type-options']).toBe('nosniff');
      expect(res.headers['referrer-policy']).toBe('no-referrer');
      expect(res.headers['x-powered-by']).toBeUndefined();
    }
    expect((await request(ex.app).get('/')).text).toContain('src="/app.js"');
    // The script is asked for again on every load (no-cache): unchanged, it answers 304.
    const script = await request(ex.app).get('/app.js');
    expect(script.headers['cache-control']).toBe('no-cache');
    expect(script.headers.etag).toMatch(/^"[\w-]{27}"$/);
    await request(ex.app).get('/app.js').set('If-None-Match', script.headers.etag as string).expect(304);
    expect((await request(ex.app).get('/api/demo-info')).body).toEqual({ delivery: { email: 'console', phone: 'console' } });
    expect((await request(ex.app).get('/missing.html')).status).toBe(404);
  });
});
