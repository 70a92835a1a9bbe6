import { providerUrl } from './provider-url';

/**
 * Why the identity provider could not be used (discovery or key set unreachable, timed out,
 * or answering something unusable). Its message names the step and the configured issuer,
 * never a token or a key; it goes to the app's `onProviderError`, never to the client.
 */
export class OidcProviderError extends Error {
  override readonly name = 'OidcProviderError';
}

/** Where OpenID Connect Discovery 1.0 (section 4) puts the configuration of `issuer`. */
export function discoveryUrl(issuer: string): URL {
  return new URL(`${issuer.replace(/\/$/, '')}/.well-known/openid-configuration`);
}

/**
 * Fetches the provider's discovery document and returns its `jwks_uri`. The document's
 * `issuer` must be exactly the configured one (OpenID Connect Discovery 1.0, section 4.3):
 * otherwise a document served for another issuer could name another key set. Written by
 * hand because it is one GET and three checks; jose has no discovery of its own.
 * Redirects are not followed (as jose does for the key set); the whole exchange, body
 * included, is bounded by `timeoutMs`.
 */
export async function discoverJwksUri(issuer: string, timeoutMs: number): Promise<URL> {
  const url = discoveryUrl(issuer);
  const signal = AbortSignal.timeout(timeoutMs);
  let document: unknown;
  try {
    const response = await fetch(url, { method: 'GET', redirect: 'manual', signal, headers: { accept: 'application/json' } });
    if (response.status !== 200) {
      await response.body?.cancel().catch(() => undefined);
      throw new OidcProviderError(`OIDC discovery for ${issuer} answered HTTP ${response.status}, expected 200`);
    }
    document = await response.json();
  } catch (cause) {
    if (cause instanceof OidcProviderError) throw cause;
    const reason = signal.aborted ? `timed out after ${timeoutMs} ms` : cause instanceof SyntaxError ? 'is not JSON' : 'failed';
    throw new OidcProviderError(`OIDC discovery for ${issuer} ${reason}`, { cause });
  }
  if (typeof document !== 'object' || document === null || Array.isArray(document)) {
    throw new OidcProviderError(`OIDC discovery for ${issuer} is not a JSON object`);
  }
  const fields = document as { issuer?: unknown; jwks_uri?: unknown };
  if (fields.issuer !== issuer) {
    throw new OidcProviderError(`OIDC discovery for ${issuer} names another issuer: check \`issuer\` (exact match, trailing slash included)`);
  }
  try {
    return providerUrl(fields.jwks_uri, 'jwks_uri');
  } catch (cause) {
    throw new OidcProviderError(`OIDC discovery for ${issuer}: ${(cause as Error).message}`);
  }
}
