import type { RequestHandler } from 'express';
import { VerificationError } from '../errors';

export interface KnownRoute {
  readonly method: string;
  readonly path: string;
  readonly aliases: readonly string[];
}

/** How Express matches by default: case-insensitive, one trailing slash ignored. */
function normalise(path: string): string {
  const trimmed = path.length > 1 && path.endsWith('/') ? path.slice(0, -1) : path;
  return trimmed.toLowerCase();
}

/**
 * The last handler of a router: a path it has no route for is 404 `request.not_found`, a known
 * path asked with another method is 405 `request.method_not_allowed` with `Allow`. Both go to
 * the router's JSON error handler, so nothing under the router ever answers Express's HTML page.
 */
export function unknownRoute(routes: readonly KnownRoute[]): RequestHandler {
  const methods = new Map<string, Set<string>>();
  for (const route of routes) {
    for (const path of [route.path, ...route.aliases]) {
      const key = normalise(path);
      const known = methods.get(key) ?? new Set<string>();
      known.add(route.method.toUpperCase());
      methods.set(key, known);
    }
  }
  return (req, _res, next) => {
    const allowed = methods.get(normalise(req.path));
    if (allowed === undefined) {
      next(new VerificationError('request.not_found'));
      return;
    }
    next(new VerificationError('request.method_not_allowed', { headers: { Allow: [...allowed].sort().join(', ') } }));
  };
}
