import type { JWK } from 'jose';

/**
 * What the side-by-side bench tells a server child to start, and what the child answers.
 * Every server runs in a child process of its own (bench/child.ts), all on the bench's private Redis.
 */

export type TokenAlgorithm = 'HS256' | 'RS256' | 'ES256';

/** How a server verifies the bearer token: an HS256 secret, or the public key of an RS256/ES256 pair. */
export type VerificationKey =
  | { readonly alg: 'HS256'; readonly secret: string }
  | { readonly alg: 'RS256' | 'ES256'; readonly publicJwk: JWK };

/** jwtAuthenticator with this key (and issuer and audience for provider tokens), or oidcAuthenticator reading the provider's JWKS. */
export type GuardAuthenticator =
  | { readonly kind: 'jwt'; readonly key: VerificationKey; readonly issuer?: string; readonly audience?: string }
  | { readonly kind: 'oidc'; readonly alg: 'RS256' | 'ES256'; readonly issuer: string; readonly audience: string };

export type ServerSpec =
  /** Express 5, jsonwebtoken with a prepared KeyObject, one Redis GET of a JSON string, JSON.parse, 200. */
  | { readonly kind: 'floor'; readonly key: VerificationKey; readonly token: string; readonly autoPipelining?: boolean }
  /** express-session + connect-redis: a sudo timestamp in the session (GET, then EXPIRE by touch()). */
  | { readonly kind: 'peer' }
  /** The library's guard from dist/index.cjs in a minimal app. */
  | {
      readonly kind: 'guard';
      readonly authenticator: GuardAuthenticator;
      readonly store: 'redis' | 'memory';
      readonly singleUse: boolean;
      /** The RedisStore's ioredis client with `enableAutoPipelining` (the commands of one tick in one write). */
      readonly autoPipelining?: boolean;
      /** Verified records to create (single use: one per request to come). */
      readonly records: number;
      /** The bearer token the requests will carry (the child checks it passes before answering ready). */
      readonly token: string;
      /** Another build's index.cjs to load instead of dist/index.cjs (bench/guard-cpu.ts: a baseline in the same run). */
      readonly build?: string;
    }
  /**
   * The example app (createExampleApp, as `npm start` builds it) with a RedisStore: GET /api/payslips.
   * `appDir`: another copy of example-app/ beside it (e.g. a former version, measured in the same run).
   */
  | { readonly kind: 'example'; readonly appDir?: string };

/** The requests a server expects: the same method, path and headers each time, plus a record id per request in `idHeader`. */
export interface Target {
  readonly port: number;
  readonly method: 'GET' | 'POST';
  readonly path: string;
  readonly headers: Readonly<Record<string, string>>;
  /** Header carrying a record id, or null when the requests carry none (the peer's session cookie). */
  readonly idHeader: string | null;
  /** One id for every request, or one id per request (single use: each once). */
  readonly ids: string | readonly string[];
}

/**
 * `refresh`: the target to use from now on. The example app's record and token expire before a
 * whole bench run ends, so it signs in and verifies again; the other servers answer their target as it was.
 */
export type ToServer = { readonly start: ServerSpec; readonly redisUrl: string } | { readonly cpuUsage: true } | { readonly refresh: true };
export type FromServer =
  | { readonly ready: Target }
  | { readonly cpuUsage: NodeJS.CpuUsage }
  | { readonly error: string };
