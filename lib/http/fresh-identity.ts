import { guardRefusal } from '../guard-refusal';
import type { Requester, VerificationMethod, VerifiedRecord } from '../records';
import type { VerificationService } from '../verification-service';

/** How fresh the identity record must be to enroll a factor: 10 minutes. */
export const FRESH_IDENTITY_MAX_AGE_SECONDS = 600;

/**
 * Enrolling a factor (a passkey, TOTP) needs a fresh identity verification: the id of a verified
 * identity record of this user (and session), of one of `methods` (the `enrollWith` option; by
 * default every built-in method), verified at most 10 minutes
 * ago and not bound to an action. It is consumed, so one verification enrolls one factor. Any
 * other value is refused exactly as `requireVerification()` refuses (403 `verification.required`,
 * `verification.invalid`, `verification.insufficient` or `verification.no_available_method`).
 */
export async function consumeFreshIdentity(
  service: VerificationService,
  requester: Requester,
  recordId: unknown,
  methods: readonly VerificationMethod[],
  onLookupError: ((error: unknown) => void) | undefined,
): Promise<VerifiedRecord> {
  const route = { methods, maxAge: FRESH_IDENTITY_MAX_AGE_SECONDS };
  if (typeof recordId !== 'string' || recordId.length === 0) throw await guardRefusal(service, requester.userId, 'verification.required', route, onLookupError);
  const { verdict, record } = await service.checkForGuard(requester, recordId, {
    methods: route.methods,
    maxAgeMs: route.maxAge * 1000,
    consume: true,
    action: undefined,
  });
  if (verdict !== 'ok' || record === null) {
    throw await guardRefusal(service, requester.userId, verdict === 'insufficient' ? 'verification.insufficient' : 'verification.invalid', route, onLookupError);
  }
  return record;
}
