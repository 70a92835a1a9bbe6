import type { Request, RequestHandler } from 'express';
import type { ClientRateLimitInfo, Store as RateLimitStore } from 'express-rate-limit';

/**
 * A budget of failed checks per key and window (wrong passwords, wrong codes), race-free under
 * concurrency: a request takes a slot before its check and gives it back unless the check failed.
 *
 * - reserve: the limiter's atomic increment. A request that finds the budget full is refused
 *   (429) and its increment is given back at once: a refusal never counts.
 * - settle: after the check, exactly once per admitted request. A failed check keeps its slot;
 *   anything else (success, or a check that could not run) gives it back.
 *
 * Because every check in flight holds a slot, no more checks than the limit can ever be running or
 * have failed in one window, however many arrive at once; and after a burst of correct answers the
 * budget is whole again.
 *
 * Written here rather than with express-rate-limit's `skipSuccessfulRequests`/`requestWasSuccessful`:
 * those give the count back on the response's `finish` event, which never fires when the client
 * drops the connection first (a client with a timeout that retries), so each abandoned correct
 * password kept its slot for the whole window and locked its user out; and a refused request (429)
 * is a failed response there, so it kept its count too. Settling on the check's outcome, in the
 * request's own code path, does not depend on the connection.
 *
 * Works with any express-rate-limit store (the Counters option): it needs only increment and
 * decrement, each atomic. A give-back never reaches into the next window: it is skipped when the
 * window it was counted in ends within RELEASE_MARGIN (the slot then lapses with the window), so a
 * decrement still on its way when a window rolls over cannot take a count from the new one. A
 * process that dies mid-check leaves its slot taken until the window ends (fails closed).
 */
export interface FailureBudget {
  /** Middleware before the check: takes a slot, or answers 429 (not counted) when none is left. */
  readonly reserve: RequestHandler;
  /**
   * After the check: `failed` keeps the slot, otherwise it is given back. Once per request (later
   * calls and requests the budget refused do nothing). Never rejects: a store that cannot be
   * reached leaves the slot taken until the window ends.
   */
  settle(req: Request, failed: boolean): Promise<void>;
}

/** The most a give-back may take to reach the store: later than this before the window's end, it is skipped. */
const RELEASE_MARGIN_MS = 1000;

interface Slot {
  readonly key: string;
  readonly resetTime: Date | undefined;
}

export interface FailureBudgetParts {
  /** The store of the budget's counters (the one the limiter increments). */
  readonly store: RateLimitStore;
  readonly windowMs: number;
  /** Where the limiter leaves its info (`key`, `resetTime`) on the request. */
  readonly requestProperty: string;
  /**
   * Builds the express-rate-limit middleware over `store`, with `giveBack(req)` awaited in its
   * refusal handler before the 429 is sent.
   */
  readonly limiter: (giveBack: (req: Request) => Promise<void>) => RequestHandler;
}

export function createFailureBudget(parts: FailureBudgetParts): FailureBudget {
  const { store, windowMs, requestProperty } = parts;
  const held = new WeakMap<Request, Slot>();
  const margin = Math.min(RELEASE_MARGIN_MS, windowMs / 10);

  const slotOf = (req: Request): Slot | undefined => {
    const info = (req as Request & Record<string, Partial<ClientRateLimitInfo> & { key?: unknown }>)[requestProperty];
    return typeof info?.key === 'string' ? { key: info.key, resetTime: info.resetTime } : undefined;
  };

  const giveBack = async (slot: Slot | undefined): Promise<void> => {
    if (slot === undefined) return;
    if (slot.resetTime !== undefined && Date.now() >= slot.resetTime.getTime() - margin) return;
    try {
      await store.decrement(slot.key);
    } catch {
      // The slot stays taken until its window ends: the error is on the side of fewer checks.
    }
  };

  const limiter = parts.limiter((req) => giveBack(slotOf(req)));

  return {
    reserve: (req, res, next) => {
      limiter(req, res, (error?: unknown) => {
        if (error === undefined) {
          const slot = slotOf(req);
          if (slot !== undefined) held.set(req, slot);
        }
        next(error);
      });
    },
    settle: async (req, failed) => {
      const slot = held.get(req);
      if (slot === undefined) return;
      held.delete(req);
      if (!failed) await giveBack(slot);
    },
  };
}
