import type { Request, RequestHandler, Router } from 'express';
import { createVerificationFactory, type CreatedVerification, type CreateVerificationOptions } from './create-verification';
import type { Features } from './endpoints';
import { createGuardFactory, type RequireVerification } from './guard';
import { createNewIdentifierFactory, type RequireNewIdentifierOptions } from './new-identifier';
import { openApiDocument, type OpenApiDocument } from './openapi';
import { resolveOptions, type StepUpOptions } from './options';
import { PasskeyService } from './passkeys/passkey-service';
import { PasswordChecker } from './password';
import type { Counters } from './rate-limit/counters';
import { createVerificationRouter } from './router';
import type { VerificationStore } from './stores/store';
import { TotpService } from './totp/totp-service';
import { VerificationService } from './verification-service';

export interface StepUp {
  /** The verification endpoints; mount it under a path of its own, e.g. `app.use('/api/verifications', stepUp.router)`. */
  readonly router: Router;
  /**
   * Guards a sensitive route: passes only with a fresh, matching verification record id in the
   * header. Its presets `.strict()`, `.moderate()` and `.lax()` name common policies.
   */
  readonly requireVerification: RequireVerification;
  /**
   * Makes a verified identity record of the app's own method (`{ method: 'sso' }`) for the caller of
   * `req` (and its session), after a check the app did itself: an SSO re-login, a hardware token.
   * Resolves to `{ verificationRecordId, expiresAt }`, as the endpoints answer. Built-in method names
   * are refused (their records come only from the library's own checks); a guard accepts the record
   * only where its `methods` name this method. Rejects with 401 `auth.unauthorized` when `req` is not
   * authenticated, 400 `request.invalid_input` for an invalid `action`, StoreUnavailableError when
   * the store is down.
   */
  createVerification(req: Request, options: CreateVerificationOptions): Promise<CreatedVerification>;
  /** Redeems once a record proving that the user owns a new email or phone; sets `req.newIdentifier`. */
  requireNewIdentifier(options: RequireNewIdentifierOptions): RequestHandler;
  /**
   * Makes every record of the user made before this call unusable: pending codes, verified records
   * and new-identifier records. Call it after a password change, a change of primary email or
   * phone, or a sign-out of all sessions. Rejects (StoreUnavailableError) when the store is down.
   */
  revokeAll(userId: string): Promise<void>;
  /** The store in use (for health checks: `await stepUp.store.ping()`). */
  readonly store: VerificationStore;
  /** Where the rate-limit counters live (usable for the app's own limits, e.g. sign-in). */
  readonly counters: Counters;
  /**
   * The OpenAPI 3.1 document of `router` mounted at `basePath` (default ''), generated from the schemas
   * that validate its requests, with the guard's header and answers as reusable components. E.g.
   * `app.get('/openapi.json', (_req, res) => res.json(stepUp.openapi({ basePath: '/api/verifications' })))`.
   */
  openapi(options?: { basePath?: string }): OpenApiDocument;
}

/** Creates the router, the guard and the new-identifier middleware over one store and one set of options. */
export function createStepUp(options: StepUpOptions): StepUp {
  const resolved = resolveOptions(options);
  // Turned on by the `passkeys` and `totp` options.
  const features: Features = { passkeys: resolved.passkeys !== undefined, totp: resolved.totp !== undefined };
  const checker = new PasswordChecker(resolved.bcryptCost, resolved.passwordConcurrency);
  const passwords = resolved.verifyPassword ?? ((user, password) => checker.matches(password, user));
  if (resolved.verifyPassword === undefined) void checker.warmUp();
  const service = new VerificationService({
    ...resolved,
    passwords,
    factors: { passkey: features.passkeys, totp: features.totp },
    ownPasswordCheck: resolved.verifyPassword !== undefined,
  });
  const passkeys =
    resolved.passkeys === undefined
      ? undefined
      : new PasskeyService({ ...resolved, passkeys: resolved.passkeys, service });
  const totp =
    resolved.totp === undefined
      ? undefined
      : new TotpService({ service, store: resolved.store, users: resolved.users, secret: resolved.secret, issuer: resolved.totp.issuer, now: resolved.now });
  const shared = {
    service,
    authenticate: resolved.authenticate,
    audit: resolved.audit,
    onUnexpectedError: resolved.onUnexpectedError,
  };
  return {
    router: createVerificationRouter({
      ...shared,
      counters: resolved.counters,
      bodyLimit: resolved.bodyLimit,
      limits: resolved.limits,
      secret: resolved.secret,
      warnings: resolved.warnings,
      features,
      verificationHeader: resolved.header,
      enrollWith: resolved.enrollWith,
      passkeys,
      totp,
    }),
    requireVerification: createGuardFactory({ ...shared, defaultHeader: resolved.header, now: resolved.now, recordTtlMs: resolved.recordTtlMs }),
    createVerification: createVerificationFactory(shared),
    requireNewIdentifier: createNewIdentifierFactory(shared),
    revokeAll: (userId) => {
      if (typeof userId !== 'string' || userId.length === 0) return Promise.reject(new TypeError('revokeAll: userId is a non-empty string'));
      return service.revokeAll(userId);
    },
    store: resolved.store,
    counters: resolved.counters,
    openapi: (openapiOptions = {}) => openApiDocument({ ...openapiOptions, verificationHeader: resolved.header, features }),
  };
}
