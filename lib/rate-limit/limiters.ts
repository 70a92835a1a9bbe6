import { createHmac } from 'node:crypto';
import type { Request, RequestHandler } from 'express';
import { ipKeyGenerator, rateLimit, type Options } from 'express-rate-limit';
import { parsePhoneNumberWithError } from 'libphonenumber-js/max';
import { sendError, VerificationError, type ErrorCode } from '../errors';
import type { Audit } from '../events';
import { mailboxOf } from '../identifiers';
import type { Identifier, RecordPurpose } from '../records';
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
  /** Whether the identifier is one the user already has (identity) or a new one. */
  readonly purposeOf: (req: Request) => RecordPurpose;
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

export function createLimiters(context: LimiterContext): Limiters {
  const { limits, store, audit, secret, userIdOf, identifierOf, purposeOf } = context;
  /** Keys never hold an email, a phone number or a prefix of one: only an HMAC under the server secret. */
  const hashed = (value: string) => createHmac('sha256', secret).update(value).digest('base64url').slice(0, 22);
  const identifierKey = (identifier: Identifier) => hashed(`${identifier.type}:${identifier.value}`);

  const limiter = (
    name: string,
    window: LimitWindow,
    code: ErrorCode,
    keyGenerator: (req: Request) => string,
    counting: Pick<Partial<Options>, 'skipSuccessfulRequests'> = {},
    event: 'verification.rate_limited' | 'verification.locked' = 'verification.rate_limited',
    /** False for counters shared by all users: their headers would tell one user about another's activity. */
    headers = true,
  ): RequestHandler =>
    rateLimit({
      windowMs: window.windowSeconds * 1000,
      limit: window.limit,
      standardHeaders: headers ? 'draft-8' : false,
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
        if (!headers) {
          // express-rate-limit sets Retry-After only along with the RateLimit headers; every 429 needs
          // one. The whole window, not the time left: that would tell when someone else began sending.
          res.setHeader('Retry-After', String(Math.ceil(window.windowSeconds)));
        }
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
  const perUserAndIdentifier = (req: Request) => `u:${userIdOf(req)}:i:${identifierKey(identifierOf(req))}`;
  // Every send that reaches a limiter counts, whatever its outcome: giving counts back on
  // failure (skipFailedRequests) would also give them back when the client drops the
  // connection, while the message still goes out. A send refused by a later limiter has
  // used its place in the earlier ones: the error is on the side of fewer messages.
  // So no send limiter below has a `counting` option (an empty `{}` where later arguments follow).

  const codeSends: RequestHandler[] = [];
  const allowed = limits.allowedCountryCallingCodes;
  if (allowed !== undefined) {
    codeSends.push((req, res, next) => {
      const identifier = identifierOf(req);
      if (identifier.type === 'phone' && !allowed.some((cc) => isCountry(identifier.value, cc))) {
        audit.emit(req, {
          type: 'verification.rate_limited',
          userId: userIdOf(req),
          identifier,
          limit: 'sms_country',
          reason: 'verification_code.identifier_not_allowed',
        });
        sendError(res, new VerificationError('verification_code.identifier_not_allowed'));
        return;
      }
      next();
    });
  }
  // Cooldown and caps per identifier count this user's sends only, so another account
  // cannot lock a user out of codes to their own email or phone.
  const newIdentifierCap = limiter(
    'codes_per_new_identifier',
    limits.codesPerNewIdentifier,
    'verification_code.rate_limited',
    // Keyed by the inbox, so address variants (`+tags`, gmail dots) do not each get their own cap.
    (req) => `m:${hashed(mailboxOf(identifierOf(req)))}`,
    {},
    'verification.rate_limited',
    false,
  );
  codeSends.push(
    limiter(
      'code_cooldown',
      { limit: 1, windowSeconds: limits.codeResendCooldownSeconds },
      'verification_code.rate_limited',
      perUserAndIdentifier,
    ),
    limiter('codes_per_identifier', limits.codesPerIdentifier, 'verification_code.rate_limited', perUserAndIdentifier),
    limiter('codes_per_user', limits.codesPerUser, 'verification_code.rate_limited', perUser),
    // Codes to an identifier no account has proven yet, from all users together: many accounts
    // cannot flood one stranger's inbox. Codes to a user's own identifiers never count here.
    (req, res, next) => (purposeOf(req) === 'new_identifier' ? newIdentifierCap(req, res, next) : next()),
  );
  const perPrefix = limits.perPrefix;
  if (perPrefix !== undefined) {
    const prefixLimiter = limiter(
      'sms_prefix',
      perPrefix,
      'verification_code.identifier_not_allowed',
      (req) => `p:${hashed(identifierOf(req).value.slice(0, perPrefix.prefixDigits + 1))}`,
      {},
      'verification.rate_limited',
      false, // shared by all users: its headers would tell one user about others' sends
    );
    // Only phone numbers have prefixes worth capping.
    codeSends.push((req, res, next) => (identifierOf(req).type === 'phone' ? prefixLimiter(req, res, next) : next()));
  }

  return {
    perIp: limits.perIp
      ? limiter('per_ip', limits.perIp, 'request.rate_limited', (req) => `ip:${ipKeyGenerator(req.ip ?? 'unknown')}`)
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
