import type { Store as RateLimitStore } from 'express-rate-limit';
import type { VerificationStore } from '../../lib/index';

/**
 * A store whose every call (records and rate-limit counters) rejects with the error `fail()` makes:
 * a `StoreUnavailableError` for an outage (503), anything else for a bug (500).
 */
export function brokenStore(fail: () => Error): VerificationStore {
  const reject = async (): Promise<never> => {
    throw fail();
  };
  const counters: RateLimitStore = { increment: reject, decrement: reject, resetKey: reject, get: reject };
  return {
    create: reject,
    get: reject,
    checkForGuard: reject,
    checkCode: reject,
    redeem: reject,
    ping: reject,
    counterStore: () => counters,
  };
}
