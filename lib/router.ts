import express, { type Request, type RequestHandler, type Response, type Router } from 'express';
import { z } from 'zod';
import { authenticateRequest, type Authenticator } from './auth/authenticator';
import { ROUTER_ENDPOINTS } from './endpoints';
import { jsonErrorHandler, toVerificationError, type ErrorCode } from './errors';
import type { Audit, AuditEventType } from './events';
import { asyncHandler } from './http/async-handler';
import { jsonBody } from './http/json-body';
import { passwordBody, sendCodeBody, verifyCodeBody } from './http/schemas';
import { unknownRoute } from './http/unknown-route';
import { parseBody } from './http/validate';
import { normalizeIdentifier } from './identifiers';
import { createLimiters } from './rate-limit/limiters';
import type { ResolvedLimits } from './rate-limit/limits';
import type { Identifier, RecordPurpose, VerificationMethod, VerificationRecord } from './records';
import type { VerificationStore } from './stores/store';
import type { VerificationService } from './verification-service';

export interface RouterConfig {
  readonly service: VerificationService;
  readonly store: VerificationStore;
  readonly authenticate: Authenticator;
  readonly bodyLimit: string | number;
  readonly limits: ResolvedLimits;
  readonly secret: Buffer;
  readonly audit: Audit;
  readonly onUnexpectedError: ((error: unknown) => void) | undefined;
}

/** What the router's own middlewares learned about a request, kept off the app's `req` fields. */
interface RequestState {
  userId?: string;
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

function userIdOf(req: Request): string {
  const { userId } = state(req);
  if (userId === undefined) throw new Error('route reached without authentication');
  return userId;
}

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

/**
 * The verification endpoints. Every route: per-IP ceiling, authentication, JSON
 * body, validation, then its own limits, then the service. Every answer, error or
 * not, is JSON and never cached.
 */
export function createVerificationRouter(config: RouterConfig): Router {
  const { service, authenticate, audit } = config;
  const limiters = createLimiters({
    limits: config.limits,
    store: config.store,
    audit,
    secret: config.secret,
    userIdOf,
    identifierOf,
    purposeOf,
  });
  const router = express.Router();

  router.use((_req, res, next) => {
    res.setHeader('Cache-Control', 'no-store');
    next();
  });
  if (limiters.perIp) router.use(limiters.perIp);
  router.use(
    asyncHandler(async (req, _res, next) => {
      state(req).userId = (await authenticateRequest(authenticate, req)).userId;
      next();
    }),
  );
  router.use(jsonBody(config.bodyLimit));

  /** Runs one verification step, answers with its record, and reports the outcome as an audit event. */
  const verificationStep =
    (
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
      let record: VerificationRecord;
      try {
        record = await run(req);
      } catch (error) {
        const code = toVerificationError(error).code;
        const type = failureEvent(code);
        if (type) audit.emit(req, { ...base, type, reason: code });
        throw error;
      }
      sendRecord(res, status, record);
      audit.emit(req, { ...base, type: success, recordId: record.id });
    });

  router.post(
    ['/password/verify', '/password'],
    validated(passwordBody),
    limiters.passwordFailures,
    verificationStep(
      () => 'password',
      (req) => service.verifyPassword(userIdOf(req), inputOf(req, passwordBody).password),
      201,
      'verification.created',
    ),
  );

  router.post(
    '/verification-code',
    validated(sendCodeBody, true),
    asyncHandler(async (req, _res, next) => {
      state(req).purpose = await service.purposeOf(userIdOf(req), identifierOf(req));
      next();
    }),
    ...limiters.codeSends,
    verificationStep(
      (req) => identifierOf(req).type,
      (req) => service.sendCode(userIdOf(req), identifierOf(req), purposeOf(req), preferredLocale(req)),
      201,
      'verification.created',
    ),
  );

  router.post(
    '/verification-code/verify',
    validated(verifyCodeBody, true),
    limiters.codeFailures,
    verificationStep(
      (req) => identifierOf(req).type,
      (req) => {
        const { verificationId, code } = inputOf(req, verifyCodeBody);
        return service.verifyCode(userIdOf(req), verificationId, identifierOf(req), code);
      },
      200,
      'verification.succeeded',
    ),
  );

  router.use(unknownRoute(ROUTER_ENDPOINTS));
  router.use(jsonErrorHandler(config.onUnexpectedError));
  return router;
}
