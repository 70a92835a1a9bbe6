import type { Action } from './action';
import { VerificationError } from './errors';
import type { VerificationMethod } from './records';
import type { VerificationService } from './verification-service';

/** The refusals of a guard that ask the client to verify (again). */
export type RefusalCode = 'verification.required' | 'verification.invalid' | 'verification.insufficient';

/** What a guarded route asks, as a refusal tells it (before narrowing to the user's methods). */
export interface RouteRequirement {
  readonly methods: readonly VerificationMethod[];
  readonly maxAge: number;
  readonly acrValues?: readonly string[];
  readonly action?: Action;
}

/**
 * A guard's 403 refusal: `requirement` tells what to ask the user for, its `methods` narrowed to
 * the route's methods this user can use now (a user lookup, on this path only: a passing request
 * never pays for it). A user who can use none of them gets 403 `verification.no_available_method`
 * rather than a dead end. Shared by `requireVerification()` and the endpoints that take a fresh
 * identity record (enrolling a factor).
 *
 * The request is refused whatever the lookup does: when the user port fails, the refusal names the
 * route's methods as they are (not narrowed) and the error goes to `onLookupError`, so a refusal
 * never depends on the user store being up (it would otherwise become a 500).
 */
export async function guardRefusal(
  service: VerificationService,
  userId: string,
  code: RefusalCode,
  route: RouteRequirement,
  onLookupError: ((error: unknown) => void) | undefined,
): Promise<VerificationError> {
  let methods: readonly VerificationMethod[];
  try {
    methods = await service.availableMethods(userId, route.methods);
  } catch (error) {
    onLookupError?.(error);
    return new VerificationError(code, { details: { requirement: { ...route } } });
  }
  const requirement = { ...route, methods };
  if (methods.length === 0) return new VerificationError('verification.no_available_method', { details: { requirement } });
  return new VerificationError(code, { details: { requirement } });
}
