import { randomBytes } from 'node:crypto';
import jwt from 'jsonwebtoken';
import { makeKey, type OidcStandIn } from '../../test/helpers/oidc-provider';
import { BENCH_AUDIENCE, BENCH_USER } from './keys';
import type { TokenAlgorithm, VerificationKey } from './protocol';

/** A bearer token and the key that verifies it. */
export interface BenchToken {
  readonly alg: TokenAlgorithm;
  readonly token: string;
  readonly key: VerificationKey;
}

const HOUR = 3600;

/**
 * The tokens of the side-by-side bench, valid for an hour, all issued to BENCH_USER:
 * HS256 with a random 32-byte secret (as a 64-character string, as apps configure it);
 * RS256 (2048-bit) and ES256 signed with a key the provider stand-in publishes in its JWKS,
 * with its issuer and BENCH_AUDIENCE, so that jwtAuthenticator (given the public key), the
 * floor, and oidcAuthenticator (reading the JWKS) all verify the same token.
 */
export async function benchTokens(provider: OidcStandIn): Promise<Record<TokenAlgorithm, BenchToken>> {
  const secret = randomBytes(32).toString('hex');
  const hs256: BenchToken = {
    alg: 'HS256',
    token: jwt.sign({ sub: BENCH_USER }, secret, { algorithm: 'HS256', expiresIn: HOUR }),
    key: { alg: 'HS256', secret },
  };
  const signed = async (alg: 'RS256' | 'ES256'): Promise<BenchToken> => {
    const key = await makeKey(alg);
    provider.publish(key);
    const token = await provider.sign(key, BENCH_AUDIENCE, { claims: { sub: BENCH_USER, exp: Math.floor(Date.now() / 1000) + HOUR } });
    return { alg, token, key: { alg, publicJwk: key.publicJwk } };
  };
  return { HS256: hs256, RS256: await signed('RS256'), ES256: await signed('ES256') };
}
