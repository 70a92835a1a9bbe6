import type { Principal } from './authenticator';
import { invalidToken } from './bearer';

/** The claims of a verified token that name the caller. */
export interface PrincipalClaims {
  sub?: unknown;
  sid?: unknown;
  auth_time?: unknown;
  acr?: unknown;
  amr?: unknown;
}

/**
 * The principal a verified token names: `sub` is the user id, `sid` the session id, and
 * `auth_time`/`acr`/`amr` describe the sign-in. A malformed optional claim makes the token
 * invalid (401) rather than being ignored.
 */
export function principalOf(payload: PrincipalClaims): Principal {
  const { sub, sid, auth_time: authTime, acr, amr } = payload;
  if (typeof sub !== 'string' || sub.length === 0) throw invalidToken();
  if (sid !== undefined && (typeof sid !== 'string' || sid.length === 0)) throw invalidToken();
  if (authTime !== undefined && (typeof authTime !== 'number' || !Number.isFinite(authTime))) throw invalidToken();
  if (acr !== undefined && typeof acr !== 'string') throw invalidToken();
  if (amr !== undefined && (!Array.isArray(amr) || !amr.every((value) => typeof value === 'string'))) throw invalidToken();
  // Set field by field (every request makes one): no spread objects.
  const principal: { -readonly [K in keyof Principal]: Principal[K] } = { userId: sub };
  if (sid !== undefined) principal.sessionId = sid;
  if (authTime !== undefined) principal.authTime = authTime;
  if (acr !== undefined) principal.acr = acr;
  if (amr !== undefined) principal.amr = amr as string[];
  return principal;
}
