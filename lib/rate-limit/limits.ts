import { rejectUnknownOptions, StepUpConfigError } from '../config-error';

/** A count per window. */
export interface LimitWindow {
  readonly limit: number;
  readonly windowSeconds: number;
}

/** Every rate limit of the router. All are configurable; the defaults are in DEFAULT_LIMITS. */
export interface RateLimits {
  /** Requests per client IP over the whole router, the last line. `false` turns it off (e.g. when a gateway limits). */
  perIp?: LimitWindow | false;
  /** Wrong passwords per user; past it even the right password is refused until the window ends. */
  passwordFailures?: LimitWindow;
  /** Seconds between two codes to the same identifier. */
  codeResendCooldownSeconds?: number;
  /** Codes per identifier. */
  codesPerIdentifier?: LimitWindow;
  /** Codes per user. */
  codesPerUser?: LimitWindow;
  /** Codes to one identifier that is not the sender's own (binding a new email or phone), from all users together. */
  codesPerNewIdentifier?: LimitWindow;
  /** Wrong codes per user across all records (a resend does not reset it). */
  codeFailuresPerUser?: LimitWindow;
  /** SMS pumping defences. */
  sms?: {
    /** Country calling codes that may receive codes, e.g. ['1', '44']. Default: any. */
    allowedCountryCallingCodes?: readonly string[];
    /** Codes per number prefix (the first `prefixDigits` digits of the E.164 number, country code included). Default: off. */
    perPrefix?: LimitWindow & { readonly prefixDigits: number };
  };
}

export interface ResolvedLimits {
  readonly perIp: LimitWindow | false;
  readonly passwordFailures: LimitWindow;
  readonly codeResendCooldownSeconds: number;
  readonly codesPerIdentifier: LimitWindow;
  readonly codesPerUser: LimitWindow;
  readonly codesPerNewIdentifier: LimitWindow;
  readonly codeFailuresPerUser: LimitWindow;
  readonly allowedCountryCallingCodes: readonly string[] | undefined;
  readonly perPrefix: (LimitWindow & { readonly prefixDigits: number }) | undefined;
}

/**
 * The defaults and why:
 * - 5 wrong passwords per 15 minutes: a guesser with a stolen session gets 480 tries a day at most,
 *   while a person who mistypes a few times is not locked out for long.
 * - a 60 s resend cooldown, 5 codes per identifier and 10 per user an hour (counted per user, so no
 *   one else can use up a user's codes): enough for real retries, too few to flood an inbox or run up
 *   an SMS bill; and 10 an hour to one new identifier from all users together, so many accounts
 *   cannot flood a stranger's inbox.
 * - 20 wrong codes per user an hour across all records: NIST SP 800-63B rev 4 §3.1.3.2 wants a limit
 *   that resending a code does not reset; with 6 digits that bounds a guesser's odds to 20 in a million an hour.
 * - 100 requests per IP per 15 minutes: far above a person's use, a ceiling for scripts.
 */
export const DEFAULT_LIMITS: ResolvedLimits = {
  perIp: { limit: 100, windowSeconds: 15 * 60 },
  passwordFailures: { limit: 5, windowSeconds: 15 * 60 },
  codeResendCooldownSeconds: 60,
  codesPerIdentifier: { limit: 5, windowSeconds: 60 * 60 },
  codesPerUser: { limit: 10, windowSeconds: 60 * 60 },
  codesPerNewIdentifier: { limit: 10, windowSeconds: 60 * 60 },
  codeFailuresPerUser: { limit: 20, windowSeconds: 60 * 60 },
  allowedCountryCallingCodes: undefined,
  perPrefix: undefined,
};

const invalid = (message: string) => new StepUpConfigError('ERR_STEP_UP_INVALID_OPTION', message);

function checkWindow(name: string, value: LimitWindow, extraKeys: readonly string[] = []): LimitWindow {
  rejectUnknownOptions(`limits.${name}`, value, ['limit', 'windowSeconds', ...extraKeys]);
  const { limit, windowSeconds } = value ?? ({} as LimitWindow);
  if (!Number.isInteger(limit) || limit < 1 || typeof windowSeconds !== 'number' || !Number.isFinite(windowSeconds) || windowSeconds <= 0) {
    throw invalid(`limits.${name} needs a positive integer limit and a positive windowSeconds`);
  }
  return { limit, windowSeconds };
}

const LIMIT_KEYS: readonly (keyof RateLimits)[] = [
  'perIp',
  'passwordFailures',
  'codeResendCooldownSeconds',
  'codesPerIdentifier',
  'codesPerUser',
  'codesPerNewIdentifier',
  'codeFailuresPerUser',
  'sms',
];

export function resolveLimits(limits: RateLimits = {}): ResolvedLimits {
  rejectUnknownOptions('limits', limits, LIMIT_KEYS);
  rejectUnknownOptions('limits.sms', limits.sms, ['allowedCountryCallingCodes', 'perPrefix']);
  const d = DEFAULT_LIMITS;
  const cooldown = limits.codeResendCooldownSeconds ?? d.codeResendCooldownSeconds;
  if (typeof cooldown !== 'number' || !Number.isFinite(cooldown) || cooldown <= 0) {
    throw invalid('limits.codeResendCooldownSeconds must be a positive number');
  }
  const allowed = limits.sms?.allowedCountryCallingCodes;
  if (allowed !== undefined && (!Array.isArray(allowed) || !allowed.every((c) => /^[1-9]\d{0,2}$/.test(c)))) {
    throw invalid("limits.sms.allowedCountryCallingCodes is a list like ['1', '44'] (digits, no +)");
  }
  const perPrefix = limits.sms?.perPrefix;
  if (perPrefix !== undefined && (!Number.isInteger(perPrefix.prefixDigits) || perPrefix.prefixDigits < 2 || perPrefix.prefixDigits > 14)) {
    throw invalid('limits.sms.perPrefix.prefixDigits must be an integer from 2 to 14');
  }
  return {
    perIp: limits.perIp === false ? false : checkWindow('perIp', limits.perIp ?? (d.perIp as LimitWindow)),
    passwordFailures: checkWindow('passwordFailures', limits.passwordFailures ?? d.passwordFailures),
    codeResendCooldownSeconds: cooldown,
    codesPerIdentifier: checkWindow('codesPerIdentifier', limits.codesPerIdentifier ?? d.codesPerIdentifier),
    codesPerUser: checkWindow('codesPerUser', limits.codesPerUser ?? d.codesPerUser),
    codesPerNewIdentifier: checkWindow('codesPerNewIdentifier', limits.codesPerNewIdentifier ?? d.codesPerNewIdentifier),
    codeFailuresPerUser: checkWindow('codeFailuresPerUser', limits.codeFailuresPerUser ?? d.codeFailuresPerUser),
    allowedCountryCallingCodes: allowed ? [...allowed] : undefined,
    perPrefix: perPrefix ? { ...checkWindow('sms.perPrefix', perPrefix, ['prefixDigits']), prefixDigits: perPrefix.prefixDigits } : undefined,
  };
}
