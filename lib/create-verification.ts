import type { Request } from 'express';
import { checkedAction, type Action } from './action';
import { authenticateRequest, type Authenticator } from './auth/authenticator';
import { rejectUnknownOptions, StepUpConfigError } from './config-error';
import type { Audit } from './events';
import { BUILT_IN_METHODS, isMethodName, type VerificationMethod } from './records';
import type { VerificationService } from './verification-service';

export interface CreateVerificationOptions {
  /**
   * The name of the app's own method, e.g. `'sso'` or `'hardware_token'`: 1 to 32 lower-case
   * letters, digits, `_` or `-`, starting with a letter. Not a built-in name (`password`, `email`,
   * `phone`, `passkey`, `totp`), nor `sign_in`.
   */
  readonly method: string;
  /** The action the check approved (PSD2 dynamic linking): the record then satisfies only a guard asking for exactly it. */
  readonly action?: Action | undefined;
}

/** The record `createVerification` made, as the verification endpoints answer theirs. */
export interface CreatedVerification {
  /** The record id: the client sends it in the guard's header (`Verification-Id`). */
  readonly verificationRecordId: string;
  /** When the record dies, ISO 8601 UTC (`recordTtlSeconds` after now). */
  readonly expiresAt: string;
}

export interface CreateVerificationConfig {
  readonly service: VerificationService;
  readonly authenticate: Authenticator;
  readonly audit: Audit;
}

const OPTION_KEYS: readonly (keyof CreateVerificationOptions)[] = ['method', 'action'];
/**
 * Names an app may not claim. The built-in methods have their own endpoints, which do their own
 * checks (password hash, code, WebAuthn signature, TOTP): a guard that asks for `passkey` must be
 * able to trust that a passkey was checked, so only the library makes records of those. `sign_in`
 * is what `req.verification.method` and audit events say of a provider's sign-in (`acceptAuthTime`).
 */
const RESERVED: readonly string[] = [...BUILT_IN_METHODS, 'sign_in'];

const invalidCall = (message: string) => new StepUpConfigError('ERR_STEP_UP_INVALID_OPTION', `createVerification: ${message}`);

/** The method name, checked: a programmer error (a constant in the app's code) throws a StepUpConfigError. */
function ownMethod(method: unknown): VerificationMethod {
  if (!isMethodName(method)) {
    throw invalidCall('method is a name of your own: 1 to 32 lower-case letters, digits, _ and -, starting with a letter, e.g. "sso"');
  }
  if (RESERVED.includes(method)) {
    throw invalidCall(
      `method "${method}" is reserved: ${RESERVED.join(', ')} are made only by the library's own checks; name your check, e.g. "sso"`,
    );
  }
  return method;
}

/**
 * Builds `createVerification(req, { method, action? })`: a verified identity record of the app's
 * own method for the caller of `req` (and its session), after a check the app did itself (an SSO
 * re-login, a hardware token). The library cannot see that check: calling this *is* the app's
 * statement that it succeeded, just now, for this user.
 */
export function createVerificationFactory(config: CreateVerificationConfig) {
  return async function createVerification(req: Request, options: CreateVerificationOptions): Promise<CreatedVerification> {
    if (typeof options !== 'object' || options === null) throw invalidCall('takes (req, { method, action? })');
    rejectUnknownOptions('createVerification()', options, OPTION_KEYS);
    const method = ownMethod(options.method);
    const principal = await authenticateRequest(config.authenticate, req);
    const action = options.action === undefined ? undefined : checkedAction(options.action);
    const record = await config.service.createVerified(config.service.requesterOf(principal), method, action);
    if (config.audit.enabled) config.audit.emit(req, { type: 'verification.created', userId: record.userId, method, recordId: record.id });
    return { verificationRecordId: record.id, expiresAt: new Date(record.expiresAt).toISOString() };
  };
}
