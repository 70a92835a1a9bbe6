import { withTimeout } from '../timeout';
import { StoreUnavailableError } from '../stores/store';
import type { RedisClient } from './client';

/**
 * Bounds one Redis call by `timeoutMs` (when given) and turns any client error into
 * StoreUnavailableError, so every caller fails closed (503) within a known time. Pass undefined
 * when the client already bounds every command at least as tightly (see clientBoundsCommands):
 * then no timer is set per call, only the errors are mapped.
 */
export function boundedRedisCall<T>(operation: Promise<T>, timeoutMs: number | undefined): Promise<T> {
  const bounded =
    timeoutMs === undefined
      ? operation
      : withTimeout(operation, timeoutMs, () => new StoreUnavailableError(`The verification store did not answer within ${timeoutMs} ms`));
  return bounded.then(undefined, storeUnavailable);
}

/**
 * The rejection handler of every call: one function for all, not a closure per call. The cause
 * keeps the client error's name and message only: ioredis attaches the command and its arguments
 * to its errors, which would carry a record's identifier or a code HMAC into an app's error logs.
 */
function storeUnavailable(error: unknown): never {
  if (error instanceof StoreUnavailableError) throw error;
  const cause = error instanceof Error ? Object.assign(new Error(error.message), { name: error.name }) : undefined;
  throw new StoreUnavailableError('The verification store failed', cause === undefined ? undefined : { cause });
}

/**
 * Whether an ioredis client rejects every command by itself within `timeoutMs`: a standalone
 * `Redis` whose `commandTimeout` is at most that, or at most half of it with `enableAutoPipelining`.
 * ioredis starts that timer when a command is sent or queued (`sendCommand`), so the library's own
 * timer would only duplicate it on every call. With auto-pipelining a command is sent only once
 * the batch before it (on the same connection) is answered or has timed out, so it may wait up to
 * two `commandTimeout`s (measured: 1.0 s with 500 ms while Redis was paused). A `Cluster` keeps the
 * library's timer: it can hold commands in its own queue (while it learns the slots) before a
 * node's timer starts.
 */
export function clientBoundsCommands(client: RedisClient, timeoutMs: number): boolean {
  const { isCluster, options } = client as { isCluster?: unknown; options?: { commandTimeout?: unknown; enableAutoPipelining?: unknown } };
  const commandTimeout = options?.commandTimeout;
  if (isCluster === true || typeof commandTimeout !== 'number' || !(commandTimeout > 0)) return false;
  // Truthy, as ioredis reads it (a plain-JavaScript app may pass 1 or 'true').
  const longestWait = options?.enableAutoPipelining ? 2 * commandTimeout : commandTimeout;
  return longestWait <= timeoutMs;
}
