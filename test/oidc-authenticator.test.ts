import { createPublicKey } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import type { Request } from 'express';
import { exportSPKI, SignJWT } from 'jose';
import request from 'supertest';
import { oidcAuthenticator, VerificationError, type OidcAuthenticatorOptions } from '../lib/index';
import { JWKS_REFETCH_COOLDOWN_MS, PROVIDER_RETRY_AFTER_MS } from '../lib/auth/oidc';
import { bearer, harness, PASSWORDS, type Harness } from './helpers/harness';
import { closedPort, makeKey, OidcStandIn, SilentServer, type StandInKey } from './helpers/oidc-provider';

const AUDIENCE = 'https://api.example.test';
const INVALID_TOKEN_CHALLENGE = 'Bearer realm="express-step-up", error="invalid_token"';

const fakeReq = (authorization?: string) => ({ headers: authorization === undefined ? {} : { authorization } }) as unknown as Request;

/** What the authenticator did with a token: the principal, or the error it threw (anything else fails the test). */
async function outcome(authenticate: (req: Request) => Promise<unknown>, token: string): Promise<unknown> {
  try {
    return await authenticate(fakeReq(`Bearer ${token}`));
  } catch (error) {
    if (!(error instanceof VerificationError)) throw error;
    return error;
  }
}

const refusedAsInvalid = expect.objectContaining({
  code: 'auth.unauthorized',
  status: 401,
  headers: { 'WWW-Authenticate': INVALID_TOKEN_CHALLENGE },
});
const refusedAsUnavailable = expect.objectContaining({ code: 'auth.unavailable', status: 503, headers: { 'Retry-After': '5' } });

/** Date.now as jose and the authenticator see it, moved forward by tests (token `exp` is checked against `new Date()`, which is not moved). */
const clock = { offset: 0 };
const realNow = Date.now.bind(Date);
beforeEach(() => {
  clock.offset = 0;
  jest.spyOn(Date, 'now').mockImplementation(() => realNow() + clock.offset);
});
afterEach(() => jest.restoreAllMocks());

let provider: OidcStandIn;
/** The provider's RS256 key, made once (RSA key generation takes up to a second) and published by every stand-in. */
let rsa: StandInKey;
beforeAll(async () => {
  rsa = await makeKey('RS256');
});
beforeEach(async () => {
  provider = await OidcStandIn.start();
  provider.publish(rsa);
});
afterEach(() => provider.close());

const authenticatorFor = (options: Partial<OidcAuthenticatorOptions> = {}) =>
  oidcAuthenticator({ issuer: provider.issuer, audience: AUDIENCE, timeoutMs: 500, ...options });

describe('oidcAuthenticator: tokens that pass', () => {
  test.each(['RS256', 'PS256', 'ES256', 'EdDSA'] as const)('%s token from the provider gives its principal', async (alg) => {
    const key = alg === 'RS256' ? rsa : await provider.createKey(alg);
    const authenticate = authenticatorFor();
    const token = await provider.sign(key, AUDIENCE, { claims: { sid: 'sess-1', auth_time: 1_700_000_000, acr: 'urn:bank:aal2', amr: ['pwd', 'otp'] } });
    await expect(authenticate(fakeReq(`Bearer ${token}`))).resolves.toEqual({
      userId: 'usr_alice',
      sessionId: 'sess-1',
      authTime: 1_700_000_000,
      acr: 'urn:bank:aal2',
      amr: ['pwd', 'otp'],
    });
  });

  test('a token with only sub gives just the user id', async () => {
    const authenticate = authenticatorFor();
    await expect(authenticate(fakeReq(`Bearer ${await provider.sign(rsa, AUDIENCE)}`))).resolves.toEqual({ userId: 'usr_alice' });
  });

  test('aud as an array naming this API passes; one of several configured audiences passes', async () => {
    const token = await provider.sign(rsa, AUDIENCE, { claims: { aud: ['https://other.example.test', AUDIENCE] } });
    await expect(outcome(authenticatorFor(), token)).resolves.toEqual({ userId: 'usr_alice' });
    const other = await provider.sign(rsa, 'https://second.example.test');
    await expect(outcome(authenticatorFor({ audience: [AUDIENCE, 'https://second.example.test'] }), other)).resolves.toEqual({ userId: 'usr_alice' });
  });

  test('ES384 (Logto\'s default keys) passes when allowed explicitly, and not by default', async () => {
    const es384 = await provider.createKey('ES384');
    const token = await provider.sign(es384, AUDIENCE);
    await expect(outcome(authenticatorFor({ algorithms: ['ES384'] }), token)).resolves.toEqual({ userId: 'usr_alice' });
    await expect(outcome(authenticatorFor(), token)).resolves.toEqual(refusedAsInvalid);
  });

  test('no Authorization header: unauthenticated (null), and the provider is not asked', async () => {
    await expect(authenticatorFor()(fakeReq())).resolves.toBeNull();
    expect(provider.requests).toEqual({ discovery: 0, jwks: 0 });
  });

  test('clock tolerance: a token expired 10 s ago passes with 30 s of tolerance, not without', async () => {
    const now = Math.floor(realNow() / 1000);
    const token = await provider.sign(rsa, AUDIENCE, { claims: { iat: now - 310, exp: now - 10 } });
    await expect(outcome(authenticatorFor({ clockToleranceSeconds: 30 }), token)).resolves.toEqual({ userId: 'usr_alice' });
    await expect(outcome(authenticatorFor(), token)).resolves.toEqual(refusedAsInvalid);
  });

  test('a token without kid passes only while exactly one key of the set fits its algorithm', async () => {
    const token = await provider.sign(rsa, AUDIENCE, { header: { kid: undefined } });
    await expect(outcome(authenticatorFor(), token)).resolves.toEqual({ userId: 'usr_alice' });
    provider.publish(await makeKey('RS256'));
    await expect(outcome(authenticatorFor(), token)).resolves.toEqual(refusedAsInvalid);
  });

  test('typ: when configured, only tokens with that typ header pass', async () => {
    const authenticate = authenticatorFor({ typ: 'at+jwt' });
    await expect(outcome(authenticate, await provider.sign(rsa, AUDIENCE))).resolves.toEqual({ userId: 'usr_alice' });
    await expect(outcome(authenticate, await provider.sign(rsa, AUDIENCE, { header: { typ: 'JWT' } }))).resolves.toEqual(refusedAsInvalid);
  });
});

describe('oidcAuthenticator: discovery and the key set', () => {
  test('without jwksUri: one discovery, one key-set fetch, then both cached', async () => {
    const authenticate = authenticatorFor();
    for (let i = 0; i < 5; i += 1) {
      await expect(outcome(authenticate, await provider.sign(rsa, AUDIENCE))).resolves.toEqual({ userId: 'usr_alice' });
    }
    expect(provider.requests).toEqual({ discovery: 1, jwks: 1 });
  });

  test('concurrent first requests share one discovery and one key-set fetch', async () => {
    const authenticate = authenticatorFor();
    const token = await provider.sign(rsa, AUDIENCE);
    const results = await Promise.all(Array.from({ length: 20 }, () => outcome(authenticate, token)));
    expect(results.every((result) => (result as { userId?: string }).userId === 'usr_alice')).toBe(true);
    expect(provider.requests).toEqual({ discovery: 1, jwks: 1 });
  });

  test('with jwksUri: no discovery at all', async () => {
    const authenticate = authenticatorFor({ jwksUri: provider.jwksUri });
    await expect(outcome(authenticate, await provider.sign(rsa, AUDIENCE))).resolves.toEqual({ userId: 'usr_alice' });
    expect(provider.requests).toEqual({ discovery: 0, jwks: 1 });
  });

  test('a discovery document naming another issuer is refused (503, reported), and discovery is tried again after the pause', async () => {
    const reported: Error[] = [];
    const authenticate = authenticatorFor({ onProviderError: (error) => reported.push(error) });
    provider.discoveryOverride = { issuer: 'http://127.0.0.1:1/evil', jwks_uri: provider.jwksUri };
    const token = await provider.sign(rsa, AUDIENCE);
    await expect(outcome(authenticate, token)).resolves.toEqual(refusedAsUnavailable);
    expect(provider.requests).toEqual({ discovery: 1, jwks: 0 });
    expect(reported).toHaveLength(1);
    expect(reported[0]?.message).toMatch(/names another issuer/);
    expect(reported[0]?.message).not.toContain(token);

    // Within the pause: answered at once, the provider not asked again.
    await expect(outcome(authenticate, token)).resolves.toEqual(refusedAsUnavailable);
    expect(provider.requests.discovery).toBe(1);

    // After the pause, with the document fixed: discovered again, and the token passes.
    provider.discoveryOverride = undefined;
    clock.offset += PROVIDER_RETRY_AFTER_MS + 1;
    await expect(outcome(authenticate, token)).resolves.toEqual({ userId: 'usr_alice' });
    expect(provider.requests).toEqual({ discovery: 2, jwks: 1 });
  });

  test.each([
    ['no jwks_uri', (p: OidcStandIn) => ({ issuer: p.issuer })],
    ['a jwks_uri over http to a non-loopback host', (p: OidcStandIn) => ({ issuer: p.issuer, jwks_uri: 'http://keys.example.test/jwks' })],
    ['not an object', () => ['a', 'list'] as unknown as Record<string, unknown>],
  ])('a discovery document with %s: 503', async (_label, document) => {
    provider.discoveryOverride = document(provider);
    await expect(outcome(authenticatorFor(), await provider.sign(rsa, AUDIENCE))).resolves.toEqual(refusedAsUnavailable);
    expect(provider.requests.jwks).toBe(0);
  });

  test('the provider answering 500: 503, never a pass', async () => {
    provider.failWith = 500;
    await expect(outcome(authenticatorFor(), await provider.sign(rsa, AUDIENCE))).resolves.toEqual(refusedAsUnavailable);
    await expect(outcome(authenticatorFor({ jwksUri: provider.jwksUri }), await provider.sign(rsa, AUDIENCE))).resolves.toEqual(refusedAsUnavailable);
  });
});

describe('oidcAuthenticator: key rotation', () => {
  test('a token signed by a rotated-in key passes after exactly one refetch', async () => {
    const authenticate = authenticatorFor();
    await expect(outcome(authenticate, await provider.sign(rsa, AUDIENCE))).resolves.toEqual({ userId: 'usr_alice' });
    expect(provider.requests.jwks).toBe(1);

    clock.offset += JWKS_REFETCH_COOLDOWN_MS + 1_000;
    const rotated = await provider.createKey('ES256');
    for (let i = 0; i < 3; i += 1) {
      await expect(outcome(authenticate, await provider.sign(rotated, AUDIENCE))).resolves.toEqual({ userId: 'usr_alice' });
    }
    await expect(outcome(authenticate, await provider.sign(rsa, AUDIENCE))).resolves.toEqual({ userId: 'usr_alice' });
    expect(provider.requests).toEqual({ discovery: 1, jwks: 2 });
  });

  test('a key published less than 30 s after the last fetch is refused until the cooldown ends (jose counts from the last successful fetch)', async () => {
    const authenticate = authenticatorFor();
    await expect(outcome(authenticate, await provider.sign(rsa, AUDIENCE))).resolves.toEqual({ userId: 'usr_alice' });
    const rotated = await provider.createKey('RS256');
    const token = await provider.sign(rotated, AUDIENCE);
    clock.offset += JWKS_REFETCH_COOLDOWN_MS - 1_000;
    await expect(outcome(authenticate, token)).resolves.toEqual(refusedAsInvalid);
    expect(provider.requests.jwks).toBe(1);
    clock.offset += 2_000;
    await expect(outcome(authenticate, token)).resolves.toEqual({ userId: 'usr_alice' });
    expect(provider.requests.jwks).toBe(2);
  });

  test('a flood of unknown kids causes at most one refetch per 30 s', async () => {
    const authenticate = authenticatorFor();
    await expect(outcome(authenticate, await provider.sign(rsa, AUDIENCE))).resolves.toEqual({ userId: 'usr_alice' });
    expect(provider.requests.jwks).toBe(1);
    const unknown = await provider.createKey('RS256', { publish: false });
    const flood = async (count: number) => {
      const tokens = await Promise.all(Array.from({ length: count }, (_, i) => provider.sign(unknown, AUDIENCE, { header: { kid: `unknown-${i}` } })));
      // Half at once (sharing one fetch), half one after another (each after the previous fetch ended).
      const together = await Promise.all(tokens.slice(0, count / 2).map((token) => outcome(authenticate, token)));
      const inTurn: unknown[] = [];
      for (const token of tokens.slice(count / 2)) inTurn.push(await outcome(authenticate, token));
      expect([...together, ...inTurn]).toEqual(Array(count).fill(refusedAsInvalid));
    };

    await flood(40); // within 30 s of the first fetch: none
    expect(provider.requests.jwks).toBe(1);
    clock.offset += JWKS_REFETCH_COOLDOWN_MS + 1;
    await flood(40); // cooldown over: exactly one
    expect(provider.requests.jwks).toBe(2);
    clock.offset += JWKS_REFETCH_COOLDOWN_MS - 1_000;
    await flood(40); // 29 s later: none
    expect(provider.requests.jwks).toBe(2);
    clock.offset += 2_000;
    await flood(40); // 31 s after the last: one more
    expect(provider.requests).toEqual({ discovery: 1, jwks: 3 });
  });

  test('while the key set cannot be fetched, unknown kids cause at most one attempt per pause, each answered 503', async () => {
    const authenticate = authenticatorFor({ jwksUri: provider.jwksUri });
    await expect(outcome(authenticate, await provider.sign(rsa, AUDIENCE))).resolves.toEqual({ userId: 'usr_alice' });
    const unknown = await provider.createKey('RS256', { publish: false });
    provider.failWith = 503;
    clock.offset += JWKS_REFETCH_COOLDOWN_MS + 1;
    for (let i = 0; i < 20; i += 1) {
      await expect(outcome(authenticate, await provider.sign(unknown, AUDIENCE))).resolves.toEqual(refusedAsUnavailable);
    }
    expect(provider.requests.jwks).toBe(2);
    // Tokens of the cached key still pass while the provider is down (the set is less than 10 minutes old).
    await expect(outcome(authenticate, await provider.sign(rsa, AUDIENCE))).resolves.toEqual({ userId: 'usr_alice' });
    clock.offset += PROVIDER_RETRY_AFTER_MS + 1;
    await expect(outcome(authenticate, await provider.sign(unknown, AUDIENCE))).resolves.toEqual(refusedAsUnavailable);
    expect(provider.requests.jwks).toBe(3);
  });

  test('a key withdrawn from the set is refused once the cached set is older than 10 minutes', async () => {
    const authenticate = authenticatorFor();
    const token = await provider.sign(rsa, AUDIENCE);
    await expect(outcome(authenticate, token)).resolves.toEqual({ userId: 'usr_alice' });
    await provider.createKey('RS256');
    provider.unpublish(rsa);
    clock.offset += 10 * 60_000 + 1;
    await expect(outcome(authenticate, token)).resolves.toEqual(refusedAsInvalid);
    expect(provider.requests.jwks).toBe(2);
  });
});

describe('oidcAuthenticator: tokens refused with 401 invalid_token', () => {
  const b64 = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64url');
  const claimsNow = () => {
    const now = Math.floor(realNow() / 1000);
    return { iss: provider.issuer, aud: AUDIENCE, sub: 'usr_alice', iat: now, exp: now + 300 };
  };

  const cases: Array<[string, () => Promise<string>]> = [
    ['alg none', async () => `${b64({ alg: 'none', typ: 'JWT' })}.${b64(claimsNow())}.`],
    ['alg none with the kid of a published key', async () => `${b64({ alg: 'none', kid: rsa.kid })}.${b64(claimsNow())}.`],
    [
      'HS256 signed with the public key as a PEM secret',
      async () => {
        const pem = await exportSPKI(createPublicKey({ key: rsa.publicJwk as import('node:crypto').JsonWebKey, format: 'jwk' }));
        return new SignJWT(claimsNow()).setProtectedHeader({ alg: 'HS256', kid: rsa.kid }).sign(new TextEncoder().encode(pem));
      },
    ],
    [
      'HS256 signed with the public JWK as the secret',
      async () => new SignJWT(claimsNow()).setProtectedHeader({ alg: 'HS256', kid: rsa.kid }).sign(new TextEncoder().encode(JSON.stringify(rsa.publicJwk))),
    ],
    ['a wrong iss', () => provider.sign(rsa, AUDIENCE, { claims: { iss: 'https://evil.example.test/oidc' } })],
    ['the issuer with a trailing slash added', () => provider.sign(rsa, AUDIENCE, { claims: { iss: `${provider.issuer}/` } })],
    ['a wrong aud', () => provider.sign(rsa, 'https://other-api.example.test')],
    ['no aud', () => provider.sign(rsa, AUDIENCE, { claims: { aud: undefined } })],
    ['expired', () => provider.sign(rsa, AUDIENCE, { claims: { exp: Math.floor(realNow() / 1000) - 10 } })],
    ['no exp', () => provider.sign(rsa, AUDIENCE, { claims: { exp: undefined } })],
    ['exp as a string', () => provider.sign(rsa, AUDIENCE, { claims: { exp: String(Math.floor(realNow() / 1000) + 300) } })],
    ['nbf in the future', () => provider.sign(rsa, AUDIENCE, { claims: { nbf: Math.floor(realNow() / 1000) + 120 } })],
    ['no sub', () => provider.sign(rsa, AUDIENCE, { claims: { sub: undefined } })],
    ['an empty sub', () => provider.sign(rsa, AUDIENCE, { claims: { sub: '' } })],
    ['a numeric sid', () => provider.sign(rsa, AUDIENCE, { claims: { sid: 42 } })],
    ['amr as a string', () => provider.sign(rsa, AUDIENCE, { claims: { amr: 'pwd' } })],
    [
      'signed by another key under a published kid',
      async () => provider.sign({ ...(await provider.createKey('RS256', { publish: false })), kid: rsa.kid }, AUDIENCE),
    ],
    [
      'a tampered payload',
      async () => {
        const [header, , signature] = (await provider.sign(rsa, AUDIENCE)).split('.');
        return `${header}.${b64({ ...claimsNow(), sub: 'usr_bob' })}.${signature}`;
      },
    ],
    ['an unknown kid', async () => provider.sign(await provider.createKey('RS256', { publish: false }), AUDIENCE)],
    ['an ES256 token when only RS256 is allowed', async () => provider.sign(await provider.createKey('ES256'), AUDIENCE)],
  ];

  test.each(cases)('%s', async (label, makeToken) => {
    const token = await makeToken();
    const authenticate = label.includes('only RS256') ? authenticatorFor({ algorithms: ['RS256'] }) : authenticatorFor();
    const result = await outcome(authenticate, token);
    expect(result).toEqual(refusedAsInvalid);
    expect(JSON.stringify((result as VerificationError).toJSON())).not.toContain(token.split('.')[1]);
  });

  test.each([
    ['a Basic header', 'Basic dXNlcjpwYXNz'],
    ['Bearer without a token', 'Bearer '],
    ['not a JWT', 'Bearer abc'],
    ['a token with a space inside', 'Bearer aaa.b bb.ccc'],
    ['a header of 10 000 characters', `Bearer ${'a'.repeat(4_000)}.${'b'.repeat(4_000)}.${'c'.repeat(1_993)}`],
  ])('%s: 401 before any parsing, the provider not asked', async (_label, header) => {
    await expect(authenticatorFor()(fakeReq(header))).rejects.toEqual(refusedAsInvalid);
    expect(provider.requests).toEqual({ discovery: 0, jwks: 0 });
  });
});

describe('oidcAuthenticator: the provider unreachable', () => {
  const timeoutMs = 300;

  test('closed port (discovery): 503 at once, never a pass', async () => {
    const issuer = `http://127.0.0.1:${await closedPort()}/oidc`;
    const authenticate = oidcAuthenticator({ issuer, audience: AUDIENCE, timeoutMs });
    const token = await provider.sign(rsa, AUDIENCE, { claims: { iss: issuer } });
    const started = performance.now();
    await expect(outcome(authenticate, token)).resolves.toEqual(refusedAsUnavailable);
    expect(performance.now() - started).toBeLessThan(timeoutMs + 500);
  });

  test('closed port (jwksUri): 503, never a pass', async () => {
    const authenticate = authenticatorFor({ jwksUri: `http://127.0.0.1:${await closedPort()}/jwks`, timeoutMs });
    await expect(outcome(authenticate, await provider.sign(rsa, AUDIENCE))).resolves.toEqual(refusedAsUnavailable);
  });

  describe('a provider that accepts connections and never answers', () => {
    let silent: SilentServer;
    beforeEach(async () => {
      silent = await SilentServer.start();
    });
    afterEach(() => silent.close());

    test.each(['discovery', 'jwksUri'])('%s: 503 within the timeout, then 503 at once without asking again during the pause', async (which) => {
      const reported: Error[] = [];
      const issuer = which === 'discovery' ? `http://127.0.0.1:${silent.port}/oidc` : provider.issuer;
      const authenticate = oidcAuthenticator({
        issuer,
        audience: AUDIENCE,
        timeoutMs,
        onProviderError: (error) => reported.push(error),
        ...(which === 'jwksUri' ? { jwksUri: `http://127.0.0.1:${silent.port}/jwks` } : {}),
      });
      const token = await provider.sign(rsa, AUDIENCE, { claims: { iss: issuer } });

      let started = performance.now();
      await expect(outcome(authenticate, token)).resolves.toEqual(refusedAsUnavailable);
      const elapsed = performance.now() - started;
      expect(elapsed).toBeGreaterThanOrEqual(timeoutMs - 50);
      expect(elapsed).toBeLessThan(timeoutMs + 700);
      expect(silent.connections).toBe(1);
      expect(reported).toHaveLength(1);
      expect(reported[0]?.message).not.toContain(token);

      started = performance.now();
      await expect(outcome(authenticate, token)).resolves.toEqual(refusedAsUnavailable);
      expect(performance.now() - started).toBeLessThan(100);
      expect(silent.connections).toBe(1);
      expect(reported).toHaveLength(1);
    });
  });
});

describe('oidcAuthenticator: options checked at startup', () => {
  const base = () => ({ issuer: provider.issuer, audience: AUDIENCE });
  test.each<[string, () => unknown, RegExp]>([
    ['no options', () => undefined, /options are required/],
    ['an http issuer on another host', () => ({ ...base(), issuer: 'http://idp.example.test/oidc' }), /https URL/],
    ['an issuer that is not a URL', () => ({ ...base(), issuer: 'idp.example.test' }), /not a valid URL/],
    ['an issuer with a query', () => ({ ...base(), issuer: 'https://idp.example.test/?tenant=1' }), /must not contain a query/],
    ['an issuer with a fragment', () => ({ ...base(), issuer: 'https://idp.example.test/#x' }), /fragment/],
    ['an issuer with credentials', () => ({ ...base(), issuer: 'https://user:pass@idp.example.test/' }), /user name or password/],
    ['no audience', () => ({ issuer: provider.issuer }), /`audience` is required/],
    ['an empty audience list', () => ({ ...base(), audience: [] }), /`audience` is required/],
    ['an http jwksUri on another host', () => ({ ...base(), jwksUri: 'http://idp.example.test/jwks' }), /jwksUri.*https URL/],
    ['algorithms with none', () => ({ ...base(), algorithms: ['RS256', 'none'] }), /'none' or HS\*/],
    ['algorithms with HS256', () => ({ ...base(), algorithms: ['HS256'] }), /'none' or HS\*/],
    ['an unknown algorithm', () => ({ ...base(), algorithms: ['RS1'] }), /accepts only/],
    ['an empty algorithm list', () => ({ ...base(), algorithms: [] }), /non-empty array/],
    ['a negative clock tolerance', () => ({ ...base(), clockToleranceSeconds: -1 }), /clockToleranceSeconds/],
    ['a clock tolerance of an hour', () => ({ ...base(), clockToleranceSeconds: 3600 }), /clockToleranceSeconds/],
    ['a timeout of 0', () => ({ ...base(), timeoutMs: 0 }), /timeoutMs/],
    ['an empty typ', () => ({ ...base(), typ: '' }), /typ/],
  ])('%s: TypeError', (_label, options, message) => {
    expect(() => oidcAuthenticator(options() as OidcAuthenticatorOptions)).toThrow(TypeError);
    expect(() => oidcAuthenticator(options() as OidcAuthenticatorOptions)).toThrow(message);
  });

  test.each(['http://localhost:8080/realms/demo', 'http://127.0.0.1:3001/oidc', 'http://[::1]:3001/', 'https://tenant.eu.auth0.com/'])(
    '%s is accepted, without any request at startup',
    (issuer) => {
      expect(typeof oidcAuthenticator({ issuer, audience: AUDIENCE })).toBe('function');
      expect(provider.requests).toEqual({ discovery: 0, jwks: 0 });
    },
  );
});

describe('oidcAuthenticator end to end: createStepUp + requireVerification()', () => {
  let h: Harness;
  beforeEach(async () => {
    h = await harness('memory', { authenticate: authenticatorFor() });
  });
  afterEach(() => h.close());

  test('a provider token authenticates the password endpoint and the guard', async () => {
    const auth = `Bearer ${await provider.sign(rsa, AUDIENCE, { claims: { sid: 'sess-1' } })}`;
    const created = await request(h.app).post('/v/password/verify').set('Authorization', auth).send({ password: PASSWORDS.usr_alice });
    expect(created.status).toBe(201);
    const id = created.body.verificationRecordId as string;

    const passed = await request(h.app).get('/reusable').set('Authorization', auth).set('Verification-Id', id);
    expect(passed.status).toBe(200);
    expect(passed.body.verification).toMatchObject({ id, userId: 'usr_alice', method: 'password' });

    // Another user's provider token does not use alice's record.
    const bob = `Bearer ${await provider.sign(rsa, AUDIENCE, { claims: { sub: 'usr_bob' } })}`;
    const refused = await request(h.app).get('/reusable').set('Authorization', bob).set('Verification-Id', id);
    expect(refused.status).toBe(403);
    expect(refused.body.code).toBe('verification.invalid');
  });

  test('the router and the guard answer 401 with the challenge for a bad token, and the app\'s own HS256 tokens are not provider tokens', async () => {
    for (const auth of [bearer('usr_alice'), `Bearer ${await provider.sign(rsa, 'https://other-api.example.test')}`]) {
      const router = await request(h.app).post('/v/password/verify').set('Authorization', auth).send({ password: PASSWORDS.usr_alice });
      expect(router.status).toBe(401);
      expect(router.headers['www-authenticate']).toBe(INVALID_TOKEN_CHALLENGE);
      expect(router.body.code).toBe('auth.unauthorized');
      const guard = await request(h.app).get('/reusable').set('Authorization', auth).set('Verification-Id', 'x');
      expect(guard.status).toBe(401);
      expect(guard.body.code).toBe('auth.unauthorized');
    }
  });

  test('the provider down: the router and the guard answer 503 auth.unavailable as JSON with Retry-After', async () => {
    provider.failWith = 500;
    const auth = `Bearer ${await provider.sign(rsa, AUDIENCE)}`;
    for (const res of [
      await request(h.app).post('/v/password/verify').set('Authorization', auth).send({ password: PASSWORDS.usr_alice }),
      await request(h.app).get('/reusable').set('Authorization', auth).set('Verification-Id', 'x'),
    ]) {
      expect(res.status).toBe(503);
      expect(res.headers['content-type']).toMatch(/^application\/json/);
      expect(res.headers['retry-after']).toBe('5');
      expect(res.body).toEqual({ code: 'auth.unavailable', message: expect.any(String) });
    }
  });
});
