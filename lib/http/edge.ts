import type { Request, RequestHandler, Response } from 'express';
import { authenticateRequest, type Authenticator, type Principal } from '../auth/authenticator';
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
    let principal: Principal | undefined;
    authenticateRequest(config.authenticate, req)
      .then((who) => {
        principal = who;
        return steps.check(req, who);
      })
      .then(
        (result) => {
          steps.passed(req, principal as Principal, result);
          next();
        },
        (caught: unknown) => {
          if (principal !== undefined) steps.refused(req, principal, toVerificationError(caught));
          refuse(res, caught);
        },
      )
      .catch((error: unknown) => {
        // Only a throwing `passed` or `next` ends here: never answered as a pass.
        if (res.headersSent) {
          config.onUnexpectedError?.(error);
          return;
        }
        refuse(res, error);
      });
  };
}
