import request from 'supertest';
import { ROUTER_ENDPOINTS } from '../lib/endpoints';
import { createStepUp, ERROR_STATUS, jwtAuthenticator, openApiDocument, StoreUnavailableError, type OpenApiObject, type RateLimits } from '../lib/index';
import { brokenStore } from './helpers/broken-store';
import { startExample } from './helpers/example';
import { bearer, harness, JWT_SECRET, PASSWORDS, UNLIMITED, type Harness } from './helpers/harness';
import { AnswerChecker, validateOpenApi } from './helpers/openapi-check';

const BASE = '/v'; // where the harness mounts the router
const document = openApiDocument({ basePath: BASE });
const check = new AnswerChecker(document);

type Operation = { method: 'post'; path: string };
/** Every documented operation: each endpoint at its path and at its aliases. */
const OPERATIONS: Operation[] = ROUTER_ENDPOINTS.flatMap((e) => [e.path, ...e.aliases].map((path) => ({ method: e.method, path })));

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
};

/** Sends one request and checks its answer against the document. */
async function call(h: Harness, op: Operation, body: object | string | undefined, options: { user?: string | null; type?: string } = {}) {
  let req = request(h.app)[op.method](`${BASE}${op.path}`);
  if (options.user !== null) req = req.set('Authorization', bearer(options.user ?? 'usr_alice'));
  if (options.type) req = req.set('Content-Type', options.type);
  const res = body === undefined ? await req : await req.send(body);
  check.operationAnswer(res, op.method, `${BASE}${op.path}`);
  return res;
}

const limitedHarness = (limits: Partial<RateLimits>) => harness('memory', { limits: { ...UNLIMITED, ...limits } });

describe('the OpenAPI document', () => {
  test('validates as OpenAPI 3.1, at the root and under a base path', async () => {
    for (const basePath of [undefined, '/api/verifications']) {
      const doc = openApiDocument(basePath === undefined ? {} : { basePath });
      expect(doc.openapi).toBe('3.1.0');
      expect(await validateOpenApi(doc)).toEqual({ valid: true });
    }
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
    const stepUp = createStepUp({ authenticate: () => null, users: { findById: () => null } });
    const routes = (stepUp.router as unknown as { stack: Array<{ route?: { path: string | string[]; methods: Record<string, boolean> } }> }).stack
      .flatMap((layer) => (layer.route ? [layer.route] : []))
      .flatMap((route) => [route.path].flat().flatMap((path) => Object.keys(route.methods).map((method) => `${method} ${path}`)));
    const table = OPERATIONS.map((op) => `${op.method} ${op.path}`);
    expect(routes.sort()).toEqual([...table].sort());
    const documented = Object.entries(document.paths).flatMap(([path, item]) => Object.keys(item).map((method) => `${method} ${path.slice(BASE.length)}`));
    expect(documented.sort()).toEqual([...table].sort());
  });

  test('every documented error answer lists only codes of its status in ERROR_STATUS', () => {
    let checked = 0;
    for (const item of Object.values(document.paths)) {
      for (const operation of Object.values(item as Record<string, OpenApiObject>)) {
        for (const [status, response] of Object.entries(operation.responses as Record<string, { content: { 'application/json': { schema: OpenApiObject } } }>)) {
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
    h = await harness('memory');
  });
  afterAll(() => h.close());

  describe.each(OPERATIONS)('$method $path: the refusals every endpoint shares', (op) => {
    test('401 without a token', async () => {
      await call(h, op, VALID_BODY[op.path], { user: null });
    });
    test('400 request.invalid_json and request.invalid_input', async () => {
      expect((await call(h, op, '{"oops": ', { type: 'application/json' })).body.code).toBe('request.invalid_json');
      expect((await call(h, op, {})).body.code).toBe('request.invalid_input');
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
      const down = await harness('memory', brokenStore(() => new StoreUnavailableError()));
      expect((await call(down, op, VALID_BODY[op.path])).body.code).toBe('verification.unavailable');
      const buggy = await harness('memory', { ...brokenStore(() => new Error('a bug')), onUnexpectedError: () => undefined });
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
