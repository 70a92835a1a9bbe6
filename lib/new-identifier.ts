import type { Request, RequestHandler } from 'express';
import { authenticateRequest, type Authenticator } from './auth/authenticator';
import { respondWithError, toVerificationError, VerificationError } from './errors';
import type { Audit } from './events';
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

function field(value: unknown, name: string, max: number): string {
  if (typeof value !== 'string' || value.length === 0 || value.length > max) {
    throw new VerificationError('request.invalid_input', `Invalid field "${name}": expected a string`, { field: name });
  }
  return value;
}

/**
 * Builds `requireNewIdentifier(options)`: redeems, once, a record proving that
 * this user owns the new identifier in the request, and sets `req.newIdentifier`.
 * Mount it after `express.json()` and after `requireVerification()` (which proves
 * identity): the two records together allow binding the identifier.
 */
export function createNewIdentifierFactory(config: NewIdentifierConfig) {
  return function requireNewIdentifier(options: RequireNewIdentifierOptions): RequestHandler {
    if (options?.type !== 'email' && options?.type !== 'phone') {
      throw new TypeError("requireNewIdentifier: type must be 'email' or 'phone'");
    }
    const { type } = options;
    const requireIdentity = options.requireIdentity !== false;
    const readValue = options.value ?? ((req: Request) => (req.body as Record<string, unknown> | undefined)?.[type]);
    const readRecordId =
      options.recordId ?? ((req: Request) => (req.body as Record<string, unknown> | undefined)?.newIdentifierVerificationRecordId);

    return async (req, res, next) => {
      let userId: string | undefined;
      let recordId: string | undefined;
      let identifier: Identifier;
      try {
        userId = (await authenticateRequest(config.authenticate, req)).userId;
        if (requireIdentity && req.verification?.userId !== userId) {
          // Fails closed, and tells the developer: this middleware is mounted without the guard before it.
          config.onUnexpectedError?.(new Error('requireNewIdentifier() ran without requireVerification() before it'));
          throw new VerificationError('verification.required');
        }
        const value = field(readValue(req), type, 254);
        recordId = field(readRecordId(req), 'newIdentifierVerificationRecordId', 128);
        identifier = await config.service.redeemNewIdentifier(userId, recordId, { type, value });
      } catch (caught) {
        if (userId !== undefined) {
          config.audit.emit(req, { type: 'new_identifier.refused', userId, method: type, reason: toVerificationError(caught).code });
        }
        respondWithError(res, caught, config.onUnexpectedError);
        return;
      }
      config.audit.emit(req, { type: 'new_identifier.redeemed', userId, method: type, identifier, recordId });
      req.newIdentifier = identifier;
      next();
    };
  };
}
