import type { Request, RequestHandler } from 'express';
import type { Store as RateLimitStore } from 'express-rate-limit';
import { giveBack } from './give-back';
import { limitGroup, type CountedLimit, type GroupLimit, type LimitCount, type LimitGroupContext } from './limit-group';

/**
 * A budget of failed checks per key and window (wrong passwords, wrong codes), race-free under
 * concurrency: a request takes a slot before its check and gives it back unless the check failed.
 *
 * - reserve: an atomic increment, in one batch with the route's other counters (limitGroup: the
 *   per-IP ceiling of a code check rides along, one round trip for both). A request that finds
 *   the budget full, or that a limit before it refuses, is refused (429) and its increment is
 *   given back at once: a refusal never counts.
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
 * decrement, each atomic. A give-back never reaches into the next window (see give-back.ts). A
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

export interface FailureBudgetParts {
  /** The budget as a limit of its route's group: name, window, refusal code and event, key per user. */
  readonly limit: GroupLimit;
  /** The store of the budget's counters, initialised for its window. */
  readonly store: RateLimitStore;
  /** Where the budget leaves its count on the request, as express-rate-limit would (`limit`, `used`, `remaining`, `resetTime`, `key`). */
  readonly requestProperty: string;
  /**
   * Limits counted in the same batch, before the budget (the route's per-IP ceiling): one round
   * trip for all, read in order (see limitGroup). Default none.
   */
  readonly before?: readonly CountedLimit[];
  readonly context: LimitGroupContext;
}

export function createFailureBudget(parts: FailureBudgetParts): FailureBudget {
  const { store, requestProperty } = parts;
  const windowMs = parts.limit.window.windowSeconds * 1000;
  const held = new WeakMap<Request, LimitCount>();

  const reserve = limitGroup(
    [
      ...(parts.before ?? []),
      {
        ...parts.limit,
        store,
        countsRefusals: false,
        admitted: (req, count) => {
          held.set(req, count);
          const { limit } = parts.limit.window;
          (req as Request & Record<string, unknown>)[requestProperty] = {
            limit,
            used: count.totalHits,
            remaining: Math.max(limit - count.totalHits, 0),
            resetTime: count.resetTime,
            key: count.key,
          };
        },
      },
    ],
    parts.context,
  );

  return {
    reserve,
    settle: async (req, failed) => {
      const slot = held.get(req);
      if (slot === undefined) return;
      held.delete(req);
      if (!failed) await giveBack(store, slot.key, slot.resetTime, windowMs);
    },
  };
}
