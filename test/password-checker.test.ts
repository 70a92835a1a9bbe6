import bcrypt from 'bcrypt';
import { PasswordChecker } from '../lib/password';

const withHash = (passwordHash: string | null | undefined) => ({ id: 'usr_x', passwordHash });

/** Which bcrypt cost the dummy hash gets: the configured one, then the one of the real hashes seen. */
describe('PasswordChecker dummy hash', () => {
  afterEach(() => jest.restoreAllMocks());

  test('a user without a password is checked against a dummy of the configured cost, then of the cost seen', async () => {
    const hash = jest.spyOn(bcrypt, 'hash');
    const checker = new PasswordChecker(6);
    expect(await checker.matches('anything', withHash(null))).toBe(false);
    expect(hash).toHaveBeenLastCalledWith(expect.any(String), 6);

    const real = await bcrypt.hash('secret', 5);
    expect(await checker.matches('secret', withHash(real))).toBe(true);
    expect(await checker.matches('anything', null)).toBe(false);
    expect(hash).toHaveBeenLastCalledWith(expect.any(String), 5);
    // one dummy per cost, made once
    await checker.matches('again', withHash(undefined));
    expect(hash.mock.calls.filter(([, cost]) => cost === 5)).toHaveLength(2); // the real hash above and one dummy
  });

  test('a hash that is not bcrypt is never compared as one and never matches', async () => {
    const checker = new PasswordChecker(4);
    expect(await checker.matches('plain', withHash('plain'))).toBe(false);
    expect(await checker.matches('x', withHash('$2b$10$tooshort'))).toBe(false);
  });
});

describe('argon2id hashes and the app own verifyPassword', () => {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const argon2 = require('argon2') as typeof import('argon2');
  const params = { type: argon2.argon2id as 2, memoryCost: 4096, timeCost: 2, parallelism: 1 };

  test('an argon2id hash is verified beside bcrypt, chosen by its prefix', async () => {
    const checker = new PasswordChecker(4);
    const argonHash = await argon2.hash('argon secret', params);
    const bcryptHash = await bcrypt.hash('bcrypt secret', 4);
    expect(await checker.matches('argon secret', withHash(argonHash))).toBe(true);
    expect(await checker.matches('wrong', withHash(argonHash))).toBe(false);
    expect(await checker.matches('bcrypt secret', withHash(bcryptHash))).toBe(true);
    expect(await checker.matches('argon secret', withHash(bcryptHash))).toBe(false);
  });

  test('after an argon2id hash, a user without a password is checked against an argon2id dummy of the same parameters', async () => {
    const hash = jest.spyOn(argon2, 'hash');
    const verify = jest.spyOn(argon2, 'verify');
    const checker = new PasswordChecker(4);
    await checker.matches('x', withHash(await argon2.hash('secret', params)));
    hash.mockClear();
    verify.mockClear();
    expect(await checker.matches('anything', null)).toBe(false);
    expect(hash).toHaveBeenCalledWith(expect.any(String), expect.objectContaining({ type: argon2.argon2id, memoryCost: 4096, timeCost: 2, parallelism: 1 }));
    expect(verify).toHaveBeenCalledTimes(1);
    hash.mockRestore();
    verify.mockRestore();
  });

  test("createStepUp({ verifyPassword }) uses the app's own check, with the user (or null)", async () => {
    const { createStepUp } = await import('../lib/index');
    const express = (await import('express')).default;
    const request = (await import('supertest')).default;
    const seen: Array<[string | null, string]> = [];
    const stepUp = createStepUp({
      authenticate: (req) => (req.headers['x-user'] as string | undefined) ?? null,
      users: { findById: (id) => (id === 'u1' ? { id: 'u1' } : null) },
      verifyPassword: (user, password) => {
        seen.push([user?.id ?? null, password]);
        return user?.id === 'u1' && password === 'scrypt-checked';
      },
      onWarning: () => undefined,
    });
    const app = express().use('/v', stepUp.router);
    await request(app).post('/v/password/verify').set('x-user', 'u1').send({ password: 'scrypt-checked' }).expect(201);
    await request(app).post('/v/password/verify').set('x-user', 'u1').send({ password: 'nope' }).expect(422);
    await request(app).post('/v/password/verify').set('x-user', 'ghost').send({ password: 'scrypt-checked' }).expect(422);
    expect(seen).toEqual([
      ['u1', 'scrypt-checked'],
      ['u1', 'nope'],
      [null, 'scrypt-checked'],
    ]);
  });
});
