import { VerificationError } from './errors';

/** Default for HashingQueueOptions.maxWaitMs. */
export const MAX_QUEUE_WAIT_MS = 1000;
/**
 * Checks that may always wait per slot, however slow the hashes: when a hash ends, the next one
 * starts at once rather than after a new request's body, token and user lookup.
 */
const MIN_WAITING_PER_SLOT = 2;
/** Weight of the newest hash in the mean duration (about the last ten count). */
const MEAN_WEIGHT = 0.2;

export interface HashingQueueOptions {
  /**
   * About how long a check may wait for a slot, at the pace measured from the hashes so far: fewer
   * checks wait when hashes are slow (a higher cost, cores busy with other work), so a check is
   * answered or refused within about this time plus its own hash. Default MAX_QUEUE_WAIT_MS.
   */
  readonly maxWaitMs?: number;
  /** The clock, in milliseconds (tests). */
  readonly now?: () => number;
}

/**
 * Bounds the password hashes computed at once (bcrypt and argon2 run on libuv's threadpool and a
 * core each): at most `concurrency` run, and checks wait in arrival order, at most `queueLength`
 * of them and only as many as start within about `maxWaitMs` at the measured pace (never fewer
 * than MIN_WAITING_PER_SLOT per slot); past that a check is refused at once with 503
 * `verification.unavailable` and `Retry-After`, instead of every answer (and the event loop
 * serving guarded routes) slowing down without bound.
 *
 * Written here: it is a counter and a FIFO. p-limit and p-queue have no bound on waiting work and
 * are ESM-only, which this CommonJS package cannot require.
 */
export class HashingQueue {
  readonly #concurrency: number;
  readonly #queueLength: number;
  readonly #maxWaitMs: number;
  readonly #now: () => number;
  readonly #waiting: Array<() => void> = [];
  #running = 0;
  /** Mean duration of a run (ms), as the slot sees it; undefined until one has finished. */
  #meanMs: number | undefined;

  constructor(concurrency: number, queueLength: number, options: HashingQueueOptions = {}) {
    this.#concurrency = concurrency;
    this.#queueLength = queueLength;
    this.#maxWaitMs = options.maxWaitMs ?? MAX_QUEUE_WAIT_MS;
    this.#now = options.now ?? (() => performance.now());
  }

  /** Runs `work` when a slot is free; rejects with 503 `verification.unavailable` when the queue is full. */
  async run<T>(work: () => Promise<T>): Promise<T> {
    if (this.#running >= this.#concurrency) {
      if (this.#waiting.length >= this.#waitingAllowed()) {
        throw new VerificationError('verification.unavailable', { headers: { 'Retry-After': String(this.#retryAfterSeconds()) } });
      }
      // The slot is handed over by the finishing run (#running stays as it is), so no newcomer takes it first.
      await new Promise<void>((resolve) => this.#waiting.push(resolve));
    } else {
      this.#running += 1;
    }
    const started = this.#now();
    try {
      return await work();
    } finally {
      const ms = this.#now() - started;
      this.#meanMs = this.#meanMs === undefined ? ms : this.#meanMs + MEAN_WEIGHT * (ms - this.#meanMs);
      const next = this.#waiting.shift();
      if (next !== undefined) next();
      else this.#running -= 1;
    }
  }

  /** Checks that may wait now: those that start within maxWaitMs at the measured pace, within the bounds. */
  #waitingAllowed(): number {
    if (this.#meanMs === undefined || this.#meanMs <= 0) return this.#queueLength;
    const withinMaxWait = Math.floor((this.#maxWaitMs * this.#concurrency) / this.#meanMs);
    return Math.min(this.#queueLength, Math.max(MIN_WAITING_PER_SLOT * this.#concurrency, withinMaxWait));
  }

  /**
   * The time the checks queued now take to finish, in whole seconds rounded down, at least 1: a
   * client back after that finds room (a place frees with every hash) while the slots still have
   * the queue's work, so they are not left idle waiting for the refused clients to come back.
   */
  #retryAfterSeconds(): number {
    if (this.#meanMs === undefined) return 1;
    const drainMs = ((this.#waiting.length + this.#running) / this.#concurrency) * this.#meanMs;
    return Math.max(1, Math.floor(drainMs / 1000));
  }
}
