import express, { type Request, type RequestHandler, type Response, type Router } from 'express';
import { z } from 'zod';
import { authenticateRequest, type Authenticator } from './auth/authenticator';
import { jsonErrorHandler } from './errors';
import { jsonBody } from './http/json-body';
import { parseBody } from './http/validate';
import { identifierSchema } from './identifiers';
import type { VerificationRecord } from './records';
import type { VerificationService } from './verification-service';

export interface RouterConfig {
  readonly service: VerificationService;
  readonly authenticate: Authenticator;
  readonly bodyLimit: string | number;
  readonly onUnexpectedError: ((error: unknown) => void) | undefined;
}

/** bcrypt reads at most 72 bytes; anything far beyond is not a password but a payload. */
const passwordBody = z.object({ password: z.string().min(1).max(1024) });
const sendCodeBody = z.object({ identifier: identifierSchema });
const verifyCodeBody = z.object({
  identifier: identifierSchema,
  verificationId: z.string().min(1).max(128),
  code: z.string().min(1).max(32),
});

/** The user id the router's authentication step found. */
const USER_ID = Symbol('express-step-up.userId');
type AuthedRequest = Request & { [USER_ID]?: string };

function userIdOf(req: Request): string {
  const userId = (req as AuthedRequest)[USER_ID];
  if (userId === undefined) throw new Error('route reached without authentication');
  return userId;
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

/**
 * The verification endpoints. Every route authenticates the caller first, then
 * parses a JSON body; every answer, error or not, is JSON and never cached.
 */
export function createVerificationRouter(config: RouterConfig): Router {
  const { service, authenticate } = config;
  const router = express.Router();

  router.use((_req, res, next) => {
    res.setHeader('Cache-Control', 'no-store');
    next();
  });
  router.use(async (req, _res, next) => {
    (req as AuthedRequest)[USER_ID] = await authenticateRequest(authenticate, req);
    next();
  });
  router.use(jsonBody(config.bodyLimit));

  const verifyPassword: RequestHandler = async (req, res) => {
    const { password } = parseBody(passwordBody, req.body);
    sendRecord(res, 201, await service.verifyPassword(userIdOf(req), password));
  };
  router.post('/password/verify', verifyPassword);
  router.post('/password', verifyPassword);

  router.post('/verification-code', async (req, res) => {
    const { identifier } = parseBody(sendCodeBody, req.body);
    sendRecord(res, 201, await service.sendCode(userIdOf(req), identifier, preferredLocale(req)));
  });

  router.post('/verification-code/verify', async (req, res) => {
    const { identifier, verificationId, code } = parseBody(verifyCodeBody, req.body);
    sendRecord(res, 200, await service.verifyCode(userIdOf(req), verificationId, identifier, code));
  });

  router.use(jsonErrorHandler(config.onUnexpectedError));
  return router;
}
