/**
 * Delegated step-up (a fresh sign-in at the identity provider instead of a record) and RFC 9470
 * challenges, through createStepUp and requireVerification with tokens carrying auth_time/acr/amr.
 */
import express from 'express';
import jwt from 'jsonwebtoken';
import request from 'supertest';
import { createStepUp, jwtAuthenticator, parseStepUpChallenge, withVerification, type StepUpChallenge } from '../lib/index';
import { JWT_SECRET, PASSWORDS, testUsers, UNLIMITED } from './helpers/harness';

const nowS = () => Math.floor(Date.now() / 1000);
const token = (claims: Record<string, unknown>) => `Bearer ${jwt.sign({ sub: 'usr_alice', ...claims }, JWT_SECRET, { algorithm: 'HS256', expiresIn: 300 })}`;

async function app() {
  const users = await testUsers();
  const stepUp = createStepUp({
    authenticate: jwtAuthenticator({ secret: JWT_SECRET, algorithms: ['HS256'] }),
    users: { findById: (id) => users.get(id) ?? null },
    secret: 's'.repeat(32),
    limits: UNLIMITED,
    // No sender: codes cannot reach anyone, so refusals offer only the password (requirement.methods is narrowed per user).
    onWarning: () => undefined,
  });
  const ok = (req: express.Request, res: express.Response) => res.json({ verification: req.verification });
  const a = express();
  a.use('/v', stepUp.router);
  a.get('/fresh', stepUp.requireVerification({ maxAge: 300, acceptAuthTime: true }), ok);
  a.get('/acr', stepUp.requireVerification({ maxAge: 300, acceptAuthTime: true, acrValues: ['urn:bank:aal2'] }), ok);
  a.get('/pwd', stepUp.requireVerification({ maxAge: 300, acceptAuthTime: true, methods: ['password'] }), ok);
  a.get('/either', stepUp.requireVerification({ maxAge: 300, acceptAuthTime: true, methods: ['phone'], acrValues: ['urn:bank:aal2'] }), ok);
  a.get('/totp', stepUp.requireVerification({ maxAge: 300, acceptAuthTime: true, methods: ['totp'] }), ok);
  a.get('/passkey', stepUp.requireVerification({ maxAge: 300, acceptAuthTime: true, methods: ['passkey'] }), ok);
  a.get('/records-only', stepUp.requireVerification({ maxAge: 300 }), ok);
  a.get('/rfc9470', stepUp.requireVerification({ maxAge: 300, challenge: 'rfc9470', acrValues: ['urn:bank:aal2', 'urn:bank:aal3'] }), ok);
  return { app: a, stepUp };
}

describe('acceptAuthTime: the provider fresh sign-in instead of a record', () => {
  let h: Awaited<ReturnType<typeof app>>;
  beforeAll(async () => {
    h = await app();
  });

  test('a sign-in within maxAge passes without a record; req.verification tells what it was', async () => {
    const res = await request(h.app).get('/fresh').set('Authorization', token({ auth_time: nowS() - 60 }));
    expect(res.status).toBe(200);
    expect(res.body.verification).toEqual({ source: 'sign_in', userId: 'usr_alice', method: 'sign_in', verifiedAt: expect.any(String) });
  });

  test('a stale sign-in is refused with the requirement; a record still works on the same route', async () => {
    const stale = token({ auth_time: nowS() - 301 });
    const res = await request(h.app).get('/fresh').set('Authorization', stale);
    expect(res.status).toBe(403);
    expect(res.body).toEqual({ code: 'verification.required', message: expect.any(String), requirement: { methods: ['password'], maxAge: 300 } });
    const record = await request(h.app).post('/v/password/verify').set('Authorization', stale).send({ password: PASSWORDS.usr_alice });
    const passed = await request(h.app).get('/fresh').set('Authorization', stale).set('Verification-Id', record.body.verificationRecordId);
    expect(passed.status).toBe(200);
    expect(passed.body.verification).toMatchObject({ source: 'record', method: 'password' });
  });

  test.each([
    ['auth_time in milliseconds (a provider bug: it would look fresh for ever)', { auth_time: Date.now() }],
    ['auth_time in the future', { auth_time: nowS() + 3600 }],
    ['no auth_time', {}],
  ])('%s: refused', async (_label, claims) => {
    expect((await request(h.app).get('/fresh').set('Authorization', token(claims))).status).toBe(403);
  });

  test('a route without acceptAuthTime ignores a fresh sign-in', async () => {
    expect((await request(h.app).get('/records-only').set('Authorization', token({ auth_time: nowS() }))).status).toBe(403);
  });

  test('acrValues: the acr must be one of them', async () => {
    const fresh = nowS() - 10;
    expect((await request(h.app).get('/acr').set('Authorization', token({ auth_time: fresh, acr: 'urn:bank:aal2' }))).status).toBe(200);
    const weak = await request(h.app).get('/acr').set('Authorization', token({ auth_time: fresh, acr: 'urn:bank:aal1' }));
    expect(weak.status).toBe(403);
    expect(weak.body.requirement).toEqual({ methods: ['password'], maxAge: 300, acrValues: ['urn:bank:aal2'] });
    expect((await request(h.app).get('/acr').set('Authorization', token({ auth_time: fresh }))).status).toBe(403);
  });

  test('methods: the amr (RFC 8176) must name one of them; req.verification.method says which', async () => {
    const fresh = nowS() - 10;
    const pwd = await request(h.app).get('/pwd').set('Authorization', token({ auth_time: fresh, amr: ['pwd', 'mfa'] }));
    expect(pwd.status).toBe(200);
    expect(pwd.body.verification).toMatchObject({ source: 'sign_in', method: 'password' });
    expect((await request(h.app).get('/pwd').set('Authorization', token({ auth_time: fresh, amr: ['otp'] }))).status).toBe(403);
    expect((await request(h.app).get('/pwd').set('Authorization', token({ auth_time: fresh }))).status).toBe(403);
  });

  test('no amr stands for a TOTP app or a passkey: otp may be an emailed code, hwk/swk a key without user verification', async () => {
    const fresh = nowS() - 10;
    for (const amr of [['otp'], ['hwk'], ['swk'], ['hwk', 'swk', 'otp', 'mfa']]) {
      for (const path of ['/totp', '/passkey']) {
        const res = await request(h.app).get(path).set('Authorization', token({ auth_time: fresh, amr }));
        expect([path, amr, res.status]).toEqual([path, amr, 403]);
      }
    }
  });

  test('acr or amr: either one satisfies a route that sets both', async () => {
    const fresh = nowS() - 10;
    expect((await request(h.app).get('/either').set('Authorization', token({ auth_time: fresh, acr: 'urn:bank:aal2' }))).status).toBe(200);
    expect((await request(h.app).get('/either').set('Authorization', token({ auth_time: fresh, amr: ['sms'] }))).status).toBe(200);
    expect((await request(h.app).get('/either').set('Authorization', token({ auth_time: fresh, amr: ['pwd'], acr: 'x' }))).status).toBe(403);
  });

  test('refused at startup on single-use and action-bound routes', () => {
    expect(() => h.stepUp.requireVerification({ acceptAuthTime: true, singleUse: true })).toThrow(
      expect.objectContaining({ code: 'ERR_STEP_UP_INVALID_OPTION', message: expect.stringMatching(/singleUse/) }),
    );
    expect(() => h.stepUp.requireVerification({ acceptAuthTime: true, action: () => ({ type: 't' }) })).toThrow(
      expect.objectContaining({ code: 'ERR_STEP_UP_INVALID_OPTION' }),
    );
    expect(() => h.stepUp.requireVerification({ acrValues: ['x'] })).toThrow(expect.objectContaining({ code: 'ERR_STEP_UP_INVALID_OPTION' }));
  });
});

describe("challenge: 'rfc9470'", () => {
  let h: Awaited<ReturnType<typeof app>>;
  let base = '';
  let close: () => void = () => undefined;
  beforeAll(async () => {
    h = await app();
    const server = h.app.listen(0, '127.0.0.1');
    await new Promise((resolve) => server.once('listening', resolve));
    base = `http://127.0.0.1:${(server.address() as import('node:net').AddressInfo).port}`;
    close = () => server.close();
  });
  afterAll(() => close());

  test('a refusal is 401 with the RFC 9470 challenge, read by a real OAuth client library; the JSON body is unchanged', async () => {
    const oauth = await import('oauth4webapi');
    const accessToken = token({}).slice('Bearer '.length);
    let caught: unknown;
    try {
      await oauth.protectedResourceRequest(accessToken, 'GET', new URL(`${base}/rfc9470`), undefined, undefined, { [oauth.allowInsecureRequests]: true });
    } catch (error) {
      caught = error;
    }
    expect(caught).toBeInstanceOf(oauth.WWWAuthenticateChallengeError);
    const challenges = (caught as InstanceType<typeof oauth.WWWAuthenticateChallengeError>).cause;
    expect(challenges).toEqual([
      {
        scheme: 'bearer',
        parameters: {
          error: 'insufficient_user_authentication',
          error_description: expect.any(String),
          max_age: '300',
          acr_values: 'urn:bank:aal2 urn:bank:aal3',
        },
      },
    ]);
    const res = await request(h.app).get('/rfc9470').set('Authorization', token({}));
    expect(res.status).toBe(401);
    expect(res.headers['cache-control']).toBe('no-store');
    expect(res.body).toEqual({
      code: 'verification.required',
      message: expect.any(String),
      requirement: { methods: ['password'], maxAge: 300, acrValues: ['urn:bank:aal2', 'urn:bank:aal3'] },
    });
  });

  test('withVerification hands the parsed challenge to the app, and still retries with a record', async () => {
    const seen: Array<StepUpChallenge | undefined> = [];
    const auth = token({});
    const record = await request(h.app).post('/v/password/verify').set('Authorization', auth).send({ password: PASSWORDS.usr_alice });
    const api = withVerification((input, init) => fetch(input, init), {
      onVerificationRequired: (_requirement, context) => {
        seen.push(context.challenge);
        return record.body.verificationRecordId as string;
      },
    });
    const res = await api(`${base}/rfc9470`, { headers: { Authorization: auth } });
    expect(res.status).toBe(200);
    expect(seen).toEqual([{ error: 'insufficient_user_authentication', errorDescription: expect.any(String), maxAge: 300, acrValues: 'urn:bank:aal2 urn:bank:aal3' }]);
  });

  test('the parser reads quoted-strings with escapes and ignores other challenges', () => {
    expect(
      parseStepUpChallenge('Basic realm="x", Bearer realm="a, b", error="insufficient_user_authentication", error_description="say \\"again\\"", max_age=60'),
    ).toEqual({ error: 'insufficient_user_authentication', errorDescription: 'say "again"', maxAge: 60 });
    expect(parseStepUpChallenge('Bearer error="invalid_token"')).toBeNull();
    expect(parseStepUpChallenge(null)).toBeNull();
  });
});
