import { createHmac } from 'node:crypto';
import type { ErrorRequestHandler, Request, RequestHandler } from 'express';
import { ipKeyGenerator, rateLimit, type Store as CounterStore } from 'express-rate-limit';
import { parsePhoneNumberWithError } from 'libphonenumber-js/max';
import { sendError, VerificationError, type ErrorCode } from '../errors';
import type { Audit } from '../events';
import { mailboxOf } from '../identifiers';
import type { Identifier, RecordPurpose } from '../records';
import type { Warnings } from '../warnings';
import type { Counters } from './counters';
import { initialisedStore, limitGroup, type CountedLimit, type GroupLimit } from './limit-group';
import { createFailureBudget, type FailureBudget } from './failure-budget';
import type { LimitWindow, ResolvedLimits } from './limits';

export interface LimiterContext {
  readonly limits: ResolvedLimits;
  readonly counters: Counters;
  readonly audit: Audit;
  readonly warnings: Warnings;
  /** Keys identifiers by HMAC, so no email or phone number is written into a key name. */
  readonly secret: Buffer;
  readonly userIdOf: (req: Request) => string;
  readonly identifierOf: (req: Request) => Identifier;
  /** Whether the identifier is one the user already has (identity) or a new one. */
  readonly purposeOf: (req: Request) => RecordPurpose;
  /**
   * Requests whose per-IP count rides in their route's own batch of counters (sending and checking
   * codes: `codeSends`, `codeFailures`) instead of a round trip of its own before authentication.
   * Default: none.
   */
  readonly perIpWithRoute?: (req: Request) => boolean;
}

export interface Limiters {
  /**
   * Over the whole router, keyed by client IP (IPv6 by /56 subnet). For the requests of
   * `perIpWithRoute`, `perIp` only marks them; they are counted in their route's batch
   * (`codeSends`, or a failure budget's reserve), or by `perIpOnError` if they fail before it (401, 400, …).
   */
  readonly perIp: RequestHandler | undefined;
  /** Error middleware: counts a marked request that failed before its route's batch, then passes the error on. */
  readonly perIpOnError: ErrorRequestHandler | undefined;
  /** Wrong passwords per user (a slot per check in flight; see FailureBudget). */
  readonly passwordFailures: FailureBudget;
  /** Allowlist, then the per-IP ceiling, cooldown and caps before a code is sent, counted in one batch. */
  readonly codeSends: RequestHandler[];
  /** Wrong codes per user (a slot per check in flight; see FailureBudget), with the per-IP ceiling of `perIpWithRoute` requests in its batch. */
  readonly codeFailures: FailureBudget;
}

/** Where the password failure limiter leaves its count on the request (the 422 tells the attempts left). */
export const PASSWORD_FAILURES_PROPERTY = 'stepUpPasswordFailures';
/** Where the code failure limiter leaves its count on the request. */
const CODE_FAILURES_PROPERTY = 'stepUpCodeFailures';

/** The router-level per-IP limit: its name (also its counters' name), window, refusal code and key. */
interface LimiterSpec {
  readonly name: string;
  readonly window: LimitWindow;
  readonly code: ErrorCode;
  readonly key: (req: Request) => string;
}

export function createLimiters(context: LimiterContext): Limiters {
  const { limits, counters, audit, warnings, secret, userIdOf, identifierOf, purposeOf } = context;
  const perIpWithRoute = context.perIpWithRoute ?? (() => false);
  /** Keys never hold an email, a phone number or a prefix of one: only an HMAC under the server secret. */
  const hashed = (value: string) => createHmac('sha256', secret).update(value).digest('base64url').slice(0, 22);
  const identifierKey = (identifier: Identifier) => hashed(`${identifier.type}:${identifier.value}`);

  const tryUserId = (req: Request): string | undefined => {
    try {
      return userIdOf(req);
    } catch {
      return undefined;
    }
  };

  /** express-rate-limit over `store`, for the per-IP ceiling of the requests not counted in a route's batch. */
  const limiter = (spec: LimiterSpec, store: CounterStore): RequestHandler =>
    rateLimit({
      windowMs: spec.window.windowSeconds * 1000,
      limit: spec.window.limit,
      standardHeaders: 'draft-8',
      legacyHeaders: false,
      identifier: spec.name,
      store,
      keyGenerator: spec.key,
      // A store that cannot be reached refuses the request (503), never lets it through.
      passOnStoreError: false,
      // The proxy checks are ours (coded warnings through onWarning, see checkProxySetup).
      validate: { xForwardedForHeader: false, trustProxy: false },
      handler: (req, res) => {
        const userId = tryUserId(req);
        audit.emit(req, { type: 'verification.rate_limited', ...(userId ? { userId } : {}), limit: spec.name, reason: spec.code });
        sendError(res, new VerificationError(spec.code));
      },
    });

  const perUser = (req: Request) => `u:${userIdOf(req)}`;
  const perUserAndIdentifier = (req: Request) => `u:${userIdOf(req)}:i:${identifierKey(identifierOf(req))}`;
  // Every send that reaches a limiter counts, whatever its outcome: giving counts back on
  // failure (skipFailedRequests) would also give them back when the client drops the
  // connection, while the message still goes out. A send refused by a later limiter has
  // used its place in the earlier ones: the error is on the side of fewer messages.

  /** A limit counted in a route's batch (see limit-group.ts), with its own counter store. */
  const counted = (limit: GroupLimit, store?: CounterStore): CountedLimit => ({ ...limit, store: store ?? initialisedStore(counters(limit.name), limit.window) });

  // The per-IP ceiling: one counter store, shared by the router-level limiter and the route batches.
  const perIpSpec = limits.perIp
    ? { name: 'per_ip', window: limits.perIp, code: 'request.rate_limited' as const, key: (req: Request) => `ip:${ipKeyGenerator(req.ip ?? 'unknown')}` }
    : undefined;
  const perIpStore = perIpSpec ? counters(perIpSpec.name) : undefined;
  /** Requests marked by `perIp` to be counted with their route; removed once counted. */
  const perIpPending = new WeakSet<Request>();
  const perIpInBatch: CountedLimit[] =
    perIpSpec && perIpStore
      ? [
          counted(
            {
              ...perIpSpec,
              applies: (req) => {
                // Counted here exactly once; unmarked requests were counted before authentication.
                if (!perIpPending.has(req)) return false;
                perIpPending.delete(req);
                return true;
              },
            },
            perIpStore,
          ),
        ]
      : [];

  /**
   * A budget of failed checks per user (see FailureBudget), counted in one batch with the per-IP
   * ceiling when its route counts that in its batch (`perIpWithRoute`).
   */
  const failureBudget = (spec: { name: string; window: LimitWindow; requestProperty: string }): FailureBudget =>
    createFailureBudget({
      limit: { name: spec.name, window: spec.window, code: 'verification.too_many_attempts', key: perUser, event: 'verification.locked' },
      store: initialisedStore(counters(spec.name), spec.window),
      requestProperty: spec.requestProperty,
      before: perIpInBatch,
      context: { audit, tryUserId },
    });

  const codeSends: RequestHandler[] = [];
  const allowed = limits.allowedCountryCallingCodes;
  if (allowed !== undefined) {
    codeSends.push((req, _res, next) => {
      const identifier = identifierOf(req);
      if (identifier.type === 'phone' && !allowed.some((cc) => isCountry(identifier.value, cc))) {
        audit.emit(req, {
          type: 'verification.rate_limited',
          userId: userIdOf(req),
          identifier,
          limit: 'sms_country',
          reason: 'verification_code.identifier_not_allowed',
        });
        // Through the error handlers, so that a request whose per-IP count waits for the batch is counted there.
        next(new VerificationError('verification_code.identifier_not_allowed'));
        return;
      }
      next();
    });
  }
  const perPrefix = limits.perPrefix;
  codeSends.push(
    limitGroup(
      [
        ...perIpInBatch,
        // Cooldown and caps per identifier count this user's sends only, so another account
        // cannot lock a user out of codes to their own email or phone.
        counted({
          name: 'code_cooldown',
          window: { limit: 1, windowSeconds: limits.codeResendCooldownSeconds },
          code: 'verification_code.rate_limited',
          key: perUserAndIdentifier,
        }),
        counted({ name: 'codes_per_identifier', window: limits.codesPerIdentifier, code: 'verification_code.rate_limited', key: perUserAndIdentifier }),
        counted({ name: 'codes_per_user', window: limits.codesPerUser, code: 'verification_code.rate_limited', key: perUser }),
        // Codes to an identifier no account has proven yet, from all users together: many accounts
        // cannot flood one stranger's inbox. Codes to a user's own identifiers never count here.
        counted({
          name: 'codes_per_new_identifier',
          window: limits.codesPerNewIdentifier,
          code: 'verification_code.rate_limited',
          // Keyed by the inbox, so address variants (`+tags`, gmail dots) do not each get their own cap.
          key: (req) => `m:${hashed(mailboxOf(identifierOf(req)))}`,
          applies: (req) => purposeOf(req) === 'new_identifier',
          headers: false,
        }),
        // Only phone numbers have prefixes worth capping.
        ...(perPrefix !== undefined
          ? [
              counted({
                name: 'sms_prefix',
                window: perPrefix,
                code: 'verification_code.identifier_not_allowed',
                key: (req) => `p:${hashed(identifierOf(req).value.slice(0, perPrefix.prefixDigits + 1))}`,
                applies: (req) => identifierOf(req).type === 'phone',
                headers: false,
              }),
            ]
          : []),
      ],
      { audit, tryUserId },
    ),
  );

  let perIp: RequestHandler | undefined;
  let perIpOnError: ErrorRequestHandler | undefined;
  if (perIpSpec && perIpStore) {
    const perIpLimiter = limiter(perIpSpec, perIpStore);
    perIp = (req, res, next) => {
      checkProxySetup(req, warnings);
      if (perIpWithRoute(req)) {
        perIpPending.add(req);
        next();
        return;
      }
      perIpLimiter(req, res, next);
    };
    perIpOnError = (error, req, res, next) => {
      if (!perIpPending.has(req)) {
        next(error);
        return;
      }
      perIpPending.delete(req);
      // Counted on the way out: over the ceiling, the answer is its 429; otherwise the request's own error.
      perIpLimiter(req, res, (limiterError?: unknown) => next(limiterError ?? error));
    };
  }

  return {
    perIp,
    perIpOnError,
    passwordFailures: failureBudget({ name: 'password_failures', window: limits.passwordFailures, requestProperty: PASSWORD_FAILURES_PROPERTY }),
    codeSends,
    codeFailures: failureBudget({ name: 'code_failures', window: limits.codeFailuresPerUser, requestProperty: CODE_FAILURES_PROPERTY }),
  };
}

/**
 * The per-IP limit is only as good as `req.ip`. Behind a proxy without `trust proxy`, every
 * client has the proxy's IP and one client's requests use up everyone's budget; with
 * `trust proxy: true`, any client can choose its IP with `X-Forwarded-For`. Each is warned once.
 */
function checkProxySetup(req: Request, warnings: Warnings): void {
  if (warnings.has('WARN_STEP_UP_XFF_WITHOUT_TRUST_PROXY') && warnings.has('WARN_STEP_UP_PERMISSIVE_TRUST_PROXY')) return;
  const trustProxy: unknown = req.app.get('trust proxy');
  if (trustProxy === true) {
    warnings.warn(
      'WARN_STEP_UP_PERMISSIVE_TRUST_PROXY',
      "`trust proxy` is true: any client can choose its IP with X-Forwarded-For and escape the per-IP limit. Set it to the number of proxies in front of the app (e.g. app.set('trust proxy', 1)) or their addresses.",
    );
  } else if ((trustProxy === false || trustProxy === undefined || trustProxy === 0) && req.headers['x-forwarded-for'] !== undefined) {
    warnings.warn(
      'WARN_STEP_UP_XFF_WITHOUT_TRUST_PROXY',
      "A request came with X-Forwarded-For while `trust proxy` is off: behind a proxy every client shares the proxy's per-IP limit. Set app.set('trust proxy', <number of proxies>), or limits.perIp: false when the gateway limits per client.",
    );
  }
}

/** Whether a (validated, E.164) number has this country calling code. */
function isCountry(e164: string, callingCode: string): boolean {
  return parsePhoneNumberWithError(e164).countryCallingCode === callingCode;
}
