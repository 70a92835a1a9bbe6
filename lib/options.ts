import { randomBytes } from 'node:crypto';
import type { Request } from 'express';
import { Audit, type AuditEvent } from './events';
import { resolveLimits, type RateLimits, type ResolvedLimits } from './rate-limit/limits';
import type { Authenticator } from './auth/authenticator';
import type { Sender } from './senders/sender';
import { MemoryStore } from './stores/memory-store';
import type { VerificationStore } from './stores/store';
import type { UserLookup } from './users';

export interface StepUpOptions {
  /** Who is calling. Use `jwtAuthenticator({...})`, or `(req) => req.user?.id` with sessions or passport. */
  authenticate: Authenticator;
  /** The app's user lookup: password hash, current email and phone. */
  users: UserLookup;
  /** Where records live. Default: a new MemoryStore (one process only). */
  store?: VerificationStore;
  /** Delivers one-time codes. Without one, the code endpoints answer 502 `verification_code.delivery_failed`. */
  sender?: Sender;
  /**
   * Server secret for the HMAC of codes, at least 32 bytes. Required with any store but
   * the MemoryStore: every instance sharing a store must use the same secret.
   */
  secret?: string | Buffer | undefined;
  /** Lifetime of a verified record, in seconds. Default 600. */
  recordTtlSeconds?: number;
  /** Lifetime of a one-time code, in seconds. Default 600. */
  codeTtlSeconds?: number;
  /**
   * The bcrypt cost of your users' password hashes (default 10). A user without a password is
   * checked against a dummy hash of this cost, so that the answer takes as long as for a wrong
   * password; once a real hash has been checked, its cost is used.
   */
  bcryptCost?: number;
  /** Wrong codes allowed per record before it dies. Default 5. */
  maxCodeAttempts?: number;
  /** Longest wait for a provider to accept a message, in ms. Default 10 000. */
  sendTimeoutMs?: number;
  /** Largest JSON body the router accepts (express.json `limit`). Default '16kb'. */
  bodyLimit?: string | number;
  /** Default header of `requireVerification()`. Default `Verification-Id`. */
  header?: string;
  /** Rate limits; every field optional, defaults in the README ("Security model"). */
  limits?: RateLimits;
  /** Receives an audit event for every security-relevant step (never a code, password or token). */
  onEvent?: (event: AuditEvent) => void;
  /** The request id put on audit events. Default: the `X-Request-Id` header when well formed. */
  requestId?: (req: Request) => string | undefined;
  /** Called with unexpected errors (answered as a bare 500), for the app's logs. */
  onUnexpectedError?: (error: unknown) => void;
  /** Clock, epoch ms. Default Date.now. */
  now?: () => number;
}

export interface ResolvedOptions {
  readonly authenticate: Authenticator;
  readonly users: UserLookup;
  readonly store: VerificationStore;
  readonly sender: Sender | undefined;
  readonly secret: Buffer;
  readonly recordTtlMs: number;
  readonly codeTtlMs: number;
  readonly maxCodeAttempts: number;
  readonly bcryptCost: number;
  readonly sendTimeoutMs: number;
  readonly bodyLimit: string | number;
  readonly header: string;
  readonly limits: ResolvedLimits;
  readonly audit: Audit;
  readonly onUnexpectedError: ((error: unknown) => void) | undefined;
  readonly now: () => number;
}

const MIN_SECRET_BYTES = 32;

function positive(name: string, value: number | undefined, fallback: number, integer = false): number {
  const resolved = value ?? fallback;
  if (typeof resolved !== 'number' || !Number.isFinite(resolved) || resolved <= 0 || (integer && !Number.isInteger(resolved))) {
    throw new TypeError(`express-step-up: \`${name}\` must be a positive ${integer ? 'integer' : 'number'}`);
  }
  return resolved;
}

function resolveSecret(secret: string | Buffer | undefined, store: VerificationStore): Buffer {
  if (secret === undefined) {
    if (store instanceof MemoryStore) return randomBytes(MIN_SECRET_BYTES);
    throw new TypeError(
      'express-step-up: `secret` is required with a shared store, and must be the same on every instance ' +
        '(e.g. secret: process.env.VERIFICATION_SECRET, made with `openssl rand -base64 48`)',
    );
  }
  const bytes = typeof secret === 'string' ? Buffer.from(secret) : secret;
  if (!Buffer.isBuffer(bytes) || bytes.length < MIN_SECRET_BYTES) {
    throw new TypeError(`express-step-up: \`secret\` must be at least ${MIN_SECRET_BYTES} bytes`);
  }
  return bytes;
}

function bcryptCost(cost: number | undefined): number {
  const resolved = cost ?? 10;
  if (!Number.isInteger(resolved) || resolved < 4 || resolved > 31) {
    throw new TypeError('express-step-up: `bcryptCost` is an integer from 4 to 31 (the cost of your password hashes)');
  }
  return resolved;
}

/** The clock, checked once and floored to whole milliseconds (a fraction would break Redis expiries). */
function checkedClock(clock: (() => number) | undefined): () => number {
  if (clock === undefined) return Date.now;
  if (typeof clock !== 'function' || !Number.isFinite(clock())) {
    throw new TypeError('express-step-up: `now` must be a function returning epoch milliseconds');
  }
  return () => Math.floor(clock());
}

/** Defaults and checks, once at startup: a misconfiguration throws with a message that says how to fix it. */
export function resolveOptions(options: StepUpOptions): ResolvedOptions {
  if (typeof options?.authenticate !== 'function') {
    throw new TypeError('express-step-up: `authenticate` is required, e.g. jwtAuthenticator({ secret, algorithms: [\'HS256\'] })');
  }
  if (typeof options.users?.findById !== 'function') {
    throw new TypeError('express-step-up: `users` needs a findById(userId) function');
  }
  if (options.sender !== undefined && typeof options.sender.send !== 'function') {
    throw new TypeError('express-step-up: `sender` needs a send(message) function');
  }
  if (options.onEvent !== undefined && typeof options.onEvent !== 'function') {
    throw new TypeError('express-step-up: `onEvent` must be a function');
  }
  const now = checkedClock(options.now);
  const store = options.store ?? new MemoryStore({ now });
  return {
    authenticate: options.authenticate,
    users: options.users,
    store,
    sender: options.sender,
    secret: resolveSecret(options.secret, store),
    // Whole milliseconds (Redis expiries take integers), at least one.
    recordTtlMs: Math.max(1, Math.round(positive('recordTtlSeconds', options.recordTtlSeconds, 600) * 1000)),
    codeTtlMs: Math.max(1, Math.round(positive('codeTtlSeconds', options.codeTtlSeconds, 600) * 1000)),
    maxCodeAttempts: positive('maxCodeAttempts', options.maxCodeAttempts, 5, true),
    bcryptCost: bcryptCost(options.bcryptCost),
    sendTimeoutMs: positive('sendTimeoutMs', options.sendTimeoutMs, 10_000),
    bodyLimit: options.bodyLimit ?? '16kb',
    header: options.header ?? 'Verification-Id',
    limits: resolveLimits(options.limits),
    audit: new Audit(options.onEvent, options.requestId, now),
    onUnexpectedError: options.onUnexpectedError,
    now,
  };
}
