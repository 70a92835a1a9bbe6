import type { AuthenticationResponseJSON, RegistrationResponseJSON } from '@simplewebauthn/server';
import express, { type Request, type RequestHandler, type Response, type Router } from 'express';
import type { z } from 'zod';
import type { Action } from './action';
import { authenticateRequest, type Authenticator } from './auth/authenticator';
import { endpointsFor, ROUTER_ENDPOINTS, type Features } from './endpoints';
import { jsonErrorHandler, toVerificationError, VerificationError, type ErrorCode } from './errors';
import type { Audit, AuditEventFields, AuditEventType } from './events';
import { asyncHandler } from './http/async-handler';
import { consumeFreshIdentity } from './http/fresh-identity';
import { jsonBody } from './http/json-body';
import {
  passkeyAuthenticationBody,
  passkeyAuthenticationVerifyBody,
  passkeyRegistrationVerifyBody,
  passwordBody,
  sendCodeBody,
  totpCodeBody,
  totpVerifyBody,
  verifyCodeBody,
} from './http/schemas';
import { unknownRoute } from './http/unknown-route';
import { parseBody, parseNoBody } from './http/validate';
import { normalizeIdentifier } from './identifiers';
import type { PasskeyService } from './passkeys/passkey-service';
import type { Counters } from './rate-limit/counters';
import type { FailureBudget } from './rate-limit/failure-budget';
import { createLimiters, PASSWORD_FAILURES_PROPERTY } from './rate-limit/limiters';
import type { ResolvedLimits } from './rate-limit/limits';
import type { Identifier, RecordPurpose, Requester, VerificationMethod, VerificationRecord } from './records';
import type { TotpService } from './totp/totp-service';
import type { VerificationService } from './verification-service';
import type { Warnings } from './warnings';

export interface RouterConfig {
  readonly service: VerificationService;
  readonly authenticate: Authenticator;
  readonly counters: Counters;
  readonly bodyLimit: string | number;
  readonly limits: ResolvedLimits;
  readonly secret: Buffer;
  readonly audit: Audit;
  readonly warnings: Warnings;
  readonly onUnexpectedError: ((error: unknown) => void) | undefined;
  /** The optional factors turned on (their endpoints are served only then). */
  readonly features: Features;
  /** The guard's header (enrolling a factor takes a fresh identity record in it). */
  readonly verificationHeader: string;
  /** The methods whose fresh record may enroll a factor (the `enrollWith` option). */
  readonly enrollWith: readonly VerificationMethod[];
  /** Passkeys, with the `passkeys` option. */
  readonly passkeys: PasskeyService | undefined;
  /** TOTP, with the `totp` option. */
  readonly totp: TotpService | undefined;
}

/** The paths of one endpoint of the table in lib/endpoints.ts (the OpenAPI document is made from it too). */
function pathsOf(operationId: string): string[] {
  const endpoint = ROUTER_ENDPOINTS.find((candidate) => candidate.operationId === operationId);
  if (endpoint === undefined) throw new Error(`no endpoint ${operationId}`);
  return [endpoint.path, ...endpoint.aliases];
}

/** What the router's own middlewares learned about a request, kept off the app's `req` fields. */
interface RequestState {
  requester?: Requester;
  identifier?: Identifier;
  purpose?: RecordPurpose;
  input?: unknown;
}
const STATE = Symbol('express-step-up.request');
type WithState = Request & { [STATE]?: RequestState };

function state(req: Request): RequestState {
  const holder = req as WithState;
  holder[STATE] ??= {};
  return holder[STATE];
}

function requesterOf(req: Request): Requester {
  const { requester } = state(req);
  if (requester === undefined) throw new Error('route reached without authentication');
  return requester;
}

const userIdOf = (req: Request): string => requesterOf(req).userId;

function identifierOf(req: Request): Identifier {
  const { identifier } = state(req);
  if (identifier === undefined) throw new Error('route reached without an identifier');
  return identifier;
}

function purposeOf(req: Request): RecordPurpose {
  const { purpose } = state(req);
  if (purpose === undefined) throw new Error('route reached without a purpose');
  return purpose;
}

function inputOf<S extends z.ZodType>(req: Request, _schema: S): z.infer<S> {
  return state(req).input as z.infer<S>;
}

/** For endpoints without a body: refuses one that is not empty (see parseNoBody). */
const withoutBody: RequestHandler = (req, _res, next) => {
  parseNoBody(req.body);
  next();
};

/** Parses the body before any limiter runs, so malformed requests are never counted. */
function validated(schema: z.ZodType, withIdentifier = false): RequestHandler {
  return (req, _res, next) => {
    const input = parseBody(schema, req.body);
    state(req).input = input;
    if (withIdentifier) state(req).identifier = normalizeIdentifier((input as { identifier: Identifier }).identifier);
    next();
  };
}

const LANGUAGE_TAG = /^[A-Za-z]{2,8}(-[A-Za-z0-9]{1,8})*$/;

/** The client's first Accept-Language tag, when it is a well-formed tag (for the message template). */
function preferredLocale(req: Request): string | undefined {
  const first = req.acceptsLanguages()[0];
  return first !== undefined && LANGUAGE_TAG.test(first) ? first : undefined;
}

function sendRecord(res: Response, status: 200 | 201, record: VerificationRecord): void {
  res.status(status).json({ verificationRecordId: record.id, expiresAt: new Date(record.expiresAt).toISOString() });
}

/** Which audit event a refusal of a verification endpoint is. */
function failureEvent(code: ErrorCode): AuditEventType | undefined {
  switch (code) {
    case 'verification.invalid_credentials':
    case 'verification_record.not_found':
    case 'verification_code.identifier_mismatch':
    case 'verification_code.code_mismatch':
    case 'verification_code.delivery_failed':
      return 'verification.failed';
    case 'verification_code.exceed_max_try':
      return 'verification.locked';
    default:
      return undefined;
  }
}

/** What a step's audit events say of every outcome: who, by which method, to which identifier. */
type StepFields = Pick<AuditEventFields, 'userId' | 'method' | 'identifier'>;

/**
 * Runs one step of a verification endpoint; a refusal that is a verification failure (see
 * failureEvent) is reported as an audit event with `fields` before it is thrown on.
 */
async function reportingFailures<T>(audit: Audit, req: Request, fields: StepFields, run: () => Promise<T>): Promise<T> {
  try {
    return await run();
  } catch (error) {
    const code = toVerificationError(error).code;
    const type = failureEvent(code);
    if (type) audit.emit(req, { ...fields, type, reason: code });
    throw error;
  }
}

/**
 * The verification endpoints. Every route: per-IP ceiling, authentication, JSON body, validation,
 * then its own limits, then the service. Every answer, error or not, is JSON and never cached;
 * unknown paths and methods answer JSON 404 and 405.
 */
export function createVerificationRouter(config: RouterConfig): Router {
  const { service, authenticate, audit } = config;
  // Sending and checking a code count the per-IP ceiling in their own batch of counters (one round
  // trip fewer): with the send limits, or with the wrong-code budget's slot. A request to them that
  // fails before the batch is counted on its way out (perIpOnError). The password check counts it
  // before authentication.
  const batchedPaths = new Set([...pathsOf('sendVerificationCode'), ...pathsOf('verifyVerificationCode')]);
  const limiters = createLimiters({
    limits: config.limits,
    counters: config.counters,
    audit,
    warnings: config.warnings,
    secret: config.secret,
    userIdOf,
    identifierOf,
    purposeOf,
    perIpWithRoute: (req) => req.method === 'POST' && batchedPaths.has(req.path),
  });
  const router = express.Router();

  router.use((_req, res, next) => {
    res.setHeader('Cache-Control', 'no-store');
    next();
  });
  if (limiters.perIp) router.use(limiters.perIp);
  router.use(
    asyncHandler(async (req, _res, next) => {
      state(req).requester = service.requesterOf(await authenticateRequest(authenticate, req));
      next();
    }),
  );
  router.use(jsonBody(config.bodyLimit));

  /** Runs one verification step, answers with its record, and reports the outcome as an audit event. */
  const verificationStep = (
    methodOf: (req: Request) => VerificationMethod,
    run: (req: Request) => Promise<VerificationRecord>,
    status: 200 | 201,
    success: AuditEventType,
  ): RequestHandler =>
    asyncHandler(async (req, res) => {
      const base = {
        userId: userIdOf(req),
        method: methodOf(req),
        ...(state(req).identifier ? { identifier: identifierOf(req) } : {}),
      };
      const record = await reportingFailures(audit, req, base, () => run(req));
      sendRecord(res, status, record);
      audit.emit(req, { ...base, type: success, recordId: record.id });
    });

  router.post(
    pathsOf('verifyPassword'),
    validated(passwordBody),
    limiters.passwordFailures.reserve,
    verificationStep(
      () => 'password',
      settledBy(limiters.passwordFailures, async (req) => {
        const { password, action } = inputOf(req, passwordBody);
        try {
          return await service.verifyPassword(requesterOf(req), password, action as Action | undefined);
        } catch (error) {
          throw withRemainingAttempts(req, error);
        }
      }),
      201,
      'verification.created',
    ),
  );

  router.post(
    pathsOf('sendVerificationCode'),
    validated(sendCodeBody, true),
    asyncHandler(async (req, _res, next) => {
      state(req).purpose = await service.purposeOf(userIdOf(req), identifierOf(req));
      next();
    }),
    ...limiters.codeSends,
    verificationStep(
      (req) => identifierOf(req).type,
      (req) =>
        service.sendCode(requesterOf(req), identifierOf(req), {
          locale: preferredLocale(req),
          action: inputOf(req, sendCodeBody).action as Action | undefined,
        }),
      201,
      'verification.created',
    ),
  );

  router.post(
    pathsOf('verifyVerificationCode'),
    validated(verifyCodeBody, true),
    limiters.codeFailures.reserve,
    verificationStep(
      (req) => identifierOf(req).type,
      settledBy(limiters.codeFailures, (req) => {
        const { verificationId, code } = inputOf(req, verifyCodeBody);
        return service.verifyCode(requesterOf(req), verificationId, identifierOf(req), code);
      }),
      200,
      'verification.succeeded',
    ),
  );

  if (config.passkeys !== undefined) addPasskeyRoutes(router, config, config.passkeys, verificationStep);
  if (config.totp !== undefined) addTotpRoutes(router, config, config.totp, verificationStep, limiters.passwordFailures);

  // A known path with another method: 405 with Allow. Any other path under the router: 404.
  router.use(unknownRoute(endpointsFor(config.features)));
  if (limiters.perIpOnError) router.use(limiters.perIpOnError);
  router.use(jsonErrorHandler(config.onUnexpectedError));
  return router;
}

type VerificationStep = (
  methodOf: (req: Request) => VerificationMethod,
  run: (req: Request) => Promise<VerificationRecord>,
  status: 200 | 201,
  success: AuditEventType,
) => RequestHandler;

/**
 * Enrolling a factor: uses up the fresh identity record in the request's verification header
 * (consumeFreshIdentity) and reports it, or its refusal, as the guard does. Resolves the requester.
 */
async function freshIdentityOf(req: Request, config: RouterConfig): Promise<Requester> {
  const requester = requesterOf(req);
  let identity: VerificationRecord;
  try {
    identity = await consumeFreshIdentity(config.service, requester, req.get(config.verificationHeader), config.enrollWith, config.onUnexpectedError);
  } catch (error) {
    if (error instanceof VerificationError) config.audit.emit(req, { type: 'guard.refused', userId: requester.userId, reason: error.code });
    throw error;
  }
  config.audit.emit(req, { type: 'record.consumed', userId: requester.userId, method: identity.method, recordId: identity.id });
  return requester;
}

/**
 * The passkey endpoints (served with the `passkeys` option). Registering takes the id of a fresh
 * identity record in the guard's header, consumed; see PasskeyService for the checks.
 */
function addPasskeyRoutes(router: Router, config: RouterConfig, passkeys: PasskeyService, verificationStep: VerificationStep): void {
  const { audit } = config;
  const method = () => 'passkey';

  router.post(
    pathsOf('startPasskeyRegistration'),
    withoutBody,
    asyncHandler(async (req, res) => {
      const requester = await freshIdentityOf(req, config);
      res.status(200).json({ registrationOptions: await passkeys.registrationOptions(requester) });
    }),
  );

  router.post(
    pathsOf('verifyPasskeyRegistration'),
    validated(passkeyRegistrationVerifyBody),
    asyncHandler(async (req, res) => {
      const requester = requesterOf(req);
      // The schema checked the shape (bounded base64url strings); the library checks what they say.
      const response = inputOf(req, passkeyRegistrationVerifyBody).response as RegistrationResponseJSON;
      const credentialId = await reportingFailures(audit, req, { userId: requester.userId, method: 'passkey' }, () =>
        passkeys.verifyRegistration(requester, response),
      );
      res.status(201).json({ credentialId });
      audit.emit(req, { type: 'factor.enrolled', userId: requester.userId, method: 'passkey' });
    }),
  );

  router.post(
    pathsOf('startPasskeyAuthentication'),
    validated(passkeyAuthenticationBody),
    asyncHandler(async (req, res) => {
      const requester = requesterOf(req);
      const { action } = inputOf(req, passkeyAuthenticationBody);
      const pending = await passkeys.authenticationOptions(requester, action as Action | undefined);
      res.status(201).json({
        verificationRecordId: pending.id,
        authenticationOptions: pending.options,
        expiresAt: new Date(pending.expiresAt).toISOString(),
      });
      audit.emit(req, { type: 'verification.created', userId: requester.userId, method: 'passkey', recordId: pending.id });
    }),
  );

  router.post(
    pathsOf('verifyPasskeyAuthentication'),
    validated(passkeyAuthenticationVerifyBody),
    verificationStep(
      method,
      (req) => {
        const { verificationRecordId, response } = inputOf(req, passkeyAuthenticationVerifyBody);
        return passkeys.verifyAuthentication(requesterOf(req), verificationRecordId, response as AuthenticationResponseJSON);
      },
      200,
      'verification.succeeded',
    ),
  );
}

/**
 * The TOTP endpoints (served with the `totp` option). Enrolling takes the id of a fresh identity
 * record in the guard's header, consumed; confirming and verifying share the password failure
 * budget. See TotpService for the checks.
 */
function addTotpRoutes(router: Router, config: RouterConfig, totp: TotpService, verificationStep: VerificationStep, failures: FailureBudget): void {
  const { audit } = config;

  router.post(
    pathsOf('startTotpEnrollment'),
    withoutBody,
    asyncHandler(async (req, res) => {
      const requester = await freshIdentityOf(req, config);
      res.status(200).json(await totp.startEnrollment(requester));
    }),
  );

  router.post(
    pathsOf('confirmTotpEnrollment'),
    validated(totpCodeBody),
    failures.reserve,
    asyncHandler(async (req, res) => {
      const requester = requesterOf(req);
      const confirm = settledBy(failures, async () => {
        try {
          await totp.confirmEnrollment(requester, inputOf(req, totpCodeBody).code);
        } catch (error) {
          throw withRemainingAttempts(req, error);
        }
      });
      await reportingFailures(audit, req, { userId: requester.userId, method: 'totp' }, () => confirm(req));
      res.status(204).end();
      audit.emit(req, { type: 'factor.enrolled', userId: requester.userId, method: 'totp' });
    }),
  );

  router.post(
    pathsOf('verifyTotp'),
    validated(totpVerifyBody),
    failures.reserve,
    verificationStep(
      () => 'totp',
      settledBy(failures, async (req) => {
        const { code, action } = inputOf(req, totpVerifyBody);
        try {
          return await totp.verify(requesterOf(req), code, action as Action | undefined);
        } catch (error) {
          throw withRemainingAttempts(req, error);
        }
      }),
      201,
      'verification.created',
    ),
  );
}

/**
 * Runs a check that took a slot of a failure budget, and settles the slot: a success gives it
 * back; so does a check that could not be carried out (503 `verification.unavailable`: the store,
 * the user lookup or the password hashing queue was not available, so nothing was compared, or
 * the password was right and its record could not be saved). Every other failure keeps it (fails
 * closed): a wrong password or TOTP code, a TOTP code already used, and a TOTP enrollment that is
 * not there (404) all count.
 *
 * A success's give-back is started before the answer is written but not waited for, so it costs
 * the client no round trip (a code check: the batch of counters, then the check script, nothing
 * more). It still runs in the request's own code path, whether or not the client is still there,
 * and never rejects. Its command is queued on the Redis connection before the answer is written,
 * so any later request through that connection (the user's next check on this instance) is
 * counted after it. Failures settle before answering.
 */
function settledBy<T>(budget: FailureBudget, run: (req: Request) => Promise<T>): (req: Request) => Promise<T> {
  return async (req) => {
    let result: T;
    try {
      result = await run(req);
    } catch (error) {
      await budget.settle(req, toVerificationError(error).code !== 'verification.unavailable');
      throw error;
    }
    void budget.settle(req, false);
    return result;
  };
}

/**
 * A wrong password or TOTP code tells how many tries are left before the lockout (like wrong codes do), from the
 * failure limiter's count for this request, so the client can warn before the last one.
 */
function withRemainingAttempts(req: Request, error: unknown): unknown {
  if (!(error instanceof VerificationError) || error.code !== 'verification.invalid_credentials') return error;
  const info = (req as Request & { [PASSWORD_FAILURES_PROPERTY]?: { remaining?: unknown } })[PASSWORD_FAILURES_PROPERTY];
  const remaining = info?.remaining;
  if (typeof remaining !== 'number') return error;
  return new VerificationError(error.code, { message: error.message, details: { ...error.details, remainingAttempts: remaining } });
}
