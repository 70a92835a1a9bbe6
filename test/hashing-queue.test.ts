import request from 'supertest';
import { HashingQueue } from '../lib/hashing-queue';
import { PasswordChecker } from '../lib/password';
import { VerificationError } from '../lib/errors';
import { bearer, harness, PASSWORDS } from './helpers/harness';
import { sleep } from './helpers/records';

/** bcrypt cannot starve the guard: a bound on the hashes at once, and on the checks waiting. */
describe('HashingQueue', () => {
  test('runs at most `concurrency` at once, in arrival order, and refuses past the queue with 503 and Retry-After', async () => {
    const queue = new HashingQueue(2, 3);
    let running = 0;
    let most = 0;
    const order: number[] = [];
    const work = (i: number) => async () => {
      running += 1;
      most = Math.max(most, running);
      order.push(i);
      await sleep(20);
      running -= 1;
      return i;
    };
    const settled = await Promise.allSettled(Array.from({ length: 8 }, (_, i) => queue.run(work(i))));
    expect(most).toBe(2);
    expect(order).toEqual([0, 1, 2, 3, 4]);
    expect(settled.slice(0, 5).map((s) => s.status)).toEqual(Array(5).fill('fulfilled'));
    for (const refused of settled.slice(5)) {
      expect(refused.status).toBe('rejected');
      const error = (refused as PromiseRejectedResult).reason as VerificationError;
      expect(error).toBeInstanceOf(VerificationError);
      expect(error.status).toBe(503);
      expect(error.code).toBe('verification.unavailable');
      expect(error.headers['Retry-After']).toBe('1');
    }
    // the queue drained: a new run starts at once
    expect(await queue.run(async () => 'again')).toBe('again');
  });

  test('a failing run frees its slot', async () => {
    const queue = new HashingQueue(1, 1);
    await expect(queue.run(() => Promise.reject(new Error('boom')))).rejects.toThrow('boom');
    expect(await queue.run(async () => 1)).toBe(1);
  });
});

describe('password checks through the queue', () => {
  test('users without a password wait in the same queue as the others (same path, same time)', async () => {
    const checker = new PasswordChecker(4, 1);
    await checker.warmUp();
    const results = await Promise.allSettled(Array.from({ length: 20 }, (_, i) => checker.matches('x', i % 2 === 0 ? null : { id: 'u', passwordHash: null })));
    // 1 running + 16 waiting; the 3 last refused, whichever kind of user they were for
    expect(results.filter((r) => r.status === 'fulfilled')).toHaveLength(17);
    expect(results.filter((r) => r.status === 'rejected')).toHaveLength(3);
  });

  test('over HTTP: a full queue answers 503 verification.unavailable with Retry-After, and does not use up the failure budget', async () => {
    const h = await harness('memory', { passwordConcurrency: 1, limits: { perIp: false, passwordFailures: { limit: 100, windowSeconds: 60 } } });
    const burst = await Promise.all(
      Array.from({ length: 30 }, (_, i) =>
        request(h.app).post('/v/password/verify').set('Authorization', bearer('usr_alice')).send({ password: i % 2 === 0 ? PASSWORDS.usr_alice : 'wrong' }),
      ),
    );
    const unavailable = burst.filter((res) => res.status === 503);
    expect(unavailable.length).toBeGreaterThan(0);
    for (const res of unavailable) {
      expect(res.body).toEqual({ code: 'verification.unavailable', message: expect.any(String) });
      expect(res.headers['retry-after']).toBe('1');
    }
    const checked = burst.filter((res) => res.status !== 503);
    expect(checked.length).toBeLessThanOrEqual(17);
    for (const res of checked) expect([201, 422]).toContain(res.status);
    // only the wrong passwords that were checked count: the next wrong one tells what is left
    const wrongChecked = checked.filter((res) => res.status === 422).length;
    const next = await request(h.app).post('/v/password/verify').set('Authorization', bearer('usr_alice')).send({ password: 'wrong' });
    expect(next.body.remainingAttempts).toBe(100 - wrongChecked - 1);
    await h.close();
  });
});
