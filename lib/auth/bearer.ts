import type { Request } from 'express';
import { unauthorized } from './authenticator';

/** Bearer tokens longer than this are refused before any parsing. */
export const MAX_TOKEN_LENGTH = 8192;
/** A compact JWS and nothing else: three base64url parts (the third may be empty, so that `alg: none` reaches the verifier and is refused there). */
const BEARER = /^Bearer[ ]+([A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*)[ ]*$/i;

/** The 401 for a bad token. Made only on failure: building an error (and its stack) on every call halves the throughput. */
export const invalidToken = () => unauthorized('Bearer realm="express-step-up", error="invalid_token"');

/**
 * The JWT of an `Authorization: Bearer <JWT>` header: null without the header,
 * a 401 `invalid_token` when the header is too long or not a Bearer JWT.
 */
export function bearerToken(req: Request): string | null {
  const header = req.headers.authorization;
  if (header === undefined) return null;
  if (header.length > MAX_TOKEN_LENGTH) throw invalidToken();
  const match = BEARER.exec(header);
  if (match === null) throw invalidToken();
  return match[1] as string;
}
