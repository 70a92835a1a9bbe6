import type { Request, RequestHandler } from 'express';
import { actionSchema, type Action } from './action';
import type { Authenticator } from './auth/authenticator';
import { rejectUnknownOptions, StepUpConfigError } from './config-error';
import { VerificationError } from './errors';
import type { Audit } from './events';
import { edgeMiddleware } from './http/edge';
import { VERIFICATION_METHODS, type Identifier, type VerificationMethod } from './records';
import type { VerificationService } from './verification-service';

/** What the handler of a guarded route learns about the verification that let the request through. */
export interface VerificationContext {
  readonly id: string;
  readonly userId: string;
  readonly method: VerificationMethod;
  readonly identifier?: Identifier;
  readonly verifiedAt: Date;
  /** The action the record was bound to (the guard's `action` for this request). */
  readonly action?: Action;
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
  /**
   * The action this request performs (PSD2 dynamic linking), e.g.
   * `(req) => ({ type: 'transfer', amount: req.body.amount, currency: req.body.currency, payee: req.body.payee })`.
   * Only a record bound to exactly this action passes; refusals carry it as `requirement.action`.
   * Validate the body before the guard: a value that is not a valid action is a 400.
   */
  action?: (req: Request) => Action;
}

export interface GuardConfig {
  readonly service: VerificationService;
  readonly authenticate: Authenticator;
  readonly defaultHeader: string;
  readonly audit: Audit;
  readonly onUnexpectedError: ((error: unknown) => void) | undefined;
}

const HEADER_NAME = /^[A-Za-z0-9-]{1,64}$/;
const OPTION_KEYS: readonly (keyof RequireVerificationOptions)[] = ['methods', 'maxAge', 'singleUse', 'header', 'action'];
const invalidOption = (message: string) => new StepUpConfigError('ERR_STEP_UP_INVALID_OPTION', `requireVerification: ${message}`);

function resolveRule(options: RequireVerificationOptions, defaultHeader: string) {
  rejectUnknownOptions('requireVerification()', options, OPTION_KEYS);
  const methods = options.methods ?? VERIFICATION_METHODS;
  if (!Array.isArray(methods) || methods.length === 0 || !methods.every((m) => VERIFICATION_METHODS.includes(m))) {
    throw invalidOption(`methods must be a non-empty list of ${VERIFICATION_METHODS.join(', ')}`);
  }
  const maxAge = options.maxAge ?? 600;
  if (typeof maxAge !== 'number' || !Number.isFinite(maxAge) || maxAge <= 0) throw invalidOption('maxAge is a positive number of seconds');
  const header = options.header ?? defaultHeader;
  if (typeof header !== 'string' || !HEADER_NAME.test(header)) throw invalidOption('header must be a valid header name');
  if (options.singleUse !== undefined && typeof options.singleUse !== 'boolean') throw invalidOption('singleUse is true or false');
  if (options.action !== undefined && typeof options.action !== 'function') throw invalidOption('action is a function of the request');
  return { methods: [...new Set(methods)], maxAge, header: header.toLowerCase(), singleUse: options.singleUse === true, action: options.action };
}

/** The action of this request, checked like the endpoints check theirs; an invalid one is the app's input error, a 400. */
function actionOf(req: Request, action: (req: Request) => Action): Action {
  const parsed = actionSchema.safeParse(action(req));
  if (!parsed.success) {
    throw new VerificationError('request.invalid_input', { message: 'The request does not describe a valid action.', details: { field: 'action' } });
  }
  return parsed.data as Action;
}

/**
 * Builds `requireVerification(options)`: authenticate, one store call, then `req.verification`
 * and next(), or a JSON 401/403/503 (see edgeMiddleware).
 */
export function createGuardFactory(config: GuardConfig) {
  return function requireVerification(options: RequireVerificationOptions = {}): RequestHandler {
    const rule = resolveRule(options, config.defaultHeader);
    const baseRequirement = { methods: rule.methods, maxAge: rule.maxAge };
    const maxAgeMs = rule.maxAge * 1000;

    type Checked = { readonly context: VerificationContext };

    return edgeMiddleware<Checked>(config, {
      async check(req, principal) {
        const action = rule.action ? actionOf(req, rule.action) : undefined;
        const requirement = action === undefined ? baseRequirement : { ...baseRequirement, action };
        const refuse = (code: 'verification.required' | 'verification.invalid' | 'verification.insufficient') =>
          new VerificationError(code, { details: { requirement } });

        const recordId = req.headers[rule.header];
        if (typeof recordId !== 'string' || recordId.length === 0) throw refuse('verification.required');
        const { verdict, record } = await config.service.checkForGuard(config.service.requesterOf(principal), recordId, {
          methods: rule.methods,
          maxAgeMs,
          consume: rule.singleUse,
          action,
        });
        if (verdict !== 'ok' || record === null) throw refuse(verdict === 'insufficient' ? 'verification.insufficient' : 'verification.invalid');
        return {
          context: {
            id: record.id,
            userId: record.userId,
            method: record.method,
            ...(record.identifier ? { identifier: record.identifier } : {}),
            verifiedAt: new Date(record.verifiedAt),
            ...(action !== undefined ? { action } : {}),
          },
        };
      },
      passed(req, principal, { context }) {
        config.audit.emit(req, {
          type: rule.singleUse ? 'record.consumed' : 'guard.passed',
          userId: principal.userId,
          method: context.method,
          recordId: context.id,
        });
        req.verification = context;
      },
      refused(req, principal, error) {
        config.audit.emit(req, { type: 'guard.refused', userId: principal.userId, reason: error.code });
      },
    });
  };
}
