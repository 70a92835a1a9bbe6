import type { NextFunction, Request, RequestHandler, Response } from 'express';
import { principalFrom, type Authenticator, type Principal } from '../auth/authenticator';
import { respondWithError, toVerificationError, type VerificationError } from '../errors';

export interface EdgeConfig {
  readonly authenticate: Authenticator;
  readonly onUnexpectedError: ((error: unknown) => void) | undefined;
}

/** One middleware that stands between the app and a sensitive handler. */
export interface EdgeSteps<T> {
  /** Decides: resolves what the request carries on to the handler, or throws (a VerificationError to refuse). */
  check(req: Request, principal: Principal): Promise<T>;
  /** The request passes: set what the handler reads, report it. Runs before `next()`. */
  passed(req: Request, principal: Principal, result: T): void;
  /** The request is refused with `error` (not called when authentication itself failed). */
  refused(req: Request, principal: Principal, error: VerificationError): void;
}

/**
 * The shape shared by `requireVerification()` and `requireNewIdentifier()`: authenticate, check,
 * report, then `next()` or a JSON answer. It answers errors itself (it never passes them to the
 * app's error handler, and never leaves a rejected promise for Express 4 to lose), so a refusal can
 * never turn into a pass or an HTML page. Every answer it writes, and the handler's unless the app
 * sets its own, is `Cache-Control: no-store`.
 */
export function edgeMiddleware<T>(config: EdgeConfig, steps: EdgeSteps<T>): RequestHandler {
  // The steps below are functions of (req, res, next, …), not closures made per request: a request
  // that passes allocates only the two callbacks of its check's `then`.
  return (req, res, next) => {
    res.setHeader('Cache-Control', 'no-store');
    // A synchronous authenticator (jwtAuthenticator) is used synchronously: no promise per request for it.
    let found: ReturnType<Authenticator>;
    try {
      found = config.authenticate(req);
    } catch (caught) {
      refuseRequest(config, steps, req, res, undefined, caught);
      return;
    }
    if (typeof (found as PromiseLike<unknown> | null | undefined)?.then === 'function') {
      Promise.resolve(found)
        .then(principalFrom)
        .then(
          (principal) => decide(config, steps, req, res, next, principal),
          (caught: unknown) => refuseRequest(config, steps, req, res, undefined, caught),
        );
      return;
    }
    let principal: Principal;
    try {
      principal = principalFrom(found as Awaited<ReturnType<Authenticator>>);
    } catch (caught) {
      refuseRequest(config, steps, req, res, undefined, caught);
      return;
    }
    decide(config, steps, req, res, next, principal);
  };
}

/** Runs the check for an authenticated caller, then passes the request on or refuses it. */
function decide<T>(config: EdgeConfig, steps: EdgeSteps<T>, req: Request, res: Response, next: NextFunction, principal: Principal): void {
  let checking: Promise<T>;
  try {
    checking = steps.check(req, principal);
  } catch (caught) {
    refuseRequest(config, steps, req, res, principal, caught);
    return;
  }
  checking.then(
    (result) => pass(config, steps, req, res, next, principal, result),
    (caught: unknown) => refuseRequest(config, steps, req, res, principal, caught),
  );
}

function pass<T>(config: EdgeConfig, steps: EdgeSteps<T>, req: Request, res: Response, next: NextFunction, principal: Principal, result: T): void {
  try {
    steps.passed(req, principal, result);
  } catch (error) {
    // A throwing `passed` is a bug: never answered as a pass.
    respondWithError(res, error, config.onUnexpectedError);
    return;
  }
  next();
}

/** Reports the refusal (when the caller was authenticated) and answers it, unless an answer was already written. */
function refuseRequest<T>(config: EdgeConfig, steps: EdgeSteps<T>, req: Request, res: Response, principal: Principal | undefined, caught: unknown): void {
  try {
    if (principal !== undefined) steps.refused(req, principal, toVerificationError(caught));
  } catch (error) {
    // Reporting the refusal failed: tell the app, and still refuse (never a rejection left behind).
    config.onUnexpectedError?.(error);
  }
  if (res.headersSent) config.onUnexpectedError?.(caught);
  else respondWithError(res, caught, config.onUnexpectedError);
}
