import type { Store as CounterStore } from 'express-rate-limit';

/** The most a give-back may take to reach the store: later than this before the window's end, it is skipped. */
const RELEASE_MARGIN_MS = 1000;

/**
 * Gives one count back to its counter (a request that a limit counted but that must not count
 * there: a refusal by a failure budget or by an earlier limit of the batch, a check that passed).
 *
 * A give-back never reaches into the next window: it is skipped when the window it was counted in
 * ends within RELEASE_MARGIN_MS (or a tenth of the window, if shorter); the count then lapses with
 * its window. So a decrement still on its way when a window rolls over cannot take a count from
 * the new one. Never rejects: a store that cannot be reached keeps the count until the window
 * ends, an error on the side of fewer requests.
 */
export async function giveBack(store: CounterStore, key: string, resetTime: Date | undefined, windowMs: number): Promise<void> {
  const margin = Math.min(RELEASE_MARGIN_MS, windowMs / 10);
  if (resetTime !== undefined && Date.now() >= resetTime.getTime() - margin) return;
  try {
    await store.decrement(key);
  } catch {
    // The count stays until its window ends.
  }
}
