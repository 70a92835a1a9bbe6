import zlib from 'node:zlib';
import request from 'supertest';
import { bearer, harness, type Harness } from './helpers/harness';

describe('bad input gets the contract JSON errors', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await harness('memory');
  });
  const post = (path = '/v/password/verify') => request(h.app).post(path).set('Authorization', bearer('usr_alice'));

  const expectError = (res: request.Response, status: number, code: string) => {
    expect(res.status).toBe(status);
    expect(res.headers['content-type']).toMatch(/^application\/json/);
    expect(res.body.code).toBe(code);
    expect(typeof res.body.message).toBe('string');
    expect(JSON.stringify(res.body)).not.toMatch(/at .*\.ts:\d+|Error:/); // no stack
  };

  test('invalid JSON: 400 request.invalid_json', async () => {
    expectError(await post().set('Content-Type', 'application/json').send('{"password": '), 400, 'request.invalid_json');
  });

  test('a JSON string instead of an object: 400 request.invalid_json', async () => {
    expectError(await post().set('Content-Type', 'application/json').send('"hello"'), 400, 'request.invalid_json');
  });

  test.each([
    [{}, 'password'],
    [{ password: 42 }, 'password'],
    [{ password: '' }, 'password'],
    [{ password: 'x'.repeat(2000) }, 'password'],
    [[1, 2], 'body'],
  ])('%p: 400 request.invalid_input naming the field', async (body, field) => {
    const res = await post().send(body as object);
    expectError(res, 400, 'request.invalid_input');
    expect(res.body.field).toBe(field);
  });

  test('the submitted value is never echoed', async () => {
    const res = await post().send({ password: 12345678987654321 });
    expect(JSON.stringify(res.body)).not.toContain('12345678987654321');
  });

  test('no body at all: 400 naming the field', async () => {
    const res = await post();
    expectError(res, 400, 'request.invalid_input');
    expect(res.body.field).toBe('password');
  });

  test('a body over 16 KiB: 413 request.too_large', async () => {
    expectError(await post().send({ password: 'x'.repeat(17 * 1024) }), 413, 'request.too_large');
  });

  test.each(['text/plain', 'application/x-www-form-urlencoded', 'multipart/form-data; boundary=x'])(
    'a %s body: 415 request.unsupported_media_type',
    async (type) => {
      expectError(await post().set('Content-Type', type).send('password=x'), 415, 'request.unsupported_media_type');
    },
  );

  test('application/json with a charset is fine', async () => {
    const res = await post().set('Content-Type', 'application/json; charset=utf-8').send('{"password":"wrong"}');
    expect(res.status).toBe(422);
  });

  test('an unknown charset: 415', async () => {
    const res = await post().set('Content-Type', 'application/json; charset=klingon').send('{"password":"wrong"}');
    expectError(res, 415, 'request.unsupported_media_type');
  });

  test.each(['gzip', 'deflate', 'br'])('a %s body that does not decompress: 400, not 500', async (encoding) => {
    const res = await post().set('Content-Type', 'application/json').set('Content-Encoding', encoding).send('not compressed at all');
    expectError(res, 400, 'request.invalid_json');
  });

  test.each([
    ['gzip', zlib.gzipSync],
    ['deflate', zlib.deflateSync],
    ['br', zlib.brotliCompressSync],
  ] as const)('a %s JSON body is read, on Express 4 as on 5', async (encoding, compress) => {
    const res = await post()
      .set('Content-Type', 'application/json')
      .set('Content-Encoding', encoding)
      .serialize((body: Buffer) => body as unknown as string) // the compressed bytes as they are, not a Buffer as JSON
      .send(compress(Buffer.from('{"password":"wrong"}')));
    expect(res.status).toBe(422);
    expect(res.body.code).toBe('verification.invalid_credentials');
  });

  test('an unknown content encoding: 415', async () => {
    const res = await post().set('Content-Type', 'application/json').set('Content-Encoding', 'zstd-unknown').send('{}');
    expectError(res, 415, 'request.unsupported_media_type');
  });

  test('the message tells a missing field from a wrong type', async () => {
    expect((await post().send({})).body.message).toBe('Invalid field "password": required');
    expect((await post().send({ password: 1 })).body.message).toBe('Invalid field "password": expected string');
  });

  test('a 10 000-character header value never causes a 5xx', async () => {
    const res = await post().set('Verification-Id', 'v'.repeat(10_000)).set('X-Junk', 'j'.repeat(10_000)).send({ password: 'x' });
    expect(res.status).toBeLessThan(500);
  });
});
