import { withTimeout } from '../timeout';
import { StoreUnavailableError } from '../stores/store';

/**
 * Bounds one Redis call by `timeoutMs`, whatever the client's own settings, and
 * turns any client error into StoreUnavailableError, so every caller fails closed
 * (503) within a known time.
 */
export async function boundedRedisCall<T>(operation: Promise<T>, timeoutMs: number): Promise<T> {
  try {
    return await withTimeout(
      operation,
      timeoutMs,
      () => new StoreUnavailableError(`The verification store did not answer within ${timeoutMs} ms`),
    );
  } catch (error) {
    if (error instanceof StoreUnavailableError) throw error;
    throw new StoreUnavailableError('The verification store failed', { cause: error });
  }
}
