import type { Store as RateLimitStore } from 'express-rate-limit';
import type { Counters, VerificationStore } from '../../lib/index';

/**
 * Options for createStepUp whose store and rate-limit counters reject every call with the error
 * `fail()` makes: a `StoreUnavailableError` for an outage (503), anything else for a bug (500).
 */
export function brokenStore(fail: () => Error): { store: VerificationStore; counters: Counters } {
  const reject = async (): Promise<never> => {
    throw fail();
  };
  // A new counter store per limit, as the Counters port requires (express-rate-limit refuses a shared one).
  const counterStore = (): RateLimitStore => ({ increment: reject, decrement: reject, resetKey: reject, get: reject });
  return {
    store: { create: reject, get: reject, checkForGuard: reject, checkCode: reject, redeem: reject, revokeAll: reject, ping: reject,
      putChallenge: reject, readChallenge: reject, deleteChallenge: reject, useTotpStep: reject },
    counters: () => counterStore(),
  };
}
