import type { Request } from 'express';
import { VerificationError } from '../errors';

/**
 * Tells who is calling: the user id, or null/undefined when the request is not
 * authenticated. For apps that already have `req.user` (passport, sessions):
 * `authenticate: (req) => req.user?.id` (a string, or an integer id, which is used as its decimal string).
 * Throw a VerificationError to answer with a specific error.
 */
export type Authenticator = (
  req: Request,
) => string | number | null | undefined | Promise<string | number | null | undefined>;

/** Longest user id accepted from an authenticator; longer ones are treated as unauthenticated. */
const MAX_USER_ID_LENGTH = 256;

export function unauthorized(challenge = 'Bearer realm="express-step-up"'): VerificationError {
  return new VerificationError('auth.unauthorized', undefined, {}, { 'WWW-Authenticate': challenge });
}

/** The caller's user id, or a 401 `auth.unauthorized`. */
export async function authenticateRequest(authenticate: Authenticator, req: Request): Promise<string> {
  const found = await authenticate(req);
  const userId = typeof found === 'number' && Number.isSafeInteger(found) ? String(found) : found;
  if (typeof userId !== 'string' || userId.length === 0 || userId.length > MAX_USER_ID_LENGTH) throw unauthorized();
  return userId;
}
