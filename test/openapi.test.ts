import request from 'supertest';
import { endpointsFor, type Features } from '../lib/endpoints';
import { createStepUp, ERROR_STATUS, jwtAuthenticator, openApiDocument, StoreUnavailableError, type OpenApiObject, type RateLimits } from '../lib/index';
import { brokenStore } from './helpers/broken-store';
import { startExample } from './helpers/example';
import { bearer, harness, JWT_SECRET, PASSWORDS, UNLIMITED, type Harness } from './helpers/harness';
import { AnswerChecker, validateOpenApi } from './helpers/openapi-check';
import { TOTP_STEP_MS, totpCodeAt } from './helpers/totp';
import { SoftAuthenticator } from './helpers/soft-authenticator';

const BASE = '/v'; // where the harness mounts the router
/** Every optional factor on: the document and the harnesses below serve all endpoints. */
const FEATURES: Features = { passkeys: true, totp: true };
const PASSKEYS = { rpId: 'bank.example', rpName: 'Example Bank', origin: 'https://bank.example' };
const WITH_FACTORS = { passkeys: PASSKEYS, totp: { issuer: 'Example Bank' } };
const ENDPOINTS = endpointsFor(FEATURES);
const document = openApiDocument({ basePath: BASE, features: FEATURES });
const check = new AnswerChecker(document);

type Operation = { method: 'post'; path: string };
/** Every documented operation: each endpoint at its path and at its aliases. */
const OPERATIONS: Operation[] = ENDPOINTS.flatMap((e) => [e.path, ...e.aliases].map((path) => ({ method: e.method, path })));
/** Operations that take the guard's header (a fresh identity record): the shared tests send one. */
const TAKES_VERIFICATION_ID = new Set(ENDPOINTS.filter((e) => e.takesVerificationId).flatMap((e) => [e.path, ...e.aliases]));

/** Answers of the right shape (base64url fields) for the passkey bodies; what they say is wrong. */
const SHAPED = { id: 'AAAA', rawId: 'AAAA', type: 'public-key', clientExtensionResults: {} };
const SHAPED_REGISTRATION = { ...SHAPED, response: { clientDataJSON: 'AAAA', attestationObject: 'AAAA' } };
const SHAPED_ASSERTION = { ...SHAPED, response: { clientDataJSON: 'AAAA', authenticatorData: 'AAAA', signature: 'AAAA' } };
/** A passkey for the user port, so the authentication endpoints go on to the store. */
const SOME_PASSKEY = { id: 'AAAA', publicKey: 'AAAA', counter: 0 };

/** A valid body for each endpoint path (the code ones need a real record for success). */
const VALID_BODY: Record<string, object> = {
  '/password/verify': { password: PASSWORDS.usr_alice },
  '/password': { password: PASSWORDS.usr_alice },
  '/verification-code': { identifier: { type: 'email', value: 'alice@example.com' } },
  '/verification-code/verify': {
    identifier: { type: 'email', value: 'alice@example.com' },
    verificationId: 'A'.repeat(32),
    code: '000000',
  },
  '/totp/enrollment/verify': { code: '000000' },
  '/totp/verify': { code: '000000' },
  '/web-authn/registration/verify': { response: SHAPED_REGISTRATION },
  '/web-authn/authentication': {},
  '/web-authn/authentication/verify': { verificationRecordId: 'A'.repeat(32), response: SHAPED_ASSERTION },
};

/** A body each endpoint refuses with 400 `request.invalid_input` (default `{}`). */
const INVALID_BODY: Record<string, object> = {
  '/web-authn/registration': { unexpected: true },
  '/totp/enrollment': { unexpected: true },
  '/web-authn/authentication': { action: 42 },
};

/** Sends one request and checks its answer against the document. */
async function call(
  h: Harness,
  op: Operation,
  body: object | string | undefined,
  options: { user?: string | null; type?: string; headers?: Record<string, string> } = {},
) {
  let req = request(h.app)[op.method](`${BASE}${op.path}`);
  if (options.user !== null) req = req.set('Authorization', bearer(options.user ?? 'usr_alice'));
  if (TAKES_VERIFICATION_ID.has(op.path) && options.headers === undefined) req = req.set('Verification-Id', 'A'.repeat(32));
  if (options.type) req = req.set('Content-Type', options.type);
  for (const [name, value] of Object.entries(options.headers ?? {})) req = req.set(name, value);
  const res = body === undefined ? await req : await req.send(body);
  check.operationAnswer(res, op.method, `${BASE}${op.path}`);
  return res;
}

const limitedHarness = (limits: Partial<RateLimits>) => harness('memory', { ...WITH_FACTORS, limits: { ...UNLIMITED, ...limits } });

describe('the OpenAPI document', () => {
  test('validates as OpenAPI 3.1, at the root and under a base path, with and without the optional factors', async () => {
    for (const basePath of [undefined, '/api/verifications']) {
      const doc = openApiDocument(basePath === undefined ? {} : { basePath });
      expect(doc.openapi).toBe('3.1.0');
      expect(await validateOpenApi(doc)).toEqual({ valid: true });
    }
    expect(await validateOpenApi(document)).toEqual({ valid: true });
  });

  test('the validator does refuse a broken document', async () => {
    const broken = structuredClone(document) as unknown as { paths: Record<string, { post: { responses: Record<string, OpenApiObject> } }> };
    delete broken.paths[`${BASE}/password/verify`]!.post.responses['201']!.description;
    expect((await validateOpenApi(broken)).valid).toBe(false);
  });

  test('basePath defaults to the root, prefixes every path, and must be a path', () => {
    expect(Object.keys(openApiDocument().paths)).toEqual(['/password/verify', '/password', '/verification-code', '/verification-code/verify']);
    expect(Object.keys(openApiDocument({ basePath: '/api/verifications' }).paths)).toContain('/api/verifications/verification-code/verify');
    expect(Object.keys(openApiDocument({ basePath: '/' }).paths)).toEqual(Object.keys(openApiDocument().paths));
    for (const bad of ['api', '/api/', '/a?b=1', '/a#b', '/{id}', '//', '/a b', 42]) {
      expect(() => openApiDocument({ basePath: bad as string })).toThrow(/basePath/);
    }
  });

  test('stepUp.openapi() documents the configured guard header', () => {
    const stepUp = createStepUp({
      authenticate: jwtAuthenticator({ secret: JWT_SECRET, algorithms: ['HS256'] }),
      users: { findById: () => null },
      header: 'logto-verification-id',
    });
    const doc = stepUp.openapi({ basePath: '/api/verifications' });
    expect((doc.components.parameters as Record<string, OpenApiObject>).VerificationId).toMatchObject({ name: 'logto-verification-id', in: 'header' });
    expect(Object.keys(doc.paths)[0]).toBe('/api/verifications/password/verify');
  });

  test('the router has exactly the routes of the endpoint table, which are exactly the documented ones, with and without the optional factors', () => {
    const users = { findById: () => null, listPasskeys: () => [], savePasskey: () => undefined, updatePasskeyCounter: () => undefined, saveTotpSecret: () => undefined };
    for (const [features, factorOptions] of [
      [{ passkeys: false, totp: false }, {}],
      [FEATURES, WITH_FACTORS],
    ] as const) {
      const stepUp = createStepUp({ authenticate: () => null, users, ...factorOptions });
      const routes = (stepUp.router as unknown as { stack: Array<{ route?: { path: string | string[]; methods: Record<string, boolean> } }> }).stack
        .flatMap((layer) => (layer.route ? [layer.route] : []))
        .flatMap((route) => [route.path].flat().flatMap((path) => Object.keys(route.methods).map((method) => `${method} ${path}`)));
      const table = endpointsFor(features).flatMap((e) => [e.path, ...e.aliases].map((path) => `${e.method} ${path}`));
      expect(routes.sort()).toEqual([...table].sort());
      const documented = Object.entries(stepUp.openapi().paths).flatMap(([path, item]) => Object.keys(item).map((method) => `${method} ${path}`));
      expect(documented.sort()).toEqual([...table].sort());
    }
  });

  test('every documented error answer lists only codes of its status in ERROR_STATUS', () => {
    let checked = 0;
    for (const item of Object.values(document.paths)) {
      for (const operation of Object.values(item as Record<string, OpenApiObject>)) {
        for (const [status, response] of Object.entries(operation.responses as Record<string, { content?: { 'application/json': { schema: OpenApiObject } } }>)) {
          // A 204 has no body.
          if (response.content === undefined) continue;
          const schema = response.content['application/json'].schema;
          for (const ref of (schema.oneOf as Array<{ $ref: string }> | undefined) ?? [schema as { $ref: string }]) {
            const code = ref.$ref.match(/^#\/components\/schemas\/Error\.(.+)$/)?.[1];
            if (code === undefined) continue;
            expect([code, ERROR_STATUS[code as keyof typeof ERROR_STATUS]]).toEqual([code, Number(status)]);
            checked += 1;
          }
        }
      }
    }
    expect(checked).toBeGreaterThan(30);
  });

  test('each documented request body accepts exactly what the router\'s zod schema accepts', () => {
    const samples: unknown[] = [
      {},
      [],
      'text',
      null,
      { password: 'p' },
      { password: '' },
      { password: 'x'.repeat(1025) },
      { password: 42 },
      { password: 'p', extra: true },
      { identifier: { type: 'email', value: 'a@b.co' } },
      { identifier: { type: 'fax', value: '1' } },
      { identifier: { type: 'phone', value: '' } },
      { identifier: { type: 'email', value: 'x'.repeat(255) } },
      { identifier: { type: 'email' } },
      { identifier: { type: 'email', value: 'a@b.co' }, verificationId: 'id', code: '123456' },
      { identifier: { type: 'email', value: 'a@b.co' }, verificationId: '', code: '123456' },
      { identifier: { type: 'email', value: 'a@b.co' }, verificationId: 'x'.repeat(129), code: '1' },
      { identifier: { type: 'email', value: 'a@b.co' }, verificationId: 'id', code: 'x'.repeat(33) },
      { code: '123456' },
      { code: '12345' },
      { code: '1234567' },
      { code: '12345a' },
      { code: 123456 },
      { code: '123456', action: { type: 'transfer', amount: '1.00' } },
      { code: '123456', action: { type: 'Bad Type' } },
      { response: SHAPED_REGISTRATION },
      { response: { ...SHAPED_REGISTRATION, type: 'other' } },
      { response: { ...SHAPED_REGISTRATION, response: { clientDataJSON: 'AAAA' } } },
      { response: { ...SHAPED_REGISTRATION, id: 'not base64url!' } },
      { response: { ...SHAPED_REGISTRATION, id: 'A'.repeat(1365) } },
      { response: { ...SHAPED_REGISTRATION, response: { ...SHAPED_REGISTRATION.response, transports: ['internal', 'USB'] } } },
      { verificationRecordId: 'A'.repeat(32), response: SHAPED_ASSERTION },
      { verificationRecordId: 'A'.repeat(32), response: { ...SHAPED_ASSERTION, clientExtensionResults: undefined } },
      { verificationRecordId: 'A'.repeat(32), response: { ...SHAPED_ASSERTION, response: { ...SHAPED_ASSERTION.response, signature: '' } } },
      { verificationRecordId: '', response: SHAPED_ASSERTION },
      { action: { type: 'transfer', amount: '1.00' } },
      { action: 42 },
    ];
    const ajv = new (require('ajv/dist/2020').default)({ strict: false });
    ajv.addSchema(document, 'doc');
    for (const endpoint of ENDPOINTS) {
      const body = endpoint.body;
      if (body === undefined) continue;
      const validate = ajv.getSchema(`doc#/components/schemas/${body.name}`);
      for (const sample of samples) {
        expect([endpoint.path, sample, validate(sample)]).toEqual([endpoint.path, sample, body.schema.safeParse(sample).success]);
      }
    }
  });

  test('the example app serves it at GET /openapi.json, for the router at /api/verifications', async () => {
    const ex = await startExample('memory');
    const res = await request(ex.app).get('/openapi.json').expect(200);
    expect(res.headers['content-type']).toMatch(/^application\/json/);
    expect(Object.keys(res.body.paths)).toContain('/api/verifications/password/verify');
    expect(await validateOpenApi(res.body)).toEqual({ valid: true });
    await ex.close();
  });
});

describe('every real answer of the router is documented', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await harness('memory', WITH_FACTORS);
  });
  afterAll(() => h.close());

  describe.each(OPERATIONS)('$method $path: the refusals every endpoint shares', (op) => {
    test('401 without a token', async () => {
      await call(h, op, VALID_BODY[op.path], { user: null });
    });
    test('400 request.invalid_json and request.invalid_input', async () => {
      expect((await call(h, op, '{"oops": ', { type: 'application/json' })).body.code).toBe('request.invalid_json');
      expect((await call(h, op, INVALID_BODY[op.path] ?? {})).body.code).toBe('request.invalid_input');
    });
    test('413 over the body limit, 415 for a non-JSON body', async () => {
      expect((await call(h, op, { padding: 'x'.repeat(17 * 1024) })).status).toBe(413);
      expect((await call(h, op, 'a=b', { type: 'text/plain' })).status).toBe(415);
    });
    test('429 request.rate_limited past the per-IP ceiling', async () => {
      const limited = await limitedHarness({ perIp: { limit: 1, windowSeconds: 60 } });
      await call(limited, op, VALID_BODY[op.path]);
      expect((await call(limited, op, VALID_BODY[op.path])).body.code).toBe('request.rate_limited');
      await limited.close();
    });
    test('503 when the store is unreachable, 500 on a bug', async () => {
      const down = await harness('memory', { ...WITH_FACTORS, ...brokenStore(() => new StoreUnavailableError()) });
      down.passkeys.set('usr_alice', [SOME_PASSKEY]);
      expect((await call(down, op, VALID_BODY[op.path])).body.code).toBe('verification.unavailable');
      const buggy = await harness('memory', { ...WITH_FACTORS, ...brokenStore(() => new Error('a bug')), onUnexpectedError: () => undefined });
      buggy.passkeys.set('usr_alice', [SOME_PASSKEY]);
      expect((await call(buggy, op, VALID_BODY[op.path])).body.code).toBe('server.internal_error');
    });
  });

  describe.each([
    ['/password/verify', 'usr_alice'],
    ['/password', 'usr_bob'],
  ] as const)('POST %s', (path, user) => {
    const op: Operation = { method: 'post', path };
    test('201 with the right password, 422 with a wrong one', async () => {
      expect((await call(h, op, { password: PASSWORDS[user] }, { user })).status).toBe(201);
      expect((await call(h, op, { password: 'wrong' }, { user })).body.code).toBe('verification.invalid_credentials');
    });
    test('429 verification.too_many_attempts once the failure budget is spent', async () => {
      const limited = await limitedHarness({ passwordFailures: { limit: 1, windowSeconds: 60 } });
      await call(limited, op, { password: 'wrong' }, { user });
      expect((await call(limited, op, { password: PASSWORDS[user] }, { user })).body.code).toBe('verification.too_many_attempts');
      await limited.close();
    });
  });

  describe('POST /verification-code', () => {
    const op: Operation = { method: 'post', path: '/verification-code' };
    test('201 once sent; 400 naming the field for a bad email', async () => {
      expect((await call(h, op, { identifier: { type: 'email', value: 'alice@example.com' } })).status).toBe(201);
      const bad = await call(h, op, { identifier: { type: 'email', value: 'not an email' } });
      expect(bad.body).toMatchObject({ code: 'request.invalid_input', field: 'identifier.value' });
    });
    test('429 in the resend cooldown; 422 for a country not allowed', async () => {
      const limited = await limitedHarness({ codeResendCooldownSeconds: 60, sms: { allowedCountryCallingCodes: ['44'] } });
      await call(limited, op, { identifier: { type: 'email', value: 'alice@example.com' } });
      expect((await call(limited, op, { identifier: { type: 'email', value: 'alice@example.com' } })).body.code).toBe('verification_code.rate_limited');
      expect((await call(limited, op, { identifier: { type: 'phone', value: '+14155550100' } })).body.code).toBe(
        'verification_code.identifier_not_allowed',
      );
      await limited.close();
    });
    test('502 when the provider fails', async () => {
      const failing = await harness('memory', { sender: { send: async () => Promise.reject(new Error('provider down')) } });
      expect((await call(failing, op, VALID_BODY[op.path])).body.code).toBe('verification_code.delivery_failed');
    });
  });

  describe('POST /verification-code/verify', () => {
    const op: Operation = { method: 'post', path: '/verification-code/verify' };
    const identifier = { type: 'email', value: 'alice@example.com' };
    const send = async (on: Harness) => {
      const res = await request(on.app).post(`${BASE}/verification-code`).set('Authorization', bearer('usr_alice')).send({ identifier }).expect(201);
      return { id: res.body.verificationRecordId as string, code: on.sent[on.sent.length - 1]!.code };
    };
    const wrong = (code: string) => (code === '000000' ? '111111' : '000000');

    test('200 with the right code; 404 for an unknown record; 422 for another identifier', async () => {
      const { id, code } = await send(h);
      expect((await call(h, op, { identifier, verificationId: 'A'.repeat(32), code })).body.code).toBe('verification_record.not_found');
      const other = { type: 'email', value: 'someone@example.com' };
      expect((await call(h, op, { identifier: other, verificationId: id, code })).body.code).toBe('verification_code.identifier_mismatch');
      expect((await call(h, op, { identifier, verificationId: id, code })).status).toBe(200);
    });
    test('422 code_mismatch with remainingAttempts, then 429 exceed_max_try', async () => {
      const { id, code } = await send(h);
      for (let left = 4; left >= 1; left -= 1) {
        const res = await call(h, op, { identifier, verificationId: id, code: wrong(code) });
        expect(res.body).toMatchObject({ code: 'verification_code.code_mismatch', remainingAttempts: left });
      }
      expect((await call(h, op, { identifier, verificationId: id, code: wrong(code) })).body.code).toBe('verification_code.exceed_max_try');
    });
    test('429 verification.too_many_attempts once the user\'s budget of wrong codes is spent', async () => {
      const limited = await limitedHarness({ codeFailuresPerUser: { limit: 1, windowSeconds: 60 } });
      const { id, code } = await send(limited);
      await call(limited, op, { identifier, verificationId: id, code: wrong(code) });
      expect((await call(limited, op, { identifier, verificationId: id, code })).body.code).toBe('verification.too_many_attempts');
      await limited.close();
    });
  });

  describe('the TOTP endpoints', () => {
    const enrollment: Operation = { method: 'post', path: '/totp/enrollment' };
    const confirm: Operation = { method: 'post', path: '/totp/enrollment/verify' };
    const verify: Operation = { method: 'post', path: '/totp/verify' };
    const passwordRecord = async (on: Harness, user: 'usr_alice' | 'usr_bob', body: object = {}) =>
      (await request(on.app).post(`${BASE}/password/verify`).set('Authorization', bearer(user)).send({ password: PASSWORDS[user], ...body }).expect(201)).body
        .verificationRecordId as string;
    const start = async (on: Harness, user: 'usr_alice' | 'usr_bob') =>
      (await call(on, enrollment, undefined, { user, headers: { 'Verification-Id': await passwordRecord(on, user) } })).body as { secret: string };

    test('POST /totp/enrollment: 200 with the secret; 403 as the guard', async () => {
      const started = await call(h, enrollment, undefined, { headers: { 'Verification-Id': await passwordRecord(h, 'usr_alice') } });
      expect(started.status).toBe(200);
      expect((await call(h, enrollment, undefined, { headers: {} })).body.code).toBe('verification.required');
      expect((await call(h, enrollment, undefined)).body.code).toBe('verification.invalid');
      const bound = await passwordRecord(h, 'usr_alice', { action: { type: 'transfer', amount: '1.00' } });
      expect((await call(h, enrollment, undefined, { headers: { 'Verification-Id': bound } })).body.code).toBe('verification.insufficient');
      expect((await call(h, enrollment, undefined, { user: 'usr_ghost', headers: {} })).body.code).toBe('verification.no_available_method');
    });

    test('POST /totp/enrollment/verify: 204 with the right code; 422 with a wrong one; 404 without an enrollment', async () => {
      const { secret } = await start(h, 'usr_bob');
      const code = totpCodeAt(secret, Date.now());
      expect((await call(h, confirm, { code: code === '000000' ? '111111' : '000000' }, { user: 'usr_bob' })).body.code).toBe('verification.invalid_credentials');
      expect((await call(h, confirm, { code }, { user: 'usr_bob' })).status).toBe(204);
      expect((await call(h, confirm, { code }, { user: 'usr_bob' })).body.code).toBe('verification_record.not_found');
    });

    test('POST /totp/verify: 201 with a right code; 422 with a used one', async () => {
      const { secret } = await start(h, 'usr_alice');
      await call(h, confirm, { code: totpCodeAt(secret, Date.now()) }).then((res) => expect(res.status).toBe(204));
      // The confirming code's step is used: the next step's code (accepted one step early) verifies.
      const next = totpCodeAt(secret, Date.now() + TOTP_STEP_MS);
      expect((await call(h, verify, { code: next })).status).toBe(201);
      expect((await call(h, verify, { code: next })).body.code).toBe('verification.invalid_credentials');
    });

    test.each([
      ['/totp/enrollment/verify', confirm],
      ['/totp/verify', verify],
    ] as const)('%s: 429 verification.too_many_attempts once the shared failure budget is spent', async (_path, op) => {
      const limited = await limitedHarness({ passwordFailures: { limit: 1, windowSeconds: 60 } });
      await call(limited, { method: 'post', path: '/password/verify' }, { password: 'wrong' });
      expect((await call(limited, op, { code: '123456' })).body.code).toBe('verification.too_many_attempts');
      await limited.close();
    });
  });

  describe('the passkey endpoints', () => {
    const post = (path: string) => ({ method: 'post', path }) as const;
    const auth = (user = 'usr_alice') => bearer(user);
    const identity = async () =>
      (await request(h.app).post(`${BASE}/password/verify`).set('Authorization', auth()).send({ password: PASSWORDS.usr_alice }).expect(201)).body
        .verificationRecordId as string;
    const answer = (op: ReturnType<typeof post>, res: request.Response) => {
      check.operationAnswer(res, op.method, `${BASE}${op.path}`);
      return res;
    };
    const start = post('/web-authn/registration');
    const finish = post('/web-authn/registration/verify');
    const begin = post('/web-authn/authentication');
    const verify = post('/web-authn/authentication/verify');

    test('registration: 200 with a fresh identity record, the guard\'s 403s without one; 201 or 422 for the answer', async () => {
      const refused = async (id: string | undefined, user = 'usr_alice') => {
        const req = request(h.app).post(`${BASE}${start.path}`).set('Authorization', auth(user));
        return answer(start, await (id === undefined ? req : req.set('Verification-Id', id)));
      };
      expect((await refused(undefined)).body.code).toBe('verification.required');
      expect((await refused('B'.repeat(32))).body.code).toBe('verification.invalid');
      const bound = await request(h.app)
        .post(`${BASE}/password/verify`)
        .set('Authorization', auth())
        .send({ password: PASSWORDS.usr_alice, action: { type: 'transfer', amount: '1.00' } })
        .expect(201);
      expect((await refused(bound.body.verificationRecordId)).body.code).toBe('verification.insufficient');
      expect((await refused(undefined, 'usr_unknown')).body.code).toBe('verification.no_available_method');

      const authenticator = new SoftAuthenticator({ origin: PASSKEYS.origin });
      const options = (await answer(start, await request(h.app).post(`${BASE}${start.path}`).set('Authorization', auth()).set('Verification-Id', await identity()))).body;
      const wrong = await request(h.app).post(`${BASE}${finish.path}`).set('Authorization', auth()).send({ response: authenticator.createCredential(options.registrationOptions, { userVerified: false }) });
      expect(answer(finish, wrong).body.code).toBe('verification.invalid_credentials');
      const again = (await request(h.app).post(`${BASE}${start.path}`).set('Authorization', auth()).set('Verification-Id', await identity())).body;
      const saved = await request(h.app).post(`${BASE}${finish.path}`).set('Authorization', auth()).send({ response: authenticator.createCredential(again.registrationOptions) });
      expect(answer(finish, saved).status).toBe(201);

      // Authentication: 201, then 200; 404 for an unknown record; 422 for a bad answer; 403 for a user without a passkey.
      const options2 = answer(begin, await request(h.app).post(`${BASE}${begin.path}`).set('Authorization', auth()).send({})).body;
      const ok = await request(h.app)
        .post(`${BASE}${verify.path}`)
        .set('Authorization', auth())
        .send({ verificationRecordId: options2.verificationRecordId, response: authenticator.getAssertion(options2.authenticationOptions) });
      expect(answer(verify, ok).status).toBe(200);
      const unknown = await request(h.app).post(`${BASE}${verify.path}`).set('Authorization', auth()).send(VALID_BODY[verify.path]);
      expect(answer(verify, unknown).body.code).toBe('verification_record.not_found');
      const options3 = (await request(h.app).post(`${BASE}${begin.path}`).set('Authorization', auth()).send({})).body;
      const bad = await request(h.app)
        .post(`${BASE}${verify.path}`)
        .set('Authorization', auth())
        .send({ verificationRecordId: options3.verificationRecordId, response: authenticator.getAssertion(options3.authenticationOptions, { userVerified: false }) });
      expect(answer(verify, bad).body.code).toBe('verification.invalid_credentials');
      const none = await request(h.app).post(`${BASE}${begin.path}`).set('Authorization', auth('usr_bob')).send({});
      expect(answer(begin, none).body.code).toBe('verification.no_available_method');
    });
  });

  test('an unknown path is 404 request.not_found, a known path with another method 405 with Allow', async () => {
    const auth = bearer('usr_alice');
    check.componentAnswer(await request(h.app).post(`${BASE}/nope`).set('Authorization', auth).send({}), 'NotFound', 404);
    for (const path of ['/password/verify', '/Password/Verify/']) {
      const res = await request(h.app).get(`${BASE}${path}`).set('Authorization', auth);
      check.componentAnswer(res, 'MethodNotAllowed', 405);
      expect(res.headers.allow).toBe(Object.keys(document.paths[`${BASE}/password/verify`]!).map((m) => m.toUpperCase()).join(', '));
    }
  });

  test('every documented answer of every endpoint was seen above', () => {
    expect(check.unseen()).toEqual([]);
  });
});

describe('the guard\'s answers are its documented components', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await harness('memory');
  });
  afterAll(() => h.close());
  const auth = () => bearer('usr_alice');

  test('401 without a token', async () => {
    check.componentAnswer(await request(h.app).get('/reusable'), 'Unauthorized', 401);
  });

  test('403 verification.required, verification.invalid and verification.insufficient, with the requirement', async () => {
    const required = await request(h.app).get('/reusable').set('Authorization', auth());
    check.componentAnswer(required, 'VerificationRefused', 403);
    expect(required.body.code).toBe('verification.required');
    const invalid = await request(h.app).get('/reusable').set('Authorization', auth()).set('Verification-Id', 'B'.repeat(32));
    check.componentAnswer(invalid, 'VerificationRefused', 403);
    expect(invalid.body.code).toBe('verification.invalid');

    const identifier = { type: 'email', value: 'alice@example.com' };
    const sent = await request(h.app).post(`${BASE}/verification-code`).set('Authorization', auth()).send({ identifier }).expect(201);
    const verified = await request(h.app)
      .post(`${BASE}/verification-code/verify`)
      .set('Authorization', auth())
      .send({ identifier, verificationId: sent.body.verificationRecordId, code: h.sent[h.sent.length - 1]!.code })
      .expect(200);
    const insufficient = await request(h.app).get('/password-only').set('Authorization', auth()).set('Verification-Id', verified.body.verificationRecordId);
    check.componentAnswer(insufficient, 'VerificationRefused', 403);
    expect(insufficient.body).toMatchObject({ code: 'verification.insufficient', requirement: { methods: ['password'], maxAge: 600 } });
  });

  test('503 verification.unavailable when the store is unreachable', async () => {
    const down = await harness('memory', brokenStore(() => new StoreUnavailableError()));
    check.componentAnswer(await request(down.app).get('/reusable').set('Authorization', auth()).set('Verification-Id', 'C'.repeat(32)), 'VerificationUnavailable', 503);
  });
});
