import { createHash, randomBytes } from 'node:crypto';
import path from 'node:path';
import express, { type Request, type Response } from 'express';
import jwt from 'jsonwebtoken';
import pino from 'pino';
import { z } from 'zod';
import {
  asyncHandler,
  authenticateRequest,
  consoleSender,
  createStepUp,
  jsonBody,
  jsonErrorHandler,
  jwtAuthenticator,
  oidcAuthenticator,
  senderByChannel,
  sendError,
  sendgridSender,
  twilioSender,
  unauthorized,
  validateBody,
  VerificationError,
  type Authenticator,
  type RateLimits,
  type Sender,
  type VerificationStore,
} from '../lib/index';
import type { ExampleConfig } from './config';
import { sendAppError } from './errors';
import { signInLimits } from './sign-in-limits';
import { DemoUsers } from './users';
import { bundleWebApp } from './web-bundle';

const ACCESS_TOKEN_SECONDS = 15 * 60;
/** Log lines are written to stdout in batches of about this many bytes... */
const LOG_BATCH_BYTES = 4096;
/** ...or this long after they were logged at the latest. */
const LOG_FLUSH_MS = 100;
/** The name passkey prompts and authenticator apps show. */
const APP_NAME = 'Harbor Payroll';

/** /api and everything under it (a path: `req.path`, parsed once by the router for every request). */
const API_PATH = /^\/api(?:\/|$)/i;

/** The demo page loads only its own script and stylesheet: no inline code, no third party, no framing. */
const PAGE_CSP =
  "default-src 'self'; script-src 'self'; style-src 'self'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'";

export interface ExampleAppDeps {
  config: ExampleConfig;
  /** Where records live: a RedisStore when REDIS_URL is set, else the default MemoryStore. */
  store?: VerificationStore;
  /** Overrides the senders the config chooses (tests pass a recording sender). */
  sender?: Sender;
  /** Where the console sender and the audit events write (default console.log). */
  log?: (line: string) => void;
  /** Overrides the library's default rate limits (tests that run many flows back to back). */
  limits?: RateLimits;
}

function sendersFor(config: ExampleConfig, log: (line: string) => void): Sender {
  // The console sender (and its "not for production" warning) only for a channel without a provider.
  const fallback = config.sendgrid && config.twilio ? undefined : consoleSender({ write: log });
  return senderByChannel({
    email: config.sendgrid
      ? sendgridSender({
          apiKey: config.sendgrid.apiKey,
          from: config.sendgrid.from,
          ...(config.sendgrid.apiUrl ? { apiBaseUrl: config.sendgrid.apiUrl } : {}),
        })
      : (fallback as Sender),
    phone: config.twilio
      ? twilioSender({
          accountSid: config.twilio.accountSid,
          authToken: config.twilio.authToken,
          from: config.twilio.from,
          ...(config.twilio.apiUrl ? { apiBaseUrl: config.twilio.apiUrl } : {}),
        })
      : (fallback as Sender),
  });
}

const signInBody = z.object({ email: z.string().min(1).max(254), password: z.string().min(1).max(1024) });
const newPasswordBody = z.object({ password: z.string().min(12).max(256) });
const payoutBody = z.object({
  amount: z.number().positive().max(1_000_000),
  currency: z.string().regex(/^[A-Z]{3}$/),
  destination: z.string().min(1).max(64),
});
/** A transfer: the amount as a decimal string with two decimals (what the user approves, character for character). */
const transferBody = z.object({
  amount: z.string().regex(/^(0|[1-9]\d{0,8})\.\d{2}$/),
  currency: z.string().regex(/^[A-Z]{3}$/),
  payee: z.string().min(1).max(64).regex(/^[^\p{Cc}]+$/u),
});
const parse = validateBody;

/**
 * The app's own HS256 tokens, and, with OIDC_ISSUER, also an identity provider's access tokens
 * (verified against its published keys; `sub` is the user id, `sid` the session). The token's
 * header `alg` picks the verifier: the provider's tokens are never HS*, the app's always are, so
 * neither verifier ever sees the other's tokens.
 */
function appAuthenticator(config: ExampleConfig): Authenticator {
  const own = jwtAuthenticator({ secret: config.jwtSecret, algorithms: ['HS256'] });
  if (config.oidc === undefined) return own;
  const provider = oidcAuthenticator({
    issuer: config.oidc.issuer,
    audience: config.oidc.audience,
    ...(config.oidc.jwksUri !== undefined ? { jwksUri: config.oidc.jwksUri } : {}),
  });
  return (req) => (tokenAlgorithm(req.headers.authorization) === 'HS256' ? own(req) : provider(req));
}

/** The `alg` of a bearer token's header, without verifying anything (only to choose the verifier). */
function tokenAlgorithm(authorization: string | undefined): string | undefined {
  const header = /^Bearer +([A-Za-z0-9_-]{1,2048})\./.exec(authorization ?? '')?.[1];
  if (header === undefined) return undefined;
  try {
    const alg = (JSON.parse(Buffer.from(header, 'base64url').toString('utf8')) as { alg?: unknown }).alg;
    return typeof alg === 'string' ? alg : undefined;
  } catch {
    return undefined;
  }
}

/** The demo banking/payroll app: sign-in, an account, and sensitive routes behind step-up verification. */
export async function createExampleApp(deps: ExampleAppDeps) {
  const { config } = deps;
  // Log lines (audit events as JSON, the console sender's messages) go to stdout through pino's
  // asynchronous destination: buffered and written off the request's path, never a blocking
  // write per request. Lines are batched: written once 4 KiB are waiting, else by a flush every
  // 100 ms (a code printed by the console sender shows without a wait anyone notices); a write
  // per event was a system call per request on the guarded routes. What is left is written when
  // the process exits (pino's destination does that) and by `flushLog()` on shutdown.
  const destination = deps.log ? undefined : pino.destination({ dest: 1, sync: false, minLength: LOG_BATCH_BYTES, periodicFlush: LOG_FLUSH_MS });
  const log = deps.log ?? ((line: string) => void destination?.write(`${line}\n`));
  const flushLog = () => destination?.flushSync();
  const users = await DemoUsers.seed();
  const pageScript = await bundleWebApp();
  const authenticate = appAuthenticator(config);

  const stepUp = createStepUp({
    authenticate,
    users,
    ...(deps.store ? { store: deps.store } : {}),
    sender: deps.sender ?? sendersFor(config, log),
    secret: config.verificationSecret,
    recordTtlSeconds: config.recordTtlSeconds,
    codeTtlSeconds: config.codeTtlSeconds,
    ...(deps.limits ? { limits: deps.limits } : {}),
    // Passkeys, for the page at WEBAUTHN_ORIGIN (default http://localhost:<PORT>); the users table keeps them.
    passkeys: { rpId: config.webauthn.rpId, rpName: APP_NAME, origin: config.webauthn.origin },
    // Authenticator apps (TOTP): the users table keeps each secret sealed, as the library hands it over.
    totp: { issuer: APP_NAME },
    // Audit events as JSON lines: they never hold a code, password or token.
    onEvent: (event) => log(JSON.stringify({ level: 'info', msg: 'audit', ...event })),
    onUnexpectedError: (error) => log(JSON.stringify({ level: 'error', msg: 'unexpected error', name: (error as Error)?.name })),
  });

  const app = express();
  app.disable('x-powered-by');
  // No ETag on answers: the API's are never stored (no-store), so a hash of every body would only
  // cost time; the page's script gets one made once (below), express.static makes its own.
  app.set('etag', false);
  // No answer of the API is ever cached (tokens, accounts, payslips): the router and the guard set
  // this themselves; the app's own routes get it here. One test of the path, not a middleware
  // mounted at /api (Express would match and trim the path on every request); case-insensitive,
  // as Express matches routes. The path, not `req.url`: a request line may carry an absolute URL.
  app.use((req, res, next) => {
    if (API_PATH.test(req.path)) res.setHeader('Cache-Control', 'no-store');
    next();
  });
  app.use('/api/verifications', stepUp.router);
  // The same JSON parsing as the router (400 bad JSON, 413 over 16 KiB, 415 for other bodies), on
  // the routes that take a body: the others (GET) never read one.
  const json = jsonBody('16kb');

  /** The app's own sign-in check for its account routes (the guard authenticates by itself). */
  const signedIn = async (req: Request): Promise<string> => {
    const { userId } = await authenticateRequest(authenticate, req);
    // A valid token for an account that no longer exists is not a session.
    if (users.account(userId) === null) throw unauthorized('Bearer realm="example"');
    return userId;
  };

  // Every async handler goes through asyncHandler, so a rejection reaches the error handler on
  // Express 4 too (Express 5 does that itself; on Express 4 it would end the process).
  app.get(
    '/healthz',
    asyncHandler(async (_req, res) => {
      try {
        await stepUp.store.ping();
        res.json({ status: 'ok' });
      } catch {
        res.status(503).json({ status: 'unavailable' });
      }
    }),
  );

  // The OpenAPI 3.1 document of the verification endpoints, at the path they are mounted on.
  app.get('/openapi.json', (_req, res) => {
    res.json(stepUp.openapi({ basePath: '/api/verifications' }));
  });

  // Sign-in is the app's own (the library guards step-up only); see sign-in-limits.ts.
  app.post(
    '/api/sign-in',
    json,
    ...signInLimits(stepUp.counters, config.verificationSecret),
    asyncHandler(async (req, res) => {
      const { email, password } = parse(signInBody, req.body);
      const user = await users.checkPassword(email, password);
      if (!user) {
        sendAppError(res, 'auth.invalid_credentials');
        return;
      }
      // A fresh session id per sign-in: verifications made in one session do not work in another.
      const sid = randomBytes(16).toString('base64url');
      const token = jwt.sign({ sub: user.id, sid }, config.jwtSecret, { algorithm: 'HS256', expiresIn: ACCESS_TOKEN_SECONDS });
      res.json({ access_token: token, token_type: 'Bearer', expires_in: ACCESS_TOKEN_SECONDS });
    }),
  );

  app.get(
    '/api/my-account',
    asyncHandler(async (req, res) => {
      res.json(users.account(await signedIn(req)));
    }),
  );

  // Which second factors the user has, for the page's Security area: counts and flags, never a
  // secret (the sealed TOTP secret stays in the user table).
  app.get(
    '/api/my-account/security',
    asyncHandler(async (req, res) => {
      res.json(users.security(await signedIn(req)));
    }),
  );

  // Changing the password: any method, verified within 10 minutes. Every verification of the user
  // made before the change, this one included, is revoked with it.
  app.post(
    '/api/my-account/password',
    json,
    stepUp.requireVerification({ maxAge: 600 }),
    asyncHandler(async (req, res) => {
      const { password } = parse(newPasswordBody, req.body);
      const userId = req.verification!.userId;
      if (!(await users.setPassword(userId, password))) {
        sendAppError(res, 'account.not_found');
        return;
      }
      await stepUp.revokeAll(userId);
      res.status(204).end();
    }),
  );

  // A new primary email: an identity verification, plus a second record proving the new address.
  // Whether the address belongs to another account is told only *after* the caller proved they
  // control it: told before, it would answer "which emails are registered?" to anyone signed in.
  // Then every earlier verification of the user is revoked (a code to the old address is no
  // proof of identity any more).
  app.post(
    '/api/my-account/primary-email',
    json,
    stepUp.requireVerification(),
    stepUp.requireNewIdentifier({ type: 'email' }),
    asyncHandler(async (req, res) => {
      const userId = req.verification!.userId;
      const email = req.newIdentifier!.value;
      const owner = users.findByEmail(email);
      if (owner && owner.id !== userId) {
        sendAppError(res, 'account.email_taken');
        return;
      }
      users.setEmail(userId, email);
      await stepUp.revokeAll(userId);
      res.status(204).end();
    }),
  );

  // Payslips: reusable for 10 minutes.
  app.get('/api/payslips', stepUp.requireVerification({ maxAge: 600 }), (req, res) => {
    res.json({
      payslips: [
        { period: '2026-10', net: 4210.55, currency: 'USD', employee: req.verification!.userId },
        { period: '2026-09', net: 4198.1, currency: 'USD', employee: req.verification!.userId },
      ],
    });
  });

  // Payouts: the body is checked first (a bad request must not burn the record), then a
  // single-use verification from the last 5 minutes.
  app.post(
    '/api/payouts',
    json,
    asyncHandler(async (req, _res, next) => {
      await signedIn(req);
      parse(payoutBody, req.body);
      next();
    }),
    stepUp.requireVerification({ maxAge: 300, singleUse: true }),
    (req: Request, res: Response) => {
      const payout = parse(payoutBody, req.body);
      res.status(201).json({ id: `po_${Date.now().toString(36)}`, status: 'accepted', ...payout, by: req.verification!.userId });
    },
  );

  // Transfers (PSD2 dynamic linking): the verification must approve exactly this amount, currency
  // and payee. The body is checked first (a bad request must not burn the record), then a
  // single-use verification from the last 5 minutes bound to this transfer.
  app.post(
    '/api/transfers',
    json,
    asyncHandler(async (req, _res, next) => {
      await signedIn(req);
      parse(transferBody, req.body);
      next();
    }),
    stepUp.requireVerification({
      maxAge: 300,
      singleUse: true,
      action: (req) => {
        const { amount, currency, payee } = parse(transferBody, req.body);
        return { type: 'transfer', amount, currency, payee };
      },
    }),
    (req: Request, res: Response) => {
      const { amount, currency, payee } = parse(transferBody, req.body);
      res.status(201).json({ id: `tr_${randomBytes(8).toString('hex')}`, amount, currency, payee });
    },
  );

  // Tells the page which channels print codes to this console instead of delivering them.
  // A sender passed in by a test is a stand-in, so it counts as 'console' too.
  app.get('/api/demo-info', (_req, res) => {
    res.json({
      delivery: {
        email: !deps.sender && config.sendgrid ? 'sendgrid' : 'console',
        phone: !deps.sender && config.twilio ? 'twilio' : 'console',
      },
    });
  });

  // The demo page: security headers on everything it loads, then its bundled script, then the static files.
  app.use((req, res, next) => {
    if (!/^\/api(\/|$)/.test(req.path)) {
      res.setHeader('Content-Security-Policy', PAGE_CSP);
      res.setHeader('X-Content-Type-Options', 'nosniff');
      res.setHeader('Referrer-Policy', 'no-referrer');
    }
    next();
  });
  // no-cache: the browser asks again each time, and gets 304 while the ETag matches.
  const pageScriptTag = `"${createHash('sha256').update(pageScript).digest('base64url').slice(0, 27)}"`;
  app.get('/app.js', (_req, res) => {
    res.type('text/javascript').setHeader('Cache-Control', 'no-cache');
    res.setHeader('ETag', pageScriptTag);
    res.send(pageScript);
  });
  app.use(express.static(path.join(__dirname, 'public'), { index: 'index.html' }));
  app.use('/api', (_req, res) => sendError(res, new VerificationError('request.not_found')));
  app.use(jsonErrorHandler((error) => log(JSON.stringify({ level: 'error', msg: 'unexpected error', name: (error as Error)?.name }))));
  return { app, stepUp, users, flushLog };
}
