import type { Request, RequestHandler } from 'express';
import type { Authenticator } from './auth/authenticator';
import { rejectUnknownOptions, StepUpConfigError } from './config-error';
import { VerificationError } from './errors';
import type { Audit } from './events';
import { edgeMiddleware } from './http/edge';
import type { Identifier, IdentifierType } from './records';
import type { VerificationService } from './verification-service';

declare global {
  // eslint-disable-next-line @typescript-eslint/no-namespace
  namespace Express {
    interface Request {
      /** Set by `requireNewIdentifier()`: the identifier this user has just proven to own (normalised). */
      newIdentifier?: Identifier;
    }
  }
}

export interface RequireNewIdentifierOptions {
  /** Which kind of identifier the route binds. */
  type: IdentifierType;
  /** Where the new identifier is in the request. Default: `req.body[type]` (`email` or `phone`). */
  value?: (req: Request) => unknown;
  /** Where the new-identifier record id is. Default: `req.body.newIdentifierVerificationRecordId`. */
  recordId?: (req: Request) => unknown;
  /**
   * Require that `requireVerification()` let this request through for the same user first
   * (proof of identity as well as of the new identifier). Default true; turn it off only when
   * the route proves identity in another way.
   */
  requireIdentity?: boolean;
}

export interface NewIdentifierConfig {
  readonly service: VerificationService;
  readonly authenticate: Authenticator;
  readonly audit: Audit;
  readonly onUnexpectedError: ((error: unknown) => void) | undefined;
}

const OPTION_KEYS: readonly (keyof RequireNewIdentifierOptions)[] = ['type', 'value', 'recordId', 'requireIdentity'];

function field(value: unknown, name: string, max: number): string {
  if (typeof value !== 'string' || value.length === 0 || value.length > max) {
    throw new VerificationError('request.invalid_input', { message: `Invalid field "${name}": expected a string`, details: { field: name } });
  }
  return value;
}

/**
 * Builds `requireNewIdentifier(options)`: redeems, once, a record proving that this user owns the
 * new identifier in the request, and sets `req.newIdentifier`. Mount it after `express.json()` and
 * after `requireVerification()` (which proves identity): the two records together allow binding
 * the identifier.
 */
export function createNewIdentifierFactory(config: NewIdentifierConfig) {
  return function requireNewIdentifier(options: RequireNewIdentifierOptions): RequestHandler {
    rejectUnknownOptions('requireNewIdentifier()', options, OPTION_KEYS);
    if (options?.type !== 'email' && options?.type !== 'phone') {
      throw new StepUpConfigError('ERR_STEP_UP_INVALID_OPTION', "requireNewIdentifier: type must be 'email' or 'phone'");
    }
    for (const name of ['value', 'recordId'] as const) {
      if (options[name] !== undefined && typeof options[name] !== 'function') {
        throw new StepUpConfigError('ERR_STEP_UP_INVALID_OPTION', `requireNewIdentifier: ${name} is a function of the request`);
      }
    }
    const { type } = options;
    const requireIdentity = options.requireIdentity !== false;
    const readValue = options.value ?? ((req: Request) => (req.body as Record<string, unknown> | undefined)?.[type]);
    const readRecordId =
      options.recordId ?? ((req: Request) => (req.body as Record<string, unknown> | undefined)?.newIdentifierVerificationRecordId);
    return edgeMiddleware<{ identifier: Identifier; recordId: string }>(config, {
      async check(req, principal) {
        if (requireIdentity && req.verification?.userId !== principal.userId) {
          // Fails closed, and tells the developer: this middleware is mounted without the guard before it.
          config.onUnexpectedError?.(new Error('requireNewIdentifier() ran without requireVerification() before it'));
          throw new VerificationError('verification.required');
        }
        const value = field(readValue(req), type, 254);
        const recordId = field(readRecordId(req), 'newIdentifierVerificationRecordId', 128);
        const identifier = await config.service.redeemNewIdentifier(config.service.requesterOf(principal), recordId, { type, value });
        return { identifier, recordId };
      },
      passed(req, principal, { identifier, recordId }) {
        if (config.audit.enabled) config.audit.emit(req, { type: 'new_identifier.redeemed', userId: principal.userId, method: type, identifier, recordId });
        req.newIdentifier = identifier;
      },
      refused(req, principal, error) {
        if (config.audit.enabled) config.audit.emit(req, { type: 'new_identifier.refused', userId: principal.userId, method: type, reason: error.code });
      },
    });
  };
}
