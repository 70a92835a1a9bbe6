import { hash } from 'node:crypto';
import type { Principal } from './authenticator';

/** Tokens remembered at most; when full the memory starts again (a miss costs one full verification). */
export const VERIFIED_TOKEN_CAPACITY = 10_000;
/**
 * Longer tokens are verified on every request, never remembered: this bounds what the memory can
 * hold (the principal's strings come from the token's claims) to about 20 MB at the very worst.
 */
export const REMEMBERED_TOKEN_MAX_LENGTH = 2048;

/** The principals this module froze and hands to every request with their token (see isSharedPrincipal). */
const SHARED = new WeakSet<Principal>();

/**
 * Whether a principal is one of the remembered ones: frozen here, with plain data fields, the same
 * object for every request with its token. What is derived from it (a session's HMAC) may be
 * kept beside it. An object an app froze itself is not one (it may have getters, or be a proxy).
 */
export const isSharedPrincipal = (principal: Principal): boolean => SHARED.has(principal);

interface Remembered {
  readonly principal: Principal;
  /** The token's `exp` and `nbf` (epoch seconds; `nbf` -Infinity when absent), re-checked on every use. */
  readonly exp: number;
  readonly nbf: number;
}

/**
 * The tokens one jwtAuthenticator verified lately, and the principal each names. A client sends
 * the same token on every request until it expires; verifying its signature again each time
 * (jsonwebtoken: two base64 decodes, two JSON parses, an HMAC or a public-key operation, the
 * claim checks) is most of what a guard check costs in the app's process.
 *
 * This is memoization, not a trust decision: the authenticator's key, algorithms, issuer and
 * audience are fixed when it is made, so verifying the same token again gives the same answer
 * except for the time checks, and those (`exp`, `nbf`, with the same leeway, as jsonwebtoken
 * counts them) run on every use. Only tokens that passed every check are remembered; a token
 * that fails is verified in full each time. Not for keys that can change while the process runs
 * (a JWKS): oidcAuthenticator verifies every token.
 *
 * Written here rather than taken from an LRU package: it is a bounded Map cleared when full,
 * keyed by the token's SHA-256 (so the memory holds no bearer token), with two comparisons on a hit.
 * Tokens over REMEMBERED_TOKEN_MAX_LENGTH characters are not remembered.
 */
export class VerifiedTokens {
  readonly #entries = new Map<string, Remembered>();
  readonly #toleranceSeconds: number;

  constructor(toleranceSeconds: number) {
    // NaN would make both time checks false, so a remembered token would never expire.
    if (!Number.isFinite(toleranceSeconds) || toleranceSeconds < 0) throw new RangeError('VerifiedTokens: the leeway is a finite number of seconds, 0 or more');
    this.#toleranceSeconds = toleranceSeconds;
  }

  /** What a token is remembered by: its SHA-256, so the memory holds no bearer token. */
  keyOf(token: string): string {
    return hash('sha256', token, 'base64');
  }

  /** The principal of a token (by its keyOf) verified before and still within its times, or undefined. */
  recall(key: string): Principal | undefined {
    const entry = this.#entries.get(key);
    if (entry === undefined) return undefined;
    // jsonwebtoken's rules: expired when now >= exp + leeway, not yet valid when nbf > now + leeway.
    const now = Math.floor(Date.now() / 1000);
    if (now >= entry.exp + this.#toleranceSeconds || entry.nbf > now + this.#toleranceSeconds) {
      // Verified in full again (and refused there, with jsonwebtoken's reason).
      this.#entries.delete(key);
      return undefined;
    }
    return entry.principal;
  }

  /** Remembers a token (`key` its keyOf) that passed every check, unless it is over REMEMBERED_TOKEN_MAX_LENGTH. The principal is frozen: every request with this token shares it. */
  remember(token: string, key: string, principal: Principal, exp: number, nbf: number | undefined): void {
    if (token.length > REMEMBERED_TOKEN_MAX_LENGTH) return;
    if (this.#entries.size >= VERIFIED_TOKEN_CAPACITY) this.#entries.clear();
    if (principal.amr !== undefined) Object.freeze(principal.amr);
    SHARED.add(Object.freeze(principal));
    this.#entries.set(key, { principal, exp, nbf: nbf ?? Number.NEGATIVE_INFINITY });
  }
}
