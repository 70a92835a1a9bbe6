import { createHmac } from 'node:crypto';
import type { Request, RequestHandler, Response } from 'express';
import { ipKeyGenerator, rateLimit, type Options } from 'express-rate-limit';
import { parsePhoneNumberWithError } from 'libphonenumber-js/max';
import { sendError, VerificationError, type ErrorCode } from '../errors';
import type { Audit } from '../events';
import type { Identifier } from '../records';
import type { VerificationStore } from '../stores/store';
import type { LimitWindow, ResolvedLimits } from './limits';

export interface LimiterContext {
  readonly limits: ResolvedLimits;
  readonly store: VerificationStore;
  readonly audit: Audit;
  /** Keys identifiers by HMAC, so no email or phone number is written into a key name. */
  readonly secret: Buffer;
  readonly userIdOf: (req: Request) => string;
  readonly identifierOf: (req: Request) => Identifier;
}

export interface Limiters {
  /** Over the whole router, keyed by client IP (IPv6 by /56 subnet). */
  readonly perIp: RequestHandler | undefined;
  /** Wrong passwords per user. */
  readonly passwordFailures: RequestHandler;
  /** Allowlist, cooldown and caps before a code is sent, in order. */
  readonly codeSends: RequestHandler[];
  /** Wrong codes per user. */
  readonly codeFailures: RequestHandler;
}

/** A sent code counts when the provider was called: 2xx, or 502 when it refused. */
const providerWasCalled = (_req: Request, res: Response) => res.statusCode < 400 || res.statusCode === 502;

export function createLimiters(context: LimiterContext): Limiters {
  const { limits, store, audit, secret, userIdOf, identifierOf } = context;
  const hashed = (identifier: Identifier) =>
    createHmac('sha256', secret).update(`${identifier.type}:${identifier.value}`).digest('base64url').slice(0, 22);

  const limiter = (
    name: string,
    window: LimitWindow,
    code: ErrorCode,
    keyGenerator: (req: Request) => string,
    counting: Pick<Partial<Options>, 'skipSuccessfulRequests' | 'skipFailedRequests' | 'requestWasSuccessful'>,
    event: 'verification.rate_limited' | 'verification.locked' = 'verification.rate_limited',
  ): RequestHandler =>
    rateLimit({
      windowMs: window.windowSeconds * 1000,
      limit: window.limit,
      standardHeaders: 'draft-8',
      legacyHeaders: false,
      identifier: name,
      store: store.counterStore(name),
      keyGenerator,
      // A store that cannot be reached refuses the request (503), never lets it through.
      passOnStoreError: false,
      ...counting,
      handler: (req, res) => {
        const userId = tryUserId(req);
        audit.emit(req, { type: event, ...(userId ? { userId } : {}), limit: name, reason: code });
        sendError(res, new VerificationError(code));
      },
    });

  const tryUserId = (req: Request): string | undefined => {
    try {
      return userIdOf(req);
    } catch {
      return undefined;
    }
  };

  const perUser = (req: Request) => `u:${userIdOf(req)}`;
  const countSends = { skipFailedRequests: true, requestWasSuccessful: providerWasCalled };

  const codeSends: RequestHandler[] = [];
  const allowed = limits.allowedCountryCallingCodes;
  if (allowed !== undefined) {
    codeSends.push((req, res, next) => {
      const identifier = identifierOf(req);
      if (identifier.type === 'phone' && !allowed.some((cc) => isCountry(identifier.value, cc))) {
        audit.emit(req, { type: 'verification.rate_limited', userId: userIdOf(req), identifier, limit: 'sms_country', reason: 'verification_code.identifier_not_allowed' });
        sendError(res, new VerificationError('verification_code.identifier_not_allowed'));
        return;
      }
      next();
    });
  }
  codeSends.push(
    limiter(
      'code_cooldown',
      { limit: 1, windowSeconds: limits.codeResendCooldownSeconds },
      'verification_code.rate_limited',
      (req) => `i:${hashed(identifierOf(req))}`,
      countSends,
    ),
    limiter('codes_per_identifier', limits.codesPerIdentifier, 'verification_code.rate_limited', (req) => `i:${hashed(identifierOf(req))}`, countSends),
    limiter('codes_per_user', limits.codesPerUser, 'verification_code.rate_limited', perUser, countSends),
  );
  const perPrefix = limits.perPrefix;
  if (perPrefix !== undefined) {
    const prefixLimiter = limiter(
      'sms_prefix',
      perPrefix,
      'verification_code.identifier_not_allowed',
      (req) => `p:${identifierOf(req).value.slice(0, perPrefix.prefixDigits + 1)}`,
      countSends,
    );
    // Only phone numbers have prefixes worth capping.
    codeSends.push((req, res, next) => (identifierOf(req).type === 'phone' ? prefixLimiter(req, res, next) : next()));
  }

  return {
    perIp: limits.perIp
      ? limiter('per_ip', limits.perIp, 'request.rate_limited', (req) => `ip:${ipKeyGenerator(req.ip ?? 'unknown')}`, {})
      : undefined,
    passwordFailures: limiter(
      'password_failures',
      limits.passwordFailures,
      'verification.too_many_attempts',
      perUser,
      { skipSuccessfulRequests: true },
      'verification.locked',
    ),
    codeSends,
    codeFailures: limiter(
      'code_failures',
      limits.codeFailuresPerUser,
      'verification.too_many_attempts',
      perUser,
      { skipSuccessfulRequests: true },
      'verification.locked',
    ),
  };
}

/** Whether a (validated, E.164) number has this country calling code. */
function isCountry(e164: string, callingCode: string): boolean {
  return parsePhoneNumberWithError(e164).countryCallingCode === callingCode;
}
