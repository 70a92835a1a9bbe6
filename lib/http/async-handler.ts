import type { NextFunction, Request, RequestHandler, Response } from 'express';

/**
 * A middleware that may be async, made safe for Express 4 and 5 alike: a rejected promise or a
 * thrown error is passed to `next(error)` instead of being left for the framework. Express 5
 * does this itself; Express 4 does not, and an unhandled rejection there ends the process.
 * Written by hand because it is four lines, and a dependency (express-async-handler) would
 * add nothing but a package to trust.
 */
export function asyncHandler(handler: (req: Request, res: Response, next: NextFunction) => unknown): RequestHandler {
  return (req, res, next) => {
    try {
      const result = handler(req, res, next);
      if (result instanceof Promise) result.catch(next);
    } catch (error) {
      next(error);
    }
  };
}
