import type { RequestHandler } from 'express';
import { authenticateRequest, type Authenticator } from './auth/authenticator';
import { respondWithError, toVerificationError, VerificationError } from './errors';
import type { Audit } from './events';
import { VERIFICATION_METHODS, type VerificationMethod } from './records';
import type { VerificationService } from './verification-service';

/** What the handler of a guarded route learns about the verification that let the request through. */
export interface VerificationContext {
  readonly id: string;
  readonly userId: string;
  readonly method: VerificationMethod;
  readonly identifier?: { readonly type: 'email' | 'phone'; readonly value: string };
  readonly verifiedAt: Date;
}

declare global {
  // eslint-disable-next-line @typescript-eslint/no-namespace
  namespace Express {
    interface Request {
      /** Set by `requireVerification()` on the requests it lets through. */
      verification?: VerificationContext;
    }
  }
}

export interface RequireVerificationOptions {
  /** Methods that satisfy this route. Default: all (`password`, `email`, `phone`). */
  methods?: readonly VerificationMethod[];
  /** Seconds since verification after which a record no longer satisfies this route. Default 600. */
  maxAge?: number;
  /** Consume the record on success, so it serves exactly one request. Default false. */
  singleUse?: boolean;
  /** Request header carrying the record id. Default `Verification-Id` (or the createStepUp option). */
  header?: string;
}

export interface GuardConfig {
  readonly service: VerificationService;
  readonly authenticate: Authenticator;
  readonly defaultHeader: string;
  readonly audit: Audit;
  readonly onUnexpectedError: ((error: unknown) => void) | undefined;
}

const HEADER_NAME = /^[A-Za-z0-9-]{1,64}$/;

function validate(options: RequireVerificationOptions, defaultHeader: string) {
  const methods = options.methods ?? VERIFICATION_METHODS;
  if (!Array.isArray(methods) || methods.length === 0 || !methods.every((m) => VERIFICATION_METHODS.includes(m))) {
    throw new TypeError(`requireVerification: methods must be a non-empty list of ${VERIFICATION_METHODS.join(', ')}`);
  }
  const maxAge = options.maxAge ?? 600;
  if (!Number.isFinite(maxAge) || maxAge <= 0) {
    throw new TypeError('requireVerification: maxAge is a positive number of seconds');
  }
  const header = options.header ?? defaultHeader;
  if (!HEADER_NAME.test(header)) throw new TypeError('requireVerification: header must be a valid header name');
  return { methods: [...new Set(methods)], maxAge, header: header.toLowerCase(), singleUse: options.singleUse === true };
}

/**
 * Builds `requireVerification(options)`: authenticate, one store call, then
 * `req.verification` and next(), or a JSON 401/403/503. It answers errors itself
 * (it never passes them to the app's error handler), so a refusal can never turn
 * into a pass or an HTML page.
 */
export function createGuardFactory(config: GuardConfig) {
  return function requireVerification(options: RequireVerificationOptions = {}): RequestHandler {
    const rule = validate(options, config.defaultHeader);
    const requirement = { methods: rule.methods, maxAge: rule.maxAge };
    const refuse = (code: 'verification.required' | 'verification.invalid' | 'verification.insufficient') =>
      new VerificationError(code, undefined, { requirement });

    return async (req, res, next) => {
      // Its refusals, and the guarded handler's answer unless it overrides this, are never cached.
      res.setHeader('Cache-Control', 'no-store');
      let userId: string | undefined;
      let context: VerificationContext;
      try {
        userId = (await authenticateRequest(config.authenticate, req)).userId;
        context = await check(req.headers[rule.header], userId);
      } catch (caught) {
        if (userId !== undefined) config.audit.emit(req, { type: 'guard.refused', userId, reason: toVerificationError(caught).code });
        respondWithError(res, caught, config.onUnexpectedError);
        return;
      }
      config.audit.emit(req, {
        type: rule.singleUse ? 'record.consumed' : 'guard.passed',
        userId,
        method: context.method,
        recordId: context.id,
      });
      req.verification = context;
      next();
    };

    async function check(recordId: string | string[] | undefined, userId: string): Promise<VerificationContext> {
      if (typeof recordId !== 'string' || recordId.length === 0) throw refuse('verification.required');
      const { verdict, record } = await config.service.checkForGuard(userId, recordId, {
        methods: rule.methods,
        maxAgeMs: rule.maxAge * 1000,
        consume: rule.singleUse,
      });
      if (verdict !== 'ok' || record === null || record.verifiedAt === undefined) {
        throw refuse(verdict === 'insufficient' ? 'verification.insufficient' : 'verification.invalid');
      }
      return {
        id: record.id,
        userId: record.userId,
        method: record.method,
        ...(record.identifier ? { identifier: record.identifier } : {}),
        verifiedAt: new Date(record.verifiedAt),
      };
    }
  };
}
