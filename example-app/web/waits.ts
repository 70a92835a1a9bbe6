/**
 * How long the server says to wait before the next try, and the page's record
 * of those waits while they run.
 *
 * Two sources, both from the answer itself rather than from limits the page
 * would have to know in advance:
 * - a 429's `Retry-After` (seconds or an HTTP date);
 * - on any answer, the IETF `RateLimit` header (draft 8, what express-rate-limit
 *   sends): a policy with `r=0` (no quota left) refuses the next request until
 *   its `t` seconds have passed. That is how the page knows, from the 201 that
 *   sent a code, that the resend cooldown has started, and from the fifth wrong
 *   password that password checks are now locked.
 */
import { parseList } from 'structured-headers';

/** Seconds to wait from a 429's Retry-After, or null when there is none (or it cannot be read). */
export function retryAfterSeconds(response: Response): number | null {
  if (response.status !== 429) return null;
  const raw = response.headers.get('Retry-After');
  if (raw === null) return null;
  let seconds = /^\s*\d+\s*$/.test(raw) ? Number(raw) : NaN;
  if (Number.isNaN(seconds)) seconds = (Date.parse(raw) - Date.now()) / 1000;
  return Number.isFinite(seconds) && seconds > 0 ? Math.ceil(seconds) : null;
}

/**
 * Seconds until the next request is allowed according to the `RateLimit` header:
 * the longest reset among the policies with no quota left, or null when every
 * policy still has some (or the header is absent or malformed: then the page
 * simply learns of a limit from the 429 it will get).
 */
export function exhaustedQuotaSeconds(response: Response): number | null {
  const raw = response.headers.get('RateLimit');
  if (raw === null) return null;
  let longest: number | null = null;
  try {
    for (const [, params] of parseList(raw)) {
      const remaining = params.get('r');
      const reset = params.get('t');
      if (remaining === 0 && typeof reset === 'number' && reset > 0) longest = Math.max(longest ?? 0, Math.ceil(reset));
    }
  } catch {
    return null; // a malformed header says nothing; the server still enforces its limits
  }
  return longest;
}

/** The wait an answer announces: Retry-After on a 429, else an exhausted RateLimit policy. */
export function waitAfter(response: Response): number | null {
  return retryAfterSeconds(response) ?? exhaustedQuotaSeconds(response);
}

/** "0:58", "14:32", "1:00:00". */
export function clock(seconds: number): string {
  const hours = Math.floor(seconds / 3600);
  const minutes = Math.floor((seconds % 3600) / 60);
  const rest = String(seconds % 60).padStart(2, '0');
  return hours > 0 ? `${hours}:${String(minutes).padStart(2, '0')}:${rest}` : `${minutes}:${rest}`;
}

/**
 * Deadlines by key ("send-phone", "password", a button's id...), and one ticking
 * timer that tells the subscribers every half second while any deadline runs,
 * and once more when the last one ends.
 */
export class Waits {
  readonly #until = new Map<string, number>();
  readonly #listeners = new Set<() => void>();
  #ticker: ReturnType<typeof setInterval> | undefined;

  /** Starts (or extends: the later deadline wins) a wait of `seconds` for `key`. */
  start(key: string, seconds: number): void {
    const until = Date.now() + seconds * 1000;
    this.#until.set(key, Math.max(until, this.#until.get(key) ?? 0));
    this.#tick();
  }

  /** Whole seconds left for `key`, 0 when it is not waiting. */
  secondsLeft(key: string | null): number {
    if (key === null) return 0;
    const until = this.#until.get(key);
    if (until === undefined) return 0;
    const left = Math.ceil((until - Date.now()) / 1000);
    if (left > 0) return left;
    this.#until.delete(key);
    return 0;
  }

  /** Forgets every wait (a new user signed in: their limits are not this user's). */
  clear(): void {
    this.#until.clear();
    this.#tick();
  }

  subscribe(listener: () => void): void {
    this.#listeners.add(listener);
  }

  #tick(): void {
    for (const key of [...this.#until.keys()]) this.secondsLeft(key); // drops the ended ones
    for (const listener of this.#listeners) listener();
    if (this.#until.size === 0) {
      clearInterval(this.#ticker);
      this.#ticker = undefined;
    } else if (this.#ticker === undefined) {
      this.#ticker = setInterval(() => this.#tick(), 500);
    }
  }
}
