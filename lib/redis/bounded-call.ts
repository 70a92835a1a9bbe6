import { withTimeout } from '../timeout';
import { StoreUnavailableError } from '../stores/store';

/**
 * Bounds one Redis call by `timeoutMs`, whatever the client's own settings, and
 * turns any client error into StoreUnavailableError, so every caller fails closed
 * (503) within a known time.
 */
export function boundedRedisCall<T>(operation: Promise<T>, timeoutMs: number): Promise<T> {
  return withTimeout(operation, timeoutMs, () => new StoreUnavailableError(`The verification store did not answer within ${timeoutMs} ms`)).catch(
    (error: unknown) => {
      throw error instanceof StoreUnavailableError ? error : new StoreUnavailableError('The verification store failed', { cause: error });
    },
  );
}
