import { withVerification, type FetchLike, type VerificationRequirement } from '../lib/index';

/** One call the fake fetch received: what a server would have seen. */
interface SeenCall {
  url: string;
  method: string;
  headers: Headers;
  body: string;
}

const REQUIREMENT = { methods: ['password', 'email', 'phone'], maxAge: 300 } as const;

const json = (status: number, body: unknown, headers: Record<string, string> = {}) =>
  new Response(JSON.stringify(body), { status, headers: { 'Content-Type': 'application/json; charset=utf-8', ...headers } });

const refusal = (code = 'verification.required') =>
  json(403, { code, message: 'This action needs a fresh security verification.', requirement: REQUIREMENT });

/** A fetch double answering from a script, recording each request the way a server would read it. */
function fakeFetch(...answers: Array<(call: SeenCall) => Response>) {
  const calls: SeenCall[] = [];
  const fetchFn: FetchLike = async (input, init) => {
    const request = new Request(input instanceof URL ? input.href : input, init);
    const call = { url: request.url, method: request.method, headers: request.headers, body: await request.text() };
    calls.push(call);
    const answer = answers[calls.length - 1];
    if (!answer) throw new Error(`unexpected request #${calls.length}`);
    return answer(call);
  };
  return { fetchFn, calls };
}

const URL_PAYOUTS = 'http://bank.test/api/payouts';
const payoutInit = (): RequestInit => ({
  method: 'POST',
  headers: { 'Content-Type': 'application/json', Authorization: 'Bearer t0ken' },
  body: JSON.stringify({ amount: 125.5, currency: 'USD' }),
});

describe('withVerification', () => {
  test('retries once with the Verification-Id header after a verification 403', async () => {
    const { fetchFn, calls } = fakeFetch(() => refusal(), () => json(201, { status: 'accepted' }));
    const onVerificationRequired = jest.fn(async () => 'rec_123');
    const api = withVerification(fetchFn, { onVerificationRequired });

    const res = await api(URL_PAYOUTS, payoutInit());

    expect(res.status).toBe(201);
    expect(await res.json()).toEqual({ status: 'accepted' });
    expect(calls).toHaveLength(2);
    expect(calls[0]?.headers.has('Verification-Id')).toBe(false);
    expect(calls[1]?.headers.get('Verification-Id')).toBe('rec_123');
    // the other headers and the method survive the retry
    expect(calls[1]?.method).toBe('POST');
    expect(calls[1]?.headers.get('Authorization')).toBe('Bearer t0ken');
    expect(calls[1]?.headers.get('Content-Type')).toBe('application/json');

    expect(onVerificationRequired).toHaveBeenCalledTimes(1);
    const [requirement, context] = onVerificationRequired.mock.calls[0] as unknown as [VerificationRequirement, Record<string, unknown>];
    expect(requirement).toEqual(REQUIREMENT);
    expect(context).toMatchObject({ code: 'verification.required', message: expect.any(String), input: URL_PAYOUTS });
  });

  test.each(['verification.invalid', 'verification.insufficient'])('handles %s like verification.required', async (code) => {
    const { fetchFn, calls } = fakeFetch(() => refusal(code), () => json(200, { ok: true }));
    const api = withVerification(fetchFn, { onVerificationRequired: () => 'rec_9' });
    expect((await api('http://bank.test/api/payslips')).status).toBe(200);
    expect(calls[1]?.headers.get('Verification-Id')).toBe('rec_9');
  });

  test('never loops: a second 403 is returned as is and the callback runs once', async () => {
    const { fetchFn, calls } = fakeFetch(() => refusal(), () => refusal('verification.invalid'));
    const onVerificationRequired = jest.fn(async () => 'rec_stale');
    const api = withVerification(fetchFn, { onVerificationRequired });

    const res = await api(URL_PAYOUTS, payoutInit());

    expect(res.status).toBe(403);
    expect((await res.json()).code).toBe('verification.invalid');
    expect(calls).toHaveLength(2);
    expect(onVerificationRequired).toHaveBeenCalledTimes(1);
  });

  test.each([
    ['a 403 with another code', () => json(403, { code: 'auth.forbidden', message: 'No.', requirement: REQUIREMENT })],
    ['a verification 403 without a requirement', () => json(403, { code: 'verification.invalid', message: 'No.' })],
    [
      'a 403 verification.no_available_method (nothing to verify with: the app sends the user to sign in again)',
      () => json(403, { code: 'verification.no_available_method', message: 'No.', requirement: { methods: [], maxAge: 600 } }),
    ],
    ['a non-JSON 403', () => new Response('<h1>Forbidden</h1>', { status: 403, headers: { 'Content-Type': 'text/html' } })],
    ['a 403 labelled JSON that is not', () => new Response('{nope', { status: 403, headers: { 'Content-Type': 'application/json' } })],
    ['a 401', () => json(401, { code: 'auth.unauthorized', message: 'Sign in.' }, { 'WWW-Authenticate': 'Bearer' })],
    ['a 500', () => json(500, { code: 'server.internal_error', message: 'Oops.' })],
    ['a 429 with a requirement', () => json(429, { code: 'verification.too_many_attempts', requirement: REQUIREMENT })],
  ])('does not retry %s, and returns it with its body unread', async (_name, answer) => {
    const { fetchFn, calls } = fakeFetch(answer);
    const onVerificationRequired = jest.fn(async () => 'rec_never');
    const api = withVerification(fetchFn, { onVerificationRequired });

    const res = await api(URL_PAYOUTS, payoutInit());

    expect(calls).toHaveLength(1);
    expect(onVerificationRequired).not.toHaveBeenCalled();
    expect(res.bodyUsed).toBe(false);
    await expect(res.text()).resolves.toEqual(expect.any(String));
  });

  test('does not read the body of a non-403 answer at all', async () => {
    const response = json(500, { code: 'server.internal_error' });
    const clone = jest.spyOn(response, 'clone');
    const text = jest.spyOn(response, 'text');
    const jsonRead = jest.spyOn(response, 'json');
    const api = withVerification(async () => response, { onVerificationRequired: () => 'x' });

    expect(await api(URL_PAYOUTS)).toBe(response);
    expect(clone).not.toHaveBeenCalled();
    expect(text).not.toHaveBeenCalled();
    expect(jsonRead).not.toHaveBeenCalled();
  });

  test.each([null, undefined, ''])('a callback answering %p gives up: the original 403, still readable', async (answer) => {
    const first = refusal();
    const { fetchFn, calls } = fakeFetch(() => first);
    const api = withVerification(fetchFn, { onVerificationRequired: async () => answer });

    const res = await api(URL_PAYOUTS, payoutInit());

    expect(res).toBe(first);
    expect(calls).toHaveLength(1);
    expect(await res.json()).toMatchObject({ code: 'verification.required', requirement: REQUIREMENT });
  });

  test('a rejecting callback rejects the call and sends nothing more', async () => {
    const { fetchFn, calls } = fakeFetch(() => refusal());
    const api = withVerification(fetchFn, {
      onVerificationRequired: () => Promise.reject(new Error('dialog crashed')),
    });
    await expect(api(URL_PAYOUTS, payoutInit())).rejects.toThrow('dialog crashed');
    expect(calls).toHaveLength(1);
  });

  test.each<[string, () => BodyInit, string]>([
    ['a string', () => '{"amount":125.5,"currency":"USD"}', '{"amount":125.5,"currency":"USD"}'],
    ['URLSearchParams', () => new URLSearchParams({ amount: '125.5', note: 'a&b' }), 'amount=125.5&note=a%26b'],
    ['a Blob', () => new Blob(['blob-body'], { type: 'text/plain' }), 'blob-body'],
    ['an ArrayBuffer', () => new TextEncoder().encode('array-buffer').buffer as ArrayBuffer, 'array-buffer'],
    ['a Uint8Array', () => new TextEncoder().encode('typed-array'), 'typed-array'],
  ])('re-sends %s body identically', async (_name, makeBody, expected) => {
    const { fetchFn, calls } = fakeFetch(() => refusal(), () => json(201, {}));
    const api = withVerification(fetchFn, { onVerificationRequired: () => 'rec_1' });

    await api(URL_PAYOUTS, { method: 'POST', body: makeBody() });

    expect(calls.map((c) => c.body)).toEqual([expected, expected]);
  });

  test('re-sends a FormData body with the same fields', async () => {
    const { fetchFn, calls } = fakeFetch(() => refusal(), () => json(201, {}));
    const api = withVerification(fetchFn, { onVerificationRequired: () => 'rec_1' });
    const form = new FormData();
    form.set('amount', '125.5');
    form.set('destination', 'DE89 3704');

    await api(URL_PAYOUTS, { method: 'POST', body: form });

    expect(calls).toHaveLength(2);
    for (const call of calls) {
      expect(call.body).toContain('name="amount"\r\n\r\n125.5');
      expect(call.body).toContain('name="destination"\r\n\r\nDE89 3704');
    }
  });

  test('a Request object as input is cloned, so its body is sent again', async () => {
    const { fetchFn, calls } = fakeFetch(() => refusal(), () => json(201, {}));
    const api = withVerification(fetchFn, { onVerificationRequired: () => 'rec_r' });
    const request = new Request(URL_PAYOUTS, { method: 'POST', headers: { 'X-Trace': 'abc' }, body: '{"amount":1}' });

    const res = await api(request);

    expect(res.status).toBe(201);
    expect(calls.map((c) => [c.method, c.body, c.headers.get('X-Trace')])).toEqual([
      ['POST', '{"amount":1}', 'abc'],
      ['POST', '{"amount":1}', 'abc'],
    ]);
    expect(calls[1]?.headers.get('Verification-Id')).toBe('rec_r');
  });

  test('refuses a stream body before sending anything', async () => {
    const { fetchFn, calls } = fakeFetch(() => json(201, {}));
    const api = withVerification(fetchFn, { onVerificationRequired: () => 'rec' });
    const stream = new ReadableStream({
      start(controller) {
        controller.enqueue(new TextEncoder().encode('x'));
        controller.close();
      },
    });
    await expect(api(URL_PAYOUTS, { method: 'POST', body: stream })).rejects.toThrow(/re-sendable/);
    expect(calls).toHaveLength(0);
  });

  test('uses a custom header name, replacing a stale value', async () => {
    const { fetchFn, calls } = fakeFetch(() => refusal('verification.invalid'), () => json(200, {}));
    const api = withVerification(fetchFn, { onVerificationRequired: () => 'rec_new', header: 'logto-verification-id' });

    await api('http://bank.test/api/payslips', { headers: { 'logto-verification-id': 'rec_old' } });

    expect(calls[0]?.headers.get('logto-verification-id')).toBe('rec_old');
    expect(calls[1]?.headers.get('logto-verification-id')).toBe('rec_new');
    expect(calls[1]?.headers.has('Verification-Id')).toBe(false);
  });

  test('keeps the abort signal on the retry', async () => {
    const controller = new AbortController();
    const seen: Array<AbortSignal | null | undefined> = [];
    const api = withVerification(
      async (_input, init) => {
        seen.push(init?.signal);
        return seen.length === 1 ? refusal() : json(200, {});
      },
      { onVerificationRequired: () => 'rec' },
    );
    await api(URL_PAYOUTS, { signal: controller.signal });
    expect(seen).toEqual([controller.signal, controller.signal]);
  });

  test('checks its options when it is set up', () => {
    const noop = () => null;
    expect(() => withVerification(fetch, { onVerificationRequired: noop, header: 'bad header' })).toThrow(TypeError);
    expect(() => withVerification(fetch, {} as never)).toThrow(/onVerificationRequired/);
    expect(() => withVerification(undefined as never, { onVerificationRequired: noop })).toThrow(/fetchFn/);
  });
});

describe('withVerification and other origins (real fetch, two local servers)', () => {
  const http = require('node:http') as typeof import('node:http');
  type Seen = { path: string; verificationId: string | undefined };
  /** A server on its own port (its own origin) answering with `handle`, recording what it saw. */
  async function server(handle: (req: import('node:http').IncomingMessage, res: import('node:http').ServerResponse) => void) {
    const seen: Seen[] = [];
    const s = http.createServer((req, res) => {
      seen.push({ path: req.url ?? '', verificationId: req.headers['verification-id'] as string | undefined });
      handle(req, res);
    });
    await new Promise<void>((resolve) => s.listen(0, '127.0.0.1', resolve));
    const { port } = s.address() as import('node:net').AddressInfo;
    return { origin: `http://127.0.0.1:${port}`, seen, close: () => new Promise<void>((resolve) => s.close(() => resolve())) };
  }
  const refuse = (_req: unknown, res: import('node:http').ServerResponse) => {
    res.writeHead(403, { 'Content-Type': 'application/json' }).end(JSON.stringify({ code: 'verification.required', message: 'm', requirement: REQUIREMENT }));
  };

  test('a verification 403 that arrives after a redirect to another origin is returned untouched; no record id goes there', async () => {
    const evil = await server(refuse);
    const api = await server((req, res) => res.writeHead(307, { Location: `${evil.origin}${req.url}` }).end());
    const onVerificationRequired = jest.fn(async () => 'rec_secret');
    const wrapped = withVerification((input, init) => fetch(input, init), { onVerificationRequired });
    const res = await wrapped(`${api.origin}/api/payouts`, payoutInit());
    expect(res.status).toBe(403);
    expect(onVerificationRequired).not.toHaveBeenCalled();
    expect(evil.seen).toEqual([{ path: '/api/payouts', verificationId: undefined }]);
    await Promise.all([evil.close(), api.close()]);
  });

  test('allowedOrigins lets a known API origin be acted on; the retry follows no redirect', async () => {
    const other = await server(refuse);
    const api = await server((req, res) => res.writeHead(307, { Location: `${other.origin}${req.url}` }).end());
    const wrapped = withVerification((input, init) => fetch(input, init), {
      onVerificationRequired: async () => 'rec_1',
      allowedOrigins: [other.origin],
    });
    // The first answer came from an allowed origin: the user verifies and the request is retried once,
    // to where it was sent (api); api redirects again, and fetch refuses to follow with the record id.
    await expect(wrapped(`${api.origin}/api/payouts`, payoutInit())).rejects.toThrow();
    expect(api.seen).toEqual([
      { path: '/api/payouts', verificationId: undefined },
      { path: '/api/payouts', verificationId: 'rec_1' },
    ]);
    expect(other.seen).toEqual([{ path: '/api/payouts', verificationId: undefined }]);
    await Promise.all([other.close(), api.close()]);
  });

  test('allowedOrigins entries must be origins', () => {
    expect(() => withVerification(fetch, { onVerificationRequired: () => null, allowedOrigins: ['https://api.example.com/path'] })).toThrow(/origins/);
    expect(() => withVerification(fetch, { onVerificationRequired: () => null, allowedOrigins: ['not a url'] })).toThrow(/origins/);
  });
});
