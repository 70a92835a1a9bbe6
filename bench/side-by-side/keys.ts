import { createPublicKey, createSecretKey, type JsonWebKey, type KeyObject } from 'node:crypto';
import type { VerificationKey } from './protocol';

/** The user every bench token is issued to and every bench record belongs to. */
export const BENCH_USER = 'usr_bench';
/** The `aud` of the provider tokens (RS256, ES256). */
export const BENCH_AUDIENCE = 'https://api.bench.test';

/** The prepared key a server verifies tokens with (jsonwebtoken is much faster with a KeyObject than with a string). */
export function keyObjectOf(key: VerificationKey): KeyObject {
  return key.alg === 'HS256' ? createSecretKey(Buffer.from(key.secret)) : createPublicKey({ key: key.publicJwk as JsonWebKey, format: 'jwk' });
}
