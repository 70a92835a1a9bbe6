import type { Request, RequestHandler, Response } from 'express';
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
  const refuse = (res: Response, caught: unknown) => respondWithError(res, caught, config.onUnexpectedError);
  return (req, res, next) => {
    res.setHeader('Cache-Control', 'no-store');
    const decide = (principal: Principal): void => {
      let checking: Promise<T>;
      try {
        checking = steps.check(req, principal);
      } catch (caught) {
        refused(principal, caught);
        return;
      }
      checking.then((result) => {
        try {
          steps.passed(req, principal, result);
        } catch (error) {
          // A throwing `passed` is a bug: never answered as a pass.
          refuse(res, error);
          return;
        }
        next();
      }, (caught: unknown) => refused(principal, caught));
    };
    const refused = (principal: Principal | undefined, caught: unknown): void => {
      try {
        if (principal !== undefined) steps.refused(req, principal, toVerificationError(caught));
      } catch (error) {
        // Reporting the refusal failed: tell the app, and still refuse (never a rejection left behind).
        config.onUnexpectedError?.(error);
      }
      if (res.headersSent) config.onUnexpectedError?.(caught);
      else refuse(res, caught);
    };
    // A synchronous authenticator (jwtAuthenticator) is used synchronously: no promise per request for it.
    let found: ReturnType<Authenticator>;
    try {
      found = config.authenticate(req);
    } catch (caught) {
      refused(undefined, caught);
      return;
    }
    if (typeof (found as PromiseLike<unknown> | null | undefined)?.then === 'function') {
      Promise.resolve(found).then(principalFrom).then(decide, (caught: unknown) => refused(undefined, caught));
      return;
    }
    let principal: Principal;
    try {
      principal = principalFrom(found as Awaited<ReturnType<Authenticator>>);
    } catch (caught) {
      refused(undefined, caught);
      return;
    }
    decide(principal);
  };
}
