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
