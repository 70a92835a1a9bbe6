import type { Request } from 'express';
import { VerificationError } from '../errors';

/**
 * Who is calling, as an authenticator reports it. Only `userId` is required.
 * `sessionId` binds the records made in this session to it (a record made in one session
 * does not satisfy the guard in another). The other fields come from an identity provider's
 * token and are used only by guards that accept a fresh sign-in (`acceptAuthTime`).
 */
export interface Principal {
  readonly userId: string;
  /** The session the request belongs to, e.g. the token's `sid` claim. */
  readonly sessionId?: string;
  /** When the user last authenticated at the provider, epoch **seconds** (the token's `auth_time`). */
  readonly authTime?: number;
  /** Authentication context class reference of that sign-in (`acr`). */
  readonly acr?: string;
  /** Authentication methods of that sign-in (`amr`, RFC 8176 values such as `pwd`, `otp`, `hwk`, `mfa`). */
  readonly amr?: readonly string[];
}

/**
 * Tells who is calling: a user id, a {@link Principal}, or null/undefined when the request is
 * not authenticated. For apps that already have `req.user` (passport, sessions):
 * `authenticate: (req) => req.user?.id` (a string, or an integer id, which is used as its
 * decimal string), or `(req) => ({ userId: req.user.id, sessionId: req.sessionID })`.
 * Throw a VerificationError to answer with a specific error.
 */
export type Authenticator = (req: Request) => AuthenticatorResult | Promise<AuthenticatorResult>;

export type AuthenticatorResult = string | number | Principal | null | undefined;

/** Longest user or session id accepted from an authenticator; longer ones are treated as unauthenticated. */
const MAX_ID_LENGTH = 256;

export function unauthorized(challenge = 'Bearer realm="express-step-up"'): VerificationError {
  return new VerificationError('auth.unauthorized', { headers: { 'WWW-Authenticate': challenge } });
}

function idOf(value: unknown): string | undefined {
  const id = typeof value === 'number' && Number.isSafeInteger(value) ? String(value) : value;
  return typeof id === 'string' && id.length > 0 && id.length <= MAX_ID_LENGTH ? id : undefined;
}

/** The caller as a Principal, or a 401 `auth.unauthorized`. */
export async function authenticateRequest(authenticate: Authenticator, req: Request): Promise<Principal> {
  return principalFrom(await authenticate(req));
}

/** An authenticator's answer as a Principal, or a 401 `auth.unauthorized` (the check behind authenticateRequest). */
export function principalFrom(found: AuthenticatorResult): Principal {
  if (typeof found === 'object' && found !== null) {
    const userId = idOf(found.userId);
    if (userId === undefined) throw unauthorized();
    if (found.sessionId === undefined) return userId === found.userId ? found : { ...found, userId };
    const sessionId = idOf(found.sessionId);
    // A session id that is present but unusable must not silently unbind the records.
    if (sessionId === undefined) throw unauthorized();
    return sessionId === found.sessionId && userId === found.userId ? found : { ...found, userId, sessionId };
  }
  const userId = idOf(found);
  if (userId === undefined) throw unauthorized();
  return { userId };
}
