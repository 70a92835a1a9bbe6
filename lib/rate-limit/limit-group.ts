import { createHash } from 'node:crypto';
import type { Request, RequestHandler, Response } from 'express';
import type { Options, Store as CounterStore } from 'express-rate-limit';
import { sendError, VerificationError, type ErrorCode } from '../errors';
import type { Audit } from '../events';
import { giveBack as giveBackOne } from './give-back';
import type { LimitWindow } from './limits';

/** One limit of a group: what express-rate-limit would be given for it, and when it applies. */
export interface GroupLimit {
  readonly name: string;
  readonly window: LimitWindow;
  readonly code: ErrorCode;
  readonly key: (req: Request) => string;
  /** Whether this request is counted by this limit at all. Default: always. */
  readonly applies?: (req: Request) => boolean;
  /** Send the RateLimit headers. Default true; false for counters shared by all users. */
  readonly headers?: boolean;
  /** The audit event of a refusal. Default `verification.rate_limited`. */
  readonly event?: 'verification.rate_limited' | 'verification.locked';
  /**
   * Whether a request this limit refuses keeps its count here. Default true (as express-rate-limit
   * counts it); false for a failure budget, whose refusals never count: the count is given back.
   */
  readonly countsRefusals?: boolean;
  /** Told this limit's count when the group admits the request (a failure budget holds it as the request's slot). */
  readonly admitted?: (req: Request, count: LimitCount) => void;
}

/** What one limit counted for one request. */
export interface LimitCount {
  readonly key: string;
  readonly totalHits: number;
  readonly resetTime: Date | undefined;
}

/** A limit with the counter store its counts live in (an express-rate-limit store, initialised). */
export interface CountedLimit extends GroupLimit {
  readonly store: CounterStore;
}

export interface LimitGroupContext {
  readonly audit: Audit;
  readonly tryUserId: (req: Request) => string | undefined;
}

/** A counter store as express-rate-limit would set it up for one limit (it calls init with its options). */
export function initialisedStore(store: CounterStore, window: LimitWindow): CounterStore {
  void store.init?.({ windowMs: window.windowSeconds * 1000 } as Options);
  return store;
}

/**
 * Several express-rate-limit limits in order, counted in one batch: every counter of the request is
 * incremented at once (one round trip: each counter is its own key, possibly in another Cluster slot,
 * so the increments are sent together rather than as one script), then the counts are read in
 * order, exactly as the chain of express-rate-limit middlewares would have read them one by one:
 * - the first limit over its count refuses (429 with Retry-After and, for limits with headers, the
 *   draft-8 `RateLimit` / `RateLimit-Policy` of every limit up to it), its own count kept;
 * - the limits after it never ran in the chain, so their counts are given back (a second batch, on
 *   refusals only) and they send no headers; so is the refusing limit's own count if it does not
 *   count refusals (a failure budget's).
 * Every limit here counts every request it admits; a failure budget (failure-budget.ts), which
 * settles its count on the check's outcome, is the last limit of its route's group and is told its
 * count (`admitted`) to settle it later.
 *
 * Written here rather than chained express-rate-limit middlewares because each of those awaits its
 * own store call before the next may start: N limits cost N sequential round trips. The stores,
 * the counting and the header format are express-rate-limit's (its `Store` interface, its draft-8
 * headers: `"<name>"; r=<remaining>; t=<seconds to reset>` and `"<name>"; q=<limit>; w=<window>;
 * pk=:<partition key>:`), so the answers are the ones the chain gave. While a refused request's later
 * counts are being given back, a concurrent request may see them one higher: an error on the side
 * of fewer messages.
 */
export function limitGroup(limits: readonly CountedLimit[], context: LimitGroupContext): RequestHandler {
  return (req, res, next) => {
    let applicable: { limit: CountedLimit; key: string }[];
    try {
      applicable = limits.filter((limit) => limit.applies?.(req) ?? true).map((limit) => ({ limit, key: limit.key(req) }));
    } catch (error) {
      next(error);
      return;
    }
    void count(applicable, req, res, context).then(
      (refused) => {
        if (!refused) next();
      },
      (error: unknown) => next(error),
    );
  };
}

interface Counted extends LimitCount {
  readonly limit: CountedLimit;
}

/** Counts the request in every applicable limit; answers and returns true when one refuses it. */
async function count(applicable: readonly { limit: CountedLimit; key: string }[], req: Request, res: Response, context: LimitGroupContext): Promise<boolean> {
  const settled = await Promise.allSettled(applicable.map(({ limit, key }) => limit.store.increment(key)));
  const counted: Counted[] = [];
  for (const [i, result] of settled.entries()) {
    if (result.status === 'fulfilled') {
      const { limit, key } = applicable[i] as { limit: CountedLimit; key: string };
      // Copied now: express-rate-limit's MemoryStore hands out its live entry.
      counted.push({ limit, key, totalHits: result.value.totalHits, resetTime: result.value.resetTime ? new Date(result.value.resetTime.getTime()) : undefined });
    }
  }
  const failed = settled.find((result): result is PromiseRejectedResult => result.status === 'rejected');
  if (failed !== undefined) {
    // A store that cannot be reached refuses the request (passOnStoreError: false); what was counted is given back.
    await giveBack(counted);
    throw failed.reason;
  }

  const refusedAt = counted.findIndex((c) => c.totalHits > c.limit.window.limit);
  const ran = refusedAt === -1 ? counted : counted.slice(0, refusedAt + 1);
  for (const c of ran) if (c.limit.headers ?? true) setDraft8Headers(res, c);
  if (refusedAt === -1) {
    for (const c of counted) c.limit.admitted?.(req, c);
    return false;
  }

  const refusing = counted[refusedAt] as Counted;
  await giveBack(counted.slice(refusing.limit.countsRefusals ?? true ? refusedAt + 1 : refusedAt));
  const { limit } = refusing;
  const userId = context.tryUserId(req);
  context.audit.emit(req, { type: limit.event ?? 'verification.rate_limited', ...(userId ? { userId } : {}), limit: limit.name, reason: limit.code });
  // With headers: the time left, as express-rate-limit sets it. Without: the whole window, since the
  // time left would tell when someone else began sending.
  res.setHeader('Retry-After', String(limit.headers ?? true ? resetSeconds(refusing) : Math.ceil(limit.window.windowSeconds)));
  sendError(res, new VerificationError(limit.code));
  return true;
}

/** Gives counts back (their requests did not reach those limits, or must not count there); a store error there is not the client's. */
async function giveBack(counted: readonly Counted[]): Promise<void> {
  await Promise.all(counted.map(({ limit, key, resetTime }) => giveBackOne(limit.store, key, resetTime, limit.window.windowSeconds * 1000)));
}

function resetSeconds(counted: Counted): number {
  if (counted.resetTime === undefined) return Math.ceil(counted.limit.window.windowSeconds);
  return Math.max(0, Math.ceil((counted.resetTime.getTime() - Date.now()) / 1000));
}

/** express-rate-limit's draft-8 headers, byte for byte (partition key: base64 of the first 12 hex digits of sha256(key)). */
function setDraft8Headers(res: Response, counted: Counted): void {
  if (res.headersSent) return;
  const { limit, key, totalHits } = counted;
  const partitionKey = Buffer.from(createHash('sha256').update(key).digest('hex').slice(0, 12)).toString('base64');
  res.append('RateLimit', `"${limit.name}"; r=${Math.max(limit.window.limit - totalHits, 0)}; t=${resetSeconds(counted)}`);
  res.append('RateLimit-Policy', `"${limit.name}"; q=${limit.window.limit}; w=${Math.ceil(limit.window.windowSeconds)}; pk=:${partitionKey}:`);
}
