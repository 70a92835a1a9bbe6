import { randomBytes } from 'node:crypto';
import type { Request } from 'express';
import type { Authenticator } from './auth/authenticator';
import { optionalFunction, positiveNumber, rejectUnknownOptions, StepUpConfigError } from './config-error';
import { Audit, type AuditEvent } from './events';
import { resolvePasskeys, type PasskeyOptions, type ResolvedPasskeys } from './passkeys/passkey-options';
import { defaultPasswordConcurrency, type VerifyPassword } from './password';
import { memoryCounters, redisCounters, type Counters } from './rate-limit/counters';
import { resolveLimits, type RateLimits, type ResolvedLimits } from './rate-limit/limits';
import { methodList, VERIFICATION_METHODS, type VerificationMethod } from './records';
import { isConsoleSender } from './senders/console';
import type { Sender } from './senders/sender';
import { MemoryStore } from './stores/memory-store';
import { RedisStore } from './stores/redis-store';
import type { VerificationStore } from './stores/store';
import type { UserLookup } from './users';
import { Warnings, type StepUpWarning } from './warnings';

export interface StepUpOptions {
  /** Who is calling. Use `jwtAuthenticator({...})`, or `(req) => req.user?.id` with sessions or passport. */
  authenticate: Authenticator;
  /** The app's user lookup: password hash, current email and phone. */
  users: UserLookup;
  /** Where records live. Default: a new MemoryStore (one process only). */
  store?: VerificationStore | undefined;
  /**
   * Where rate-limit counters live. Default: beside the records (in memory with the MemoryStore,
   * in the same Redis with a RedisStore); required with any other store.
   */
  counters?: Counters | undefined;
  /** Delivers one-time codes. Without one, the code endpoints answer 502 `verification_code.delivery_failed`. */
  sender?: Sender | undefined;
  /**
   * Server secret for the HMAC of codes, sessions and actions, at least 32 bytes. Required with any
   * store but the MemoryStore: every instance sharing a store must use the same secret.
   */
  secret?: string | Buffer | undefined;
  /** Lifetime of a verified record, in seconds. Default 600. */
  recordTtlSeconds?: number | undefined;
  /** Lifetime of a one-time code, in seconds. Default 600. */
  codeTtlSeconds?: number | undefined;
  /**
   * The bcrypt cost of your users' password hashes (default 10). A user without a password is
   * checked against a dummy hash of this cost, so that the answer takes as long as for a wrong
   * password; once a real hash has been checked, its cost is used.
   */
  bcryptCost?: number | undefined;
  /**
   * Password hashes (bcrypt, argon2id) computed at once by the built-in check, an integer from 1 to
   * 1024. Default: the CPU cores less one (at least 1), so the event loop keeps a core for guarded
   * routes. Up to 16 checks per slot wait; past that a check is answered 503
   * `verification.unavailable` with `Retry-After`. Not used with `verifyPassword`.
   */
  passwordConcurrency?: number | undefined;
  /**
   * Your own password check, instead of the built-in one (bcrypt, or argon2id with the `argon2`
   * package). It receives the user from `users.findById` (null when there is none) and must take
   * about as long for a user without a password as for a wrong one.
   */
  verifyPassword?: VerifyPassword | undefined;
  /** Wrong codes allowed per record before it dies. Default 5. */
  maxCodeAttempts?: number | undefined;
  /** Longest wait for a provider to accept a message, in ms. Default 10 000. */
  sendTimeoutMs?: number | undefined;
  /** Largest JSON body the router accepts (express.json `limit`). Default '16kb'. */
  bodyLimit?: string | number | undefined;
  /** Default header of `requireVerification()`. Default `Verification-Id`. */
  header?: string | undefined;
  /** Rate limits; every field optional, defaults in the README ("Security model"). */
  limits?: RateLimits | undefined;
  /** Receives an audit event for every security-relevant step (never a code, password or token). */
  onEvent?: ((event: AuditEvent) => void) | undefined;
  /** Receives setup warnings (proxy, console sender, random secret). Default: console.warn, once per code. */
  onWarning?: ((warning: StepUpWarning) => void) | undefined;
  /** The request id put on audit events. Default: the `X-Request-Id` header when well formed. */
  requestId?: ((req: Request) => string | undefined) | undefined;
  /** Called with unexpected errors (answered as a bare 500), for the app's logs. */
  onUnexpectedError?: ((error: unknown) => void) | undefined;
  /** Clock, epoch ms. Default Date.now. */
  now?: (() => number) | undefined;
  /**
   * Turns on passkeys (WebAuthn) as a step-up method: `{ rpId, rpName, origin }`. Needs the
   * `@simplewebauthn/server` package, and `users.listPasskeys`, `savePasskey` and `updatePasskeyCounter`.
   */
  passkeys?: PasskeyOptions | undefined;
  /**
   * Turns on TOTP (authenticator apps, RFC 6238) as a step-up factor: the `/totp/*` endpoints.
   * Needs `users.saveTotpSecret`, and `users.findById` reporting the saved value as `totpSecret`.
   */
  totp?: TotpOptions | undefined;
  /**
   * The methods whose fresh record (≤ 10 min, in the `Verification-Id` header) may enroll a factor:
   * register a passkey or start a TOTP enrollment. Default: every built-in method, as the HTTP
   * contract says. Narrow it, e.g. `['password', 'passkey', 'totp']`, so that someone holding a
   * user's session and mailbox (or SIM) cannot enroll their own authenticator with an email or SMS
   * code and then pass the routes that exclude those (`requireVerification.strict()`).
   */
  enrollWith?: readonly VerificationMethod[] | undefined;
}

export interface TotpOptions {
  /** The name authenticator apps show beside the account, e.g. `'Example Bank'`: 1 to 64 characters, no `:`. */
  issuer: string;
}

export interface ResolvedOptions {
  readonly authenticate: Authenticator;
  readonly users: UserLookup;
  readonly store: VerificationStore;
  readonly counters: Counters;
  readonly sender: Sender | undefined;
  readonly secret: Buffer;
  readonly recordTtlMs: number;
  readonly codeTtlMs: number;
  readonly maxCodeAttempts: number;
  readonly bcryptCost: number;
  readonly passwordConcurrency: number;
  readonly verifyPassword: VerifyPassword | undefined;
  readonly sendTimeoutMs: number;
  readonly bodyLimit: string | number;
  readonly header: string;
  readonly limits: ResolvedLimits;
  readonly audit: Audit;
  readonly warnings: Warnings;
  readonly onUnexpectedError: ((error: unknown) => void) | undefined;
  readonly now: () => number;
  readonly passkeys: ResolvedPasskeys | undefined;
  /** Absent when TOTP is off. */
  readonly totp: { readonly issuer: string } | undefined;
  readonly enrollWith: readonly VerificationMethod[];
}

const OPTION_KEYS: readonly (keyof StepUpOptions)[] = [
  'authenticate',
  'users',
  'store',
  'counters',
  'sender',
  'secret',
  'recordTtlSeconds',
  'codeTtlSeconds',
  'bcryptCost',
  'passwordConcurrency',
  'verifyPassword',
  'maxCodeAttempts',
  'sendTimeoutMs',
  'bodyLimit',
  'header',
  'limits',
  'onEvent',
  'onWarning',
  'requestId',
  'onUnexpectedError',
  'now',
  'passkeys',
  'totp',
  'enrollWith',
];

const TOTP_OPTION_KEYS: readonly (keyof TotpOptions)[] = ['issuer'];

const MIN_SECRET_BYTES = 32;

function resolveSecret(secret: string | Buffer | undefined, store: VerificationStore, warnings: Warnings): Buffer {
  if (secret === undefined) {
    if (store instanceof MemoryStore) {
      warnings.warn(
        'WARN_STEP_UP_RANDOM_SECRET',
        'No `secret`: a random one is used, so pending codes and records do not survive a restart. Set secret: process.env.VERIFICATION_SECRET (e.g. `openssl rand -base64 48`).',
      );
      return randomBytes(MIN_SECRET_BYTES);
    }
    throw new StepUpConfigError(
      'ERR_STEP_UP_SECRET_REQUIRED',
      '`secret` is required with a shared store, and must be the same on every instance ' +
        '(e.g. secret: process.env.VERIFICATION_SECRET, made with `openssl rand -base64 48`)',
    );
  }
  const bytes = typeof secret === 'string' ? Buffer.from(secret) : secret;
  if (!Buffer.isBuffer(bytes)) throw new StepUpConfigError('ERR_STEP_UP_INVALID_OPTION', '`secret` is a string or a Buffer');
  if (bytes.length < MIN_SECRET_BYTES) throw new StepUpConfigError('ERR_STEP_UP_WEAK_SECRET', `\`secret\` must be at least ${MIN_SECRET_BYTES} bytes`);
  return bytes;
}

function bcryptCost(cost: number | undefined): number {
  const resolved = cost ?? 10;
  if (!Number.isInteger(resolved) || resolved < 4 || resolved > 31) {
    throw new StepUpConfigError('ERR_STEP_UP_INVALID_OPTION', '`bcryptCost` is an integer from 4 to 31 (the cost of your password hashes)');
  }
  return resolved;
}

function passwordConcurrency(value: number | undefined): number {
  const resolved = value ?? defaultPasswordConcurrency();
  if (!Number.isInteger(resolved) || resolved < 1 || resolved > 1024) {
    throw new StepUpConfigError('ERR_STEP_UP_INVALID_OPTION', '`passwordConcurrency` is an integer from 1 to 1024 (password hashes computed at once)');
  }
  return resolved;
}

/** The clock, checked once and floored to whole milliseconds (a fraction would break Redis expiries). */
function checkedClock(clock: (() => number) | undefined): () => number {
  if (clock === undefined) return Date.now;
  if (typeof clock !== 'function' || !Number.isFinite(clock())) {
    throw new StepUpConfigError('ERR_STEP_UP_INVALID_OPTION', '`now` must be a function returning epoch milliseconds');
  }
  return () => Math.floor(clock());
}

/**
 * The app's `onUnexpectedError`, made never to throw (as `onEvent` and `onWarning` listeners are):
 * a failing logger must not change how a request is answered. A throw there left the guard's
 * refusal unanswered with a rejected promise nobody handled, and the router's errors to Express's
 * own HTML page.
 */
function neverThrowing(report: ((error: unknown) => void) | undefined): ((error: unknown) => void) | undefined {
  if (report === undefined) return undefined;
  return (error) => {
    try {
      report(error);
    } catch {
      // Nowhere left to tell: the answer goes out as it would have.
    }
  };
}

/** The `enrollWith` option, checked: a non-empty list of method names, each once (default: every built-in method). */
function enrollWith(methods: readonly VerificationMethod[] | undefined): readonly VerificationMethod[] {
  if (methods === undefined) return VERIFICATION_METHODS;
  const list = methodList(methods);
  if (list === undefined) {
    throw new StepUpConfigError('ERR_STEP_UP_INVALID_OPTION', '`enrollWith` is a non-empty list of method names, e.g. [\'password\', \'passkey\', \'totp\']');
  }
  return list;
}

/**
 * The `totp` option, checked. The issuer goes into the otpauth URI's label (`issuer:account`), where
 * a `:` would split it wrongly, and is shown by authenticator apps: printable text, 1 to 64 characters.
 */
function totpOptions(totp: TotpOptions | undefined, users: UserLookup): ResolvedOptions['totp'] {
  if (totp === undefined) return undefined;
  if (typeof totp !== 'object' || totp === null) throw new StepUpConfigError('ERR_STEP_UP_INVALID_OPTION', "`totp` is an object, e.g. { issuer: 'Example Bank' }");
  rejectUnknownOptions('totp', totp, TOTP_OPTION_KEYS);
  const { issuer } = totp;
  // No control characters (C0, DEL, C1); \p{Cc} covers all three.
  if (typeof issuer !== 'string' || issuer.trim().length === 0 || issuer.length > 64 || issuer.includes(':') || /\p{Cc}/u.test(issuer)) {
    throw new StepUpConfigError(
      'ERR_STEP_UP_INVALID_OPTION',
      "`totp.issuer` is the name authenticator apps show, 1 to 64 printable characters without ':', e.g. 'Example Bank'",
    );
  }
  if (typeof users.saveTotpSecret !== 'function') {
    throw new StepUpConfigError(
      'ERR_STEP_UP_MISSING_OPTION',
      '`totp` needs `users.saveTotpSecret(userId, sealedSecret)` to keep a confirmed secret (and `users.findById` reporting it as `totpSecret`)',
    );
  }
  return { issuer };
}

/** The counters beside the records, when the store is one of the library's own. */
function defaultCounters(store: VerificationStore): Counters {
  if (store instanceof MemoryStore) return memoryCounters();
  if (store instanceof RedisStore) return redisCounters({ client: store.client, prefix: store.prefix });
  throw new StepUpConfigError(
    'ERR_STEP_UP_COUNTERS_REQUIRED',
    'with a store of your own, pass `counters` (e.g. redisCounters({ client }) or memoryCounters()) for the rate limits',
  );
}

/** A record's or code's lifetime (default 600 s; at most 24 days). */
const MAX_LIFETIME_SECONDS = 24 * 24 * 3600;

/**
 * A lifetime option in whole milliseconds (Redis expiries take integers), at least one. At most 24
 * days: the Redis store keeps a record's lifetime in 32 bits of milliseconds (about 24.8 days).
 */
function lifetimeMs(name: string, value: number | undefined): number {
  const seconds = positiveNumber(name, value, 600);
  if (seconds > MAX_LIFETIME_SECONDS) throw new StepUpConfigError('ERR_STEP_UP_INVALID_OPTION', `\`${name}\` is at most ${MAX_LIFETIME_SECONDS} (24 days)`);
  return Math.max(1, Math.round(seconds * 1000));
}

/** Defaults and checks, once at startup: a misconfiguration throws a StepUpConfigError that says how to fix it. */
export function resolveOptions(options: StepUpOptions): ResolvedOptions {
  if (typeof options !== 'object' || options === null) {
    throw new StepUpConfigError('ERR_STEP_UP_MISSING_OPTION', 'createStepUp() needs an options object with `authenticate` and `users`');
  }
  rejectUnknownOptions('createStepUp()', options, OPTION_KEYS);
  if (typeof options.authenticate !== 'function') {
    throw new StepUpConfigError('ERR_STEP_UP_MISSING_OPTION', "`authenticate` is required, e.g. jwtAuthenticator({ secret, algorithms: ['HS256'] })");
  }
  if (typeof options.users?.findById !== 'function') {
    throw new StepUpConfigError('ERR_STEP_UP_MISSING_OPTION', '`users` needs a findById(userId) function');
  }
  if (options.sender !== undefined && typeof options.sender?.send !== 'function') {
    throw new StepUpConfigError('ERR_STEP_UP_INVALID_OPTION', '`sender` needs a send(message) function');
  }
  const onEvent = optionalFunction('onEvent', options.onEvent);
  const onWarning = optionalFunction('onWarning', options.onWarning);
  const requestId = optionalFunction('requestId', options.requestId);
  const onUnexpectedError = neverThrowing(optionalFunction('onUnexpectedError', options.onUnexpectedError));
  const counters = optionalFunction('counters', options.counters);
  const header = options.header ?? 'Verification-Id';
  if (typeof header !== 'string' || !/^[A-Za-z0-9-]{1,64}$/.test(header)) {
    throw new StepUpConfigError('ERR_STEP_UP_INVALID_OPTION', '`header` must be a valid header name');
  }
  const warnings = new Warnings(onWarning);
  const now = checkedClock(options.now);
  const store = options.store ?? new MemoryStore({ now });
  if (options.sender !== undefined && isConsoleSender(options.sender)) {
    warnings.warn('WARN_STEP_UP_CONSOLE_SENDER', 'consoleSender prints one-time codes instead of delivering them: for development only, never in production.');
  }
  return {
    authenticate: options.authenticate,
    users: options.users,
    store,
    counters: counters ?? defaultCounters(store),
    sender: options.sender,
    secret: resolveSecret(options.secret, store, warnings),
    // Whole milliseconds (Redis expiries take integers), at least one.
    recordTtlMs: lifetimeMs('recordTtlSeconds', options.recordTtlSeconds),
    codeTtlMs: lifetimeMs('codeTtlSeconds', options.codeTtlSeconds),
    maxCodeAttempts: positiveNumber('maxCodeAttempts', options.maxCodeAttempts, 5, true),
    bcryptCost: bcryptCost(options.bcryptCost),
    passwordConcurrency: passwordConcurrency(options.passwordConcurrency),
    verifyPassword: optionalFunction('verifyPassword', options.verifyPassword),
    sendTimeoutMs: positiveNumber('sendTimeoutMs', options.sendTimeoutMs, 10_000),
    bodyLimit: options.bodyLimit ?? '16kb',
    header,
    limits: resolveLimits(options.limits),
    audit: new Audit(onEvent, requestId, now),
    warnings,
    onUnexpectedError,
    now,
    passkeys: resolvePasskeys(options.passkeys, options.users),
    totp: totpOptions(options.totp, options.users),
    enrollWith: enrollWith(options.enrollWith),
  };
}
