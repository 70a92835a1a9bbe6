import fc from 'fast-check';
import request from 'supertest';
import { bearer, harness, STORE_KINDS, type Harness } from './helpers/harness';

/**
 * Arbitrary JSON bodies, headers and identifiers at every endpoint: the answer is
 * always one of the contract's 2xx/4xx JSON answers, never a 5xx, never a hang.
 */
describe.each(STORE_KINDS)('every endpoint under arbitrary input (%s store)', (kind) => {
  let h: Harness;
  beforeAll(async () => {
    h = await harness(kind);
  });
  afterAll(() => h.close());

  // Header values as a client can send them: visible ASCII and spaces, up to 200 characters.
  const headerValue = fc.stringMatching(/^[\x21-\x7e][\x20-\x7e]{0,199}$/);
  const authorization = fc.oneof(fc.constant(bearer('usr_alice')), fc.constant(bearer('usr_bob')), headerValue.map((v) => `Bearer ${v}`), headerValue);
  const identifier = fc.oneof(
    fc.record({ type: fc.constantFrom('email', 'phone'), value: fc.string({ maxLength: 300 }) }),
    fc.record({ type: fc.constantFrom('email', 'phone'), value: fc.emailAddress() }),
    fc.record({ type: fc.constantFrom('email', 'phone'), value: fc.stringMatching(/^\+[0-9]{1,16}$/) }),
    fc.jsonValue(),
  );
  const body = fc.oneof(
    fc.jsonValue({ maxDepth: 3 }),
    fc.record({ password: fc.jsonValue({ maxDepth: 1 }) }, { requiredKeys: [] }),
    fc.record({ identifier }, { requiredKeys: [] }),
    fc.record({ identifier, verificationId: fc.oneof(fc.string({ maxLength: 64 }), fc.jsonValue({ maxDepth: 1 })), code: fc.oneof(fc.stringMatching(/^\d{6}$/), fc.jsonValue({ maxDepth: 1 })) }, { requiredKeys: [] }),
  );
  const rawBody = fc.oneof(
    body.map((b) => ({ type: 'application/json', text: JSON.stringify(b) ?? 'null' })),
    fc.string({ maxLength: 200 }).map((text) => ({ type: 'application/json', text })),
    fc.record({ type: fc.constantFrom('text/plain', 'application/x-www-form-urlencoded', 'application/xml'), text: fc.string({ maxLength: 100 }) }),
  );

  const endpoints: Array<[string, number[]]> = [
    ['/v/password/verify', [201, 400, 401, 413, 415, 422, 429]],
    ['/v/password', [201, 400, 401, 413, 415, 422, 429]],
    ['/v/verification-code', [201, 400, 401, 413, 415, 422, 429]],
    ['/v/verification-code/verify', [200, 400, 401, 404, 413, 415, 422, 429]],
  ];

  test.each(endpoints)('POST %s', async (path, allowed) => {
    await fc.assert(
      fc.asyncProperty(authorization, rawBody, headerValue, async (auth, { type, text }, extra) => {
        const res = await request(h.app)
          .post(path)
          .timeout(5000)
          .set('Authorization', auth)
          .set('Verification-Id', extra)
          .set('Accept-Language', extra)
          .set('X-Request-Id', extra)
          .set('Content-Type', type)
          .send(text);
        expect(allowed).toContain(res.status);
        expect(res.headers['content-type']).toMatch(/^application\/json/);
        if (res.status >= 400) {
          expect(typeof res.body.code).toBe('string');
          expect(typeof res.body.message).toBe('string');
        }
      }),
      { numRuns: 150 },
    );
  });

  test('the guard', async () => {
    await fc.assert(
      fc.asyncProperty(authorization, headerValue, async (auth, id) => {
        const res = await request(h.app).post('/single').timeout(5000).set('Authorization', auth).set('Verification-Id', id);
        expect([401, 403]).toContain(res.status);
        expect(res.headers['content-type']).toMatch(/^application\/json/);
        expect(typeof res.body.code).toBe('string');
      }),
      { numRuns: 200 },
    );
  });
});
