import type { Request } from 'express';
import {
  createRemoteJWKSet,
  customFetch,
  errors,
  jwtVerify,
  type FetchImplementation,
  type JWTVerifyGetKey,
  type JWTPayload,
  type JWTVerifyOptions,
  type RemoteJWKSet,
} from 'jose';
import { rejectUnknownOptions, StepUpConfigError } from '../config-error';
import { VerificationError } from '../errors';
import type { Principal } from './authenticator';
import { bearerToken, invalidToken } from './bearer';
import { principalOf } from './claims';
import { discoverJwksUri, OidcProviderError } from './oidc-discovery';
import { providerUrl } from './provider-url';

/** Asymmetric JWS algorithms an identity provider signs access tokens with. `none` and HS* are never accepted. */
export type OidcAlgorithm =
  | 'RS256'
  | 'RS384'
  | 'RS512'
  | 'PS256'
  | 'PS384'
  | 'PS512'
  | 'ES256'
  | 'ES384'
  | 'ES512'
  | 'EdDSA'
  | 'Ed25519';

export interface OidcAuthenticatorOptions {
  /**
   * The provider's issuer, exactly as in the tokens' `iss` (trailing slash included: Auth0's
   * ends with `/`, Keycloak's and Logto's do not). An https URL; http only on localhost,
   * 127.0.0.0/8 or [::1] (local providers, tests).
   */
  issuer: string;
  /** Expected `aud`: this API's identifier at the provider. A token whose `aud` names none of them is refused. */
  audience: string | readonly string[];
  /** The provider's JSON Web Key Set. Without it, it is read from `<issuer>/.well-known/openid-configuration` on first use. */
  jwksUri?: string;
  /** Algorithms accepted. Default `['RS256', 'PS256', 'ES256', 'EdDSA']`. */
  algorithms?: readonly OidcAlgorithm[];
  /** Seconds of leeway for `exp` and `nbf` (clock skew with the provider). Default 0, at most 300. */
  clockToleranceSeconds?: number;
  /** Expected `typ` header, e.g. `'at+jwt'` for RFC 9068 access tokens. Default: not checked. */
  typ?: string;
  /** Bound on each request to the provider (discovery, key set), in milliseconds. Default 3000. */
  timeoutMs?: number;
  /**
   * Told why the provider could not be used (the request is answered 503 `auth.unavailable`):
   * for the app's logs. The error names the step and the issuer, never a token or a key.
   */
  onProviderError?: (error: Error) => void;
}

export const DEFAULT_OIDC_ALGORITHMS: readonly OidcAlgorithm[] = ['RS256', 'PS256', 'ES256', 'EdDSA'];
const OIDC_ALGORITHMS: ReadonlySet<string> = new Set<OidcAlgorithm>([
  'RS256', 'RS384', 'RS512', 'PS256', 'PS384', 'PS512', 'ES256', 'ES384', 'ES512', 'EdDSA', 'Ed25519',
]);
/** An unknown `kid` refetches the key set at most this often (jose's `cooldownDuration`, counted from the last successful fetch). */
export const JWKS_REFETCH_COOLDOWN_MS = 30_000;
/**
 * After a failed discovery or key-set fetch, the provider is not asked again for this long:
 * requests in between get 503 at once. jose's cooldown counts only from successful fetches,
 * so without this a flood of unknown `kid`s would make one fetch per request while the
 * provider fails.
 */
export const PROVIDER_RETRY_AFTER_MS = 5_000;
const DEFAULT_TIMEOUT_MS = 3_000;
const MAX_CLOCK_TOLERANCE_SECONDS = 300;

/** The key set could not be used because the provider failed: answered 503, never a pass. */
const providerUnavailable = () =>
  new VerificationError('auth.unavailable', { headers: { 'Retry-After': String(Math.ceil(PROVIDER_RETRY_AFTER_MS / 1000)) } });

/** Thrown instead of fetching while the provider is in its retry pause (see PROVIDER_RETRY_AFTER_MS). */
class ProviderPaused extends Error {
  override readonly name = 'ProviderPaused';
}

/** Errors of the key set that are about the token (its `kid`/`alg`), not about the provider. */
function isTokenKeyError(error: unknown): boolean {
  return (
    error instanceof errors.JWKSNoMatchingKey ||
    error instanceof errors.JWKSMultipleMatchingKeys ||
    error instanceof errors.JOSENotSupported
  );
}

function checkAudience(audience: unknown): string[] {
  const list = typeof audience === 'string' ? [audience] : audience;
  if (!Array.isArray(list) || list.length === 0 || !list.every((value) => typeof value === 'string' && value.length > 0)) {
    throw new StepUpConfigError('ERR_STEP_UP_MISSING_OPTION', 'oidcAuthenticator: `audience` is required: a non-empty string or array of strings (this API at the provider)');
  }
  return [...list];
}

function checkAlgorithms(algorithms: unknown): OidcAlgorithm[] {
  if (algorithms === undefined) return [...DEFAULT_OIDC_ALGORITHMS];
  if (!Array.isArray(algorithms) || algorithms.length === 0) {
    throw new StepUpConfigError('ERR_STEP_UP_INVALID_OPTION', "oidcAuthenticator: `algorithms` must be a non-empty array, e.g. ['RS256']");
  }
  for (const alg of algorithms) {
    if (typeof alg === 'string' && (alg.toLowerCase() === 'none' || /^HS\d+$/i.test(alg))) {
      throw new StepUpConfigError('ERR_STEP_UP_UNSAFE_ALGORITHM', "oidcAuthenticator: `algorithms` must not contain 'none' or HS*: provider tokens are verified with public keys");
    }
    if (typeof alg !== 'string' || !OIDC_ALGORITHMS.has(alg)) {
      throw new StepUpConfigError('ERR_STEP_UP_INVALID_OPTION', `oidcAuthenticator: \`algorithms\` accepts only ${[...OIDC_ALGORITHMS].join(', ')}`);
    }
  }
  return [...algorithms] as OidcAlgorithm[];
}

function checkNumber(value: unknown, name: string, min: number, max: number, fallback: number, integer: boolean): number {
  if (value === undefined) return fallback;
  if (typeof value !== 'number' || !Number.isFinite(value) || value < min || value > max || (integer && !Number.isInteger(value))) {
    throw new StepUpConfigError('ERR_STEP_UP_INVALID_OPTION', `oidcAuthenticator: \`${name}\` must be ${integer ? 'an integer' : 'a number'} from ${min} to ${max}`);
  }
  return value;
}

/**
 * Authenticates `Authorization: Bearer <JWT>` access tokens of an OpenID Connect provider
 * (Auth0, Keycloak, Logto, Entra ID, Cognito…) against its published keys, with jose.
 *
 * - Keys come from `jwksUri`, or from discovery (`<issuer>/.well-known/openid-configuration`,
 *   whose `issuer` must match), fetched lazily on the first request and cached; a failed
 *   discovery is retried after {@link PROVIDER_RETRY_AFTER_MS}.
 * - Key rotation: a token whose `kid` is not in the cached set makes one refetch, at most once
 *   per 30 s; the set is also refetched when older than 10 minutes (jose's defaults).
 * - `iss`, `aud`, `exp` (required), `nbf`, the algorithm allowlist and the signature are checked;
 *   `sub` is the user id and `sid` the session id. Any failure: 401 `auth.unauthorized` with
 *   `WWW-Authenticate: Bearer realm="express-step-up", error="invalid_token"`.
 * - The provider unreachable, timing out or answering something unusable: 503
 *   `auth.unavailable` with `Retry-After`, never a pass.
 *
 * Options are checked here, so that a misconfiguration fails at startup with a TypeError.
 * Returns the principal, null without an Authorization header, or throws a VerificationError.
 */
export function oidcAuthenticator(options: OidcAuthenticatorOptions): (req: Request) => Promise<Principal | null> {
  if (typeof options !== 'object' || options === null) throw new StepUpConfigError('ERR_STEP_UP_MISSING_OPTION', 'oidcAuthenticator: options are required ({ issuer, audience })');
  rejectUnknownOptions('oidcAuthenticator()', options, ['issuer', 'audience', 'jwksUri', 'algorithms', 'clockToleranceSeconds', 'typ', 'timeoutMs', 'onProviderError']);
  const issuerUrl = providerUrl(options.issuer, 'oidcAuthenticator: `issuer`');
  if (issuerUrl.search !== '' || options.issuer.includes('?')) throw new StepUpConfigError('ERR_STEP_UP_INVALID_OPTION', 'oidcAuthenticator: `issuer` must not contain a query');
  const issuer = options.issuer;
  const audience = checkAudience(options.audience);
  const configuredJwksUri = options.jwksUri === undefined ? undefined : providerUrl(options.jwksUri, 'oidcAuthenticator: `jwksUri`');
  const algorithms = checkAlgorithms(options.algorithms);
  const clockTolerance = checkNumber(options.clockToleranceSeconds, 'clockToleranceSeconds', 0, MAX_CLOCK_TOLERANCE_SECONDS, 0, false);
  const timeoutMs = checkNumber(options.timeoutMs, 'timeoutMs', 1, 60_000, DEFAULT_TIMEOUT_MS, true);
  if (options.typ !== undefined && (typeof options.typ !== 'string' || options.typ.length === 0)) {
    throw new StepUpConfigError('ERR_STEP_UP_INVALID_OPTION', 'oidcAuthenticator: `typ` must be a non-empty string');
  }
  if (options.onProviderError !== undefined && typeof options.onProviderError !== 'function') {
    throw new StepUpConfigError('ERR_STEP_UP_INVALID_OPTION', 'oidcAuthenticator: `onProviderError` must be a function');
  }
  const onProviderError = options.onProviderError;

  const verifyOptions: JWTVerifyOptions = {
    issuer,
    audience,
    algorithms,
    clockTolerance,
    requiredClaims: ['exp', 'sub'],
    ...(options.typ !== undefined ? { typ: options.typ } : {}),
  };

  /** When the provider last failed (Date.now()); it is not asked again before PROVIDER_RETRY_AFTER_MS. */
  let failedAt = Number.NEGATIVE_INFINITY;
  /** The failure last reported: concurrent requests waiting on one fetch all see the same error, reported once. */
  let lastFailure: unknown;
  const paused = () => Date.now() < failedAt + PROVIDER_RETRY_AFTER_MS;
  const providerFailed = (error: unknown): VerificationError => {
    if (!(error instanceof ProviderPaused) && error !== lastFailure) {
      lastFailure = error;
      failedAt = Date.now();
      try {
        onProviderError?.(error instanceof OidcProviderError ? error : new OidcProviderError(`OIDC key set of ${issuer} could not be fetched`, { cause: error }));
      } catch {
        // A failing log hook must not change the answer.
      }
    }
    return providerUnavailable();
  };

  // jose fetches the key set; this only refuses to while the provider is paused after a failure.
  const fetchUnlessPaused: FetchImplementation = (url, init) => (paused() ? Promise.reject(new ProviderPaused()) : fetch(url, init));

  let keySet: RemoteJWKSet | undefined;
  let discovering: Promise<RemoteJWKSet> | undefined;
  const makeKeySet = (url: URL) =>
    createRemoteJWKSet(url, { timeoutDuration: timeoutMs, cooldownDuration: JWKS_REFETCH_COOLDOWN_MS, [customFetch]: fetchUnlessPaused });
  if (configuredJwksUri !== undefined) keySet = makeKeySet(configuredJwksUri);

  /** The key set, discovering its URL on first use. Concurrent first requests share one discovery. */
  const resolveKeySet = (): Promise<RemoteJWKSet> => {
    if (keySet !== undefined) return Promise.resolve(keySet);
    if (discovering === undefined) {
      if (paused()) return Promise.reject(new ProviderPaused());
      discovering = discoverJwksUri(issuer, timeoutMs)
        .then((url) => (keySet = makeKeySet(url)))
        .finally(() => {
          discovering = undefined;
        });
    }
    return discovering;
  };

  const getKey: JWTVerifyGetKey = async (header, token) => {
    let set: RemoteJWKSet;
    try {
      set = await resolveKeySet();
    } catch (error) {
      throw providerFailed(error);
    }
    try {
      return await set(header, token);
    } catch (error) {
      if (isTokenKeyError(error)) throw error;
      throw providerFailed(error);
    }
  };

  return async (req: Request) => {
    const token = bearerToken(req);
    if (token === null) return null;
    let payload: JWTPayload;
    try {
      ({ payload } = await jwtVerify(token, getKey, verifyOptions));
    } catch (error) {
      if (error instanceof VerificationError) throw error;
      throw invalidToken();
    }
    return principalOf(payload);
  };
}
