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

describe('HashingQueue bounded in time', () => {
  /** A queue on a fake clock whose runs have lasted `hashMs` each so far. */
  async function measuredQueue(concurrency: number, queueLength: number, hashMs: number) {
    const clock = { ms: 0 };
    const queue = new HashingQueue(concurrency, queueLength, { now: () => clock.ms });
    for (let i = 0; i < 3; i += 1) {
      await queue.run(async () => {
        clock.ms += hashMs;
      });
    }
    return queue;
  }

  /** Sends `count` runs at once (each refused at once, or accepted and run to the end): what was accepted, and the refusals' Retry-After. */
  async function refusalsOf(queue: HashingQueue, count: number) {
    let release = () => {};
    const gate = new Promise<void>((resolve) => (release = resolve));
    const settling = Promise.allSettled(Array.from({ length: count }, () => queue.run(() => gate)));
    release();
    const settled = await settling;
    const refused = settled.filter((s): s is PromiseRejectedResult => s.status === 'rejected').map((s) => s.reason as VerificationError);
    for (const error of refused) {
      expect(error.status).toBe(503);
      expect(error.code).toBe('verification.unavailable');
    }
    return { accepted: settled.length - refused.length, retryAfter: [...new Set(refused.map((e) => e.headers['Retry-After']))] };
  }

  test('slow hashes: only the checks that start within about a second wait (latency stays bounded), and Retry-After is the queue\'s drain time', async () => {
    // 200 ms a hash: 1 running + 5 waiting (5 × 200 ms = 1 s), not 16; the queue drains in 1.2 s
    expect(await refusalsOf(await measuredQueue(1, 16, 200), 20)).toEqual({ accepted: 6, retryAfter: ['1'] });
    // 2 slots: twice the checks start within a second
    expect(await refusalsOf(await measuredQueue(2, 32, 200), 30)).toEqual({ accepted: 12, retryAfter: ['1'] });
  });

  test('very slow hashes: still 2 waiting per slot (a slot never waits for a new request), and Retry-After grows with the drain time', async () => {
    // 1 s a hash: 1 running + 2 waiting, which take 3 s to finish
    expect(await refusalsOf(await measuredQueue(1, 16, 1000), 10)).toEqual({ accepted: 3, retryAfter: ['3'] });
    // 800 ms: 2.4 s to drain, told 2 (rounded down: the slot still has work when the client is back)
    expect(await refusalsOf(await measuredQueue(1, 16, 800), 10)).toEqual({ accepted: 3, retryAfter: ['2'] });
  });

  test('fast hashes: the queue length bounds the waiting checks', async () => {
    expect(await refusalsOf(await measuredQueue(1, 16, 10), 40)).toEqual({ accepted: 17, retryAfter: ['1'] });
  });

  test('the pace follows the hashes: a slower spell shortens the queue, faster hashes lengthen it again', async () => {
    const clock = { ms: 0 };
    const queue = new HashingQueue(1, 16, { now: () => clock.ms });
    const hashes = async (ms: number, count: number) => {
      for (let i = 0; i < count; i += 1) {
        await queue.run(async () => {
          clock.ms += ms;
        });
      }
    };
    await hashes(50, 3);
    expect((await refusalsOf(queue, 40)).accepted).toBe(17);
    await hashes(250, 20);
    expect((await refusalsOf(queue, 40)).accepted).toBeLessThanOrEqual(5);
    await hashes(50, 20);
    expect((await refusalsOf(queue, 40)).accepted).toBe(17);
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
