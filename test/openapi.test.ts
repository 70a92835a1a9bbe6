import request from 'supertest';
import { endpointsFor, ROUTER_ENDPOINTS } from '../lib/endpoints';
import { createStepUp, ERROR_STATUS, jwtAuthenticator, openApiDocument, StoreUnavailableError, type OpenApiObject, type RateLimits, type StepUpOptions } from '../lib/index';
import { brokenStore } from './helpers/broken-store';
import { startExample } from './helpers/example';
import { bearer, harness, JWT_SECRET, PASSWORDS, testUsers, UNLIMITED, type Harness } from './helpers/harness';
import { AnswerChecker, validateOpenApi } from './helpers/openapi-check';
import { TOTP_STEP_MS, totpCodeAt } from './helpers/totp';

const BASE = '/v'; // where the harness mounts the router
/** The optional factors turned on here, so that their endpoints are documented and checked too. */
const FEATURES = { passkeys: false, totp: true } as const;
const document = openApiDocument({ basePath: BASE, features: FEATURES });
const check = new AnswerChecker(document);

type Operation = { method: 'post'; path: string };
/** Every documented operation: each endpoint at its path and at its aliases. */
const OPERATIONS: Operation[] = endpointsFor(FEATURES).flatMap((e) => [e.path, ...e.aliases].map((path) => ({ method: e.method, path })));
const hasBody = (op: Operation) => ROUTER_ENDPOINTS.find((e) => e.path === op.path || e.aliases.includes(op.path))?.body !== undefined;

/** createStepUp options turning TOTP on, over the test users (a saved secret is kept beside them). */
async function withTotp(): Promise<Partial<StepUpOptions>> {
  const users = await testUsers();
  const secrets = new Map<string, string>();
  return {
    totp: { issuer: 'Example Bank' },
    users: {
      findById: (id) => {
        const user = users.get(id);
        return user === undefined ? null : { ...user, totpSecret: secrets.get(id) ?? null };
      },
      saveTotpSecret: (id, sealed) => void secrets.set(id, sealed),
    },
  };
}
/** The router's harness: the memory store, TOTP on. */
const routerHarness = async (options: Partial<StepUpOptions> = {}) => harness('memory', { ...(await withTotp()), ...options });

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
};
/** Headers a valid request carries beyond the token (enrolling takes a record id, so that it reaches the store). */
const VALID_HEADERS: Record<string, Record<string, string>> = {
  '/totp/enrollment': { 'Verification-Id': 'A'.repeat(32) },
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
  if (options.type) req = req.set('Content-Type', options.type);
  for (const [name, value] of Object.entries(options.headers ?? VALID_HEADERS[op.path] ?? {})) req = req.set(name, value);
  const res = body === undefined ? await req : await req.send(body);
  check.operationAnswer(res, op.method, `${BASE}${op.path}`);
  return res;
}

const limitedHarness = (limits: Partial<RateLimits>) => routerHarness({ limits: { ...UNLIMITED, ...limits } });

describe('the OpenAPI document', () => {
  test('validates as OpenAPI 3.1, at the root and under a base path', async () => {
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

  test('the router has exactly the routes of the endpoint table, which are exactly the documented ones', () => {
    const routesOf = (stepUp: ReturnType<typeof createStepUp>) =>
      (stepUp.router as unknown as { stack: Array<{ route?: { path: string | string[]; methods: Record<string, boolean> } }> }).stack
        .flatMap((layer) => (layer.route ? [layer.route] : []))
        .flatMap((route) => [route.path].flat().flatMap((path) => Object.keys(route.methods).map((method) => `${method} ${path}`)));
    const users = { findById: () => null, saveTotpSecret: () => undefined };
    const withTotpOn = createStepUp({ authenticate: () => null, users, totp: { issuer: 'Example Bank' } });
    const table = OPERATIONS.map((op) => `${op.method} ${op.path}`);
    expect(routesOf(withTotpOn).sort()).toEqual([...table].sort());
    const documented = Object.entries(document.paths).flatMap(([path, item]) => Object.keys(item).map((method) => `${method} ${path.slice(BASE.length)}`));
    expect(documented.sort()).toEqual([...table].sort());
    expect(withTotpOn.openapi({ basePath: BASE })).toEqual(document);
    // Without the option, neither served nor documented.
    const plain = createStepUp({ authenticate: () => null, users });
    const basic = endpointsFor({ passkeys: false, totp: false }).flatMap((e) => [e.path, ...e.aliases].map((path) => `${e.method} ${path}`));
    expect(routesOf(plain).sort()).toEqual([...basic].sort());
    expect(Object.keys(plain.openapi().paths).sort()).toEqual(basic.map((route) => route.slice('post '.length)).sort());
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
    ];
    const ajv = new (require('ajv/dist/2020').default)({ strict: false });
    ajv.addSchema(document, 'doc');
    for (const endpoint of ROUTER_ENDPOINTS) {
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
    h = await routerHarness();
  });
  afterAll(() => h.close());

  describe.each(OPERATIONS)('$method $path: the refusals every endpoint shares', (op) => {
    test('401 without a token', async () => {
      await call(h, op, VALID_BODY[op.path], { user: null });
    });
    test('400 request.invalid_json, and request.invalid_input for an endpoint with a body', async () => {
      expect((await call(h, op, '{"oops": ', { type: 'application/json' })).body.code).toBe('request.invalid_json');
      if (hasBody(op)) expect((await call(h, op, {})).body.code).toBe('request.invalid_input');
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
      const down = await routerHarness(brokenStore(() => new StoreUnavailableError()));
      expect((await call(down, op, VALID_BODY[op.path])).body.code).toBe('verification.unavailable');
      const buggy = await routerHarness({ ...brokenStore(() => new Error('a bug')), onUnexpectedError: () => undefined });
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
