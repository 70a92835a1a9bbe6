import type { Request, RequestHandler } from 'express';
import { checkedAction, type Action } from './action';
import type { Authenticator } from './auth/authenticator';
import { rejectUnknownOptions, StepUpConfigError } from './config-error';
import { VerificationError } from './errors';
import type { Audit } from './events';
import { amrFor, rfc9470Challenge, signInSatisfies } from './delegated-step-up';
import { guardRefusal, type RefusalCode, type RouteRequirement } from './guard-refusal';
import { presetOptions, withOverrides, type GuardPreset } from './guard-presets';
import { edgeMiddleware } from './http/edge';
import { methodList, VERIFICATION_METHODS, type Identifier, type VerificationMethod, type VerifiedRecord } from './records';
import type { GuardRule, VerificationService } from './verification-service';

/** What the handler of a guarded route learns about the verification that let the request through. */
export interface VerificationContext {
  /**
   * What let the request through: a verification record (`id` is its id), or, on routes with
   * `acceptAuthTime`, the identity provider's own fresh sign-in (no record, no `id`).
   */
  readonly source: 'record' | 'sign_in';
  /** The record's id (absent when `source` is `sign_in`). */
  readonly id?: string;
  readonly userId: string;
  /**
   * How the user proved it: the record's method, or for a provider sign-in the method its `amr`
   * names (`password` for `pwd`, `phone` for `sms`/`tel`) or `sign_in`.
   */
  readonly method: VerificationMethod | 'sign_in';
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
  /**
   * Methods that satisfy this route: built-in ones (`password`, `email`, `phone`, `passkey`, `totp`)
   * and the app's own (see `createVerification`). Default: every built-in method (never an app's
   * own). A refusal's `requirement.methods` lists only those of them the user can use now.
   */
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
  /**
   * Accept the identity provider's own fresh sign-in instead of a record: a token whose
   * `auth_time` (seconds) is within `maxAge` passes — and, when the route sets `acrValues`, whose
   * `acr` is one of them, or, when it restricts `methods`, whose `amr` (RFC 8176) names one of
   * them (`pwd` for password, `sms`/`tel` for phone). Needs an authenticator that reports
   * `authTime` (jwtAuthenticator and oidcAuthenticator read `auth_time`). Not with `singleUse` or
   * `action`: a sign-in cannot be consumed, nor bound to one action. Default false.
   */
  acceptAuthTime?: boolean;
  /** Authentication context classes a provider sign-in must have (`acr`), with `acceptAuthTime`; also sent in RFC 9470 challenges. */
  acrValues?: readonly string[];
  /**
   * `'rfc9470'`: refusals are 401 with `WWW-Authenticate: Bearer error="insufficient_user_authentication",
   * error_description, max_age (and acr_values)` (RFC 9470 §3), for clients that go back to the
   * identity provider; the JSON body is the same. Default `'403'`: the contract's 403 refusals.
   */
  challenge?: '403' | 'rfc9470';
}

/**
 * `stepUp.requireVerification`: the guard factory, with its presets as properties. Each preset
 * takes the same options as overrides, merged over its own (`strict({ action })`).
 */
export interface RequireVerification {
  (options?: RequireVerificationOptions): RequestHandler;
  /**
   * A passkey, a TOTP code or the password (no email or SMS code), verified within the last 5
   * minutes, and single use: for moving money, changing a password, email, phone or passkey.
   */
  strict(overrides?: RequireVerificationOptions): RequestHandler;
  /** Any built-in method, verified within the last 10 minutes, reusable: the plain guard's defaults, named. */
  moderate(overrides?: RequireVerificationOptions): RequestHandler;
  /** Any built-in method, reusable for as long as the record lives (`recordTtlSeconds`). */
  lax(overrides?: RequireVerificationOptions): RequestHandler;
}

export interface GuardConfig {
  readonly now: () => number;
  /** Lifetime of a verified record: the presets never ask for a `maxAge` beyond it. */
  readonly recordTtlMs: number;
  readonly service: VerificationService;
  readonly authenticate: Authenticator;
  readonly defaultHeader: string;
  readonly audit: Audit;
  readonly onUnexpectedError: ((error: unknown) => void) | undefined;
}

const HEADER_NAME = /^[A-Za-z0-9-]{1,64}$/;
const OPTION_KEYS: readonly (keyof RequireVerificationOptions)[] = [
  'methods',
  'maxAge',
  'singleUse',
  'header',
  'action',
  'acceptAuthTime',
  'acrValues',
  'challenge',
];
const invalidOption = (message: string) => new StepUpConfigError('ERR_STEP_UP_INVALID_OPTION', `requireVerification: ${message}`);

function resolveRule(options: RequireVerificationOptions, defaultHeader: string) {
  rejectUnknownOptions('requireVerification()', options, OPTION_KEYS);
  const methods = methodList(options.methods ?? VERIFICATION_METHODS);
  if (methods === undefined) {
    throw invalidOption(
      `methods must be a non-empty list of method names: ${VERIFICATION_METHODS.join(', ')} or your own (lower-case letters, digits, _ and -, up to 32)`,
    );
  }
  const maxAge = options.maxAge ?? 600;
  if (typeof maxAge !== 'number' || !Number.isFinite(maxAge) || maxAge <= 0) throw invalidOption('maxAge is a positive number of seconds');
  const header = options.header ?? defaultHeader;
  if (typeof header !== 'string' || !HEADER_NAME.test(header)) throw invalidOption('header must be a valid header name');
  if (options.singleUse !== undefined && typeof options.singleUse !== 'boolean') throw invalidOption('singleUse is true or false');
  if (options.action !== undefined && typeof options.action !== 'function') throw invalidOption('action is a function of the request');
  if (options.acceptAuthTime !== undefined && typeof options.acceptAuthTime !== 'boolean') throw invalidOption('acceptAuthTime is true or false');
  const acceptAuthTime = options.acceptAuthTime === true;
  if (acceptAuthTime && options.singleUse === true) {
    throw invalidOption('acceptAuthTime cannot be used with singleUse: a sign-in cannot be consumed, so it would pass every request');
  }
  if (acceptAuthTime && options.action !== undefined) {
    throw invalidOption('acceptAuthTime cannot be used with action: a sign-in is not bound to one action');
  }
  const acrValues = options.acrValues;
  if (acrValues !== undefined && (!Array.isArray(acrValues) || acrValues.length === 0 || !acrValues.every((v) => typeof v === 'string' && /^[\x21-\x7e]{1,256}$/.test(v)))) {
    throw invalidOption('acrValues is a non-empty list of acr values (visible ASCII, no spaces)');
  }
  if (acrValues !== undefined && !acceptAuthTime && options.challenge !== 'rfc9470') {
    throw invalidOption('acrValues takes effect only with acceptAuthTime or challenge: "rfc9470"');
  }
  const challenge = options.challenge ?? '403';
  if (challenge !== '403' && challenge !== 'rfc9470') throw invalidOption("challenge is '403' or 'rfc9470'");
  return {
    methods,
    maxAge,
    header: header.toLowerCase(),
    singleUse: options.singleUse === true,
    action: options.action,
    acceptAuthTime,
    acrValues: acrValues === undefined ? undefined : [...acrValues],
    // A route that lists its methods asks a provider sign-in for a matching amr too.
    amr: options.methods === undefined ? undefined : [...new Set(methods.flatMap((m: VerificationMethod) => amrFor(m)))],
    challenge,
  };
}

/** The action of this request, checked like the endpoints check theirs; an invalid one is the app's input error, a 400. */
function actionOf(req: Request, action: (req: Request) => Action): Action {
  return checkedAction(action(req));
}

/**
 * Builds `requireVerification(options)` and its presets: authenticate, one store call, then
 * `req.verification` and next(), or a JSON 401/403/503 (see edgeMiddleware).
 */
export function createGuardFactory(config: GuardConfig): RequireVerification {
  const guard = guardFactory(config);
  const preset = (name: GuardPreset) => (overrides?: RequireVerificationOptions): RequestHandler => {
    // Checked under the preset's own name first, so a typo's message says where it is.
    rejectUnknownOptions(`requireVerification.${name}()`, overrides, OPTION_KEYS);
    return guard(withOverrides(presetOptions(name, config.recordTtlMs / 1000), overrides));
  };
  return Object.assign(guard, { strict: preset('strict'), moderate: preset('moderate'), lax: preset('lax') });
}

/** A VerificationContext under construction (its fields are set one by one: no spread objects per request). */
type ContextFields = { -readonly [K in keyof VerificationContext]: VerificationContext[K] };

/** What the handler learns about the record that let the request through. */
function recordContext(record: VerifiedRecord, action: Action | undefined): VerificationContext {
  const context: ContextFields = { source: 'record', id: record.id, userId: record.userId, method: record.method, verifiedAt: new Date(record.verifiedAt) };
  if (record.identifier) context.identifier = record.identifier;
  if (action !== undefined) context.action = action;
  return context;
}

interface ResolvedRule {
  readonly maxAge: number;
  readonly acrValues: readonly string[] | undefined;
  readonly challenge: '403' | 'rfc9470';
}

/** A refusal (see guardRefusal); as an RFC 9470 challenge when the route asks for one. */
async function refusal(
  config: GuardConfig,
  rule: ResolvedRule,
  requirement: RouteRequirement,
  userId: string,
  code: RefusalCode,
  action: Action | undefined,
): Promise<VerificationError> {
  const refused = await guardRefusal(config.service, userId, code, action !== undefined ? { ...requirement, action } : requirement, config.onUnexpectedError);
  if (rule.challenge === '403' || refused.code === 'verification.no_available_method') return refused;
  const plain = new VerificationError(code);
  return new VerificationError(code, {
    details: refused.details,
    status: 401,
    headers: { 'WWW-Authenticate': rfc9470Challenge(plain.message, rule.maxAge, rule.acrValues) },
  });
}

function guardFactory(config: GuardConfig) {
  return function requireVerification(options: RequireVerificationOptions = {}): RequestHandler {
    const rule = resolveRule(options, config.defaultHeader);
    const baseRequirement: RouteRequirement = { methods: rule.methods, maxAge: rule.maxAge, ...(rule.acrValues ? { acrValues: rule.acrValues } : {}) };
    const maxAgeMs = rule.maxAge * 1000;
    const signInRule = { maxAgeMs, acrValues: rule.acrValues, amr: rule.amr };
    /** What the service checks a record against; one object for every request of a route without `action`. */
    const guardRule: GuardRule = { methods: rule.methods, maxAgeMs, consume: rule.singleUse, action: undefined };

    return edgeMiddleware<VerificationContext>(config, {
      async check(req, principal) {
        const action = rule.action ? actionOf(req, rule.action) : undefined;
        if (rule.acceptAuthTime) {
          const method = signInSatisfies(principal, signInRule, config.now());
          if (method !== null && principal.authTime !== undefined) {
            return { source: 'sign_in', userId: principal.userId, method, verifiedAt: new Date(principal.authTime * 1000) };
          }
        }
        const recordId = req.headers[rule.header];
        if (typeof recordId !== 'string' || recordId.length === 0) {
          throw await refusal(config, rule, baseRequirement, principal.userId, 'verification.required', action);
        }
        const { verdict, record } = await config.service.checkForGuard(
          config.service.requesterOf(principal),
          recordId,
          action === undefined ? guardRule : { ...guardRule, action },
        );
        if (verdict !== 'ok' || record === null) {
          throw await refusal(config, rule, baseRequirement, principal.userId, verdict === 'insufficient' ? 'verification.insufficient' : 'verification.invalid', action);
        }
        return recordContext(record, action);
      },
      passed(req, principal, context) {
        if (config.audit.enabled) config.audit.emit(req, {
          type: rule.singleUse ? 'record.consumed' : 'guard.passed',
          userId: principal.userId,
          method: context.method,
          ...(context.id !== undefined ? { recordId: context.id } : { reason: 'auth_time' }),
        });
        req.verification = context;
      },
      refused(req, principal, error) {
        if (config.audit.enabled) config.audit.emit(req, { type: 'guard.refused', userId: principal.userId, reason: error.code });
      },
    });
  };
}
