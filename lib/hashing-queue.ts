import { VerificationError } from './errors';

/**
 * Bounds the password hashes computed at once (bcrypt and argon2 run on libuv's threadpool and a
 * core each): at most `concurrency` run, at most `queueLength` wait, in arrival order; past that a
 * check is refused at once with 503 `verification.unavailable` and `Retry-After`, instead of every
 * answer (and the event loop serving guarded routes) slowing down without bound.
 *
 * Written here: it is a counter and a FIFO. p-limit and p-queue have no bound on waiting work and
 * are ESM-only, which this CommonJS package cannot require.
 */
export class HashingQueue {
  readonly #concurrency: number;
  readonly #queueLength: number;
  readonly #waiting: Array<() => void> = [];
  #running = 0;

  constructor(concurrency: number, queueLength: number) {
    this.#concurrency = concurrency;
    this.#queueLength = queueLength;
  }

  /** Runs `work` when a slot is free; rejects with 503 `verification.unavailable` when the queue is full. */
  async run<T>(work: () => Promise<T>): Promise<T> {
    if (this.#running >= this.#concurrency) {
      if (this.#waiting.length >= this.#queueLength) {
        throw new VerificationError('verification.unavailable', { headers: { 'Retry-After': '1' } });
      }
      // The slot is handed over by the finishing run (#running stays as it is), so no newcomer takes it first.
      await new Promise<void>((resolve) => this.#waiting.push(resolve));
    } else {
      this.#running += 1;
    }
    try {
      return await work();
    } finally {
      const next = this.#waiting.shift();
      if (next !== undefined) next();
      else this.#running -= 1;
    }
  }
}
