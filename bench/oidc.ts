import { createPublicKey, type JsonWebKey } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import type { Request } from 'express';
import jwt from 'jsonwebtoken';
import { jwtAuthenticator, oidcAuthenticator } from '../lib/index';
import { makeKey, OidcStandIn, type StandInAlgorithm } from '../test/helpers/oidc-provider';
import { BENCH_USER } from './app';
import { round } from './stats';

export interface OidcResult {
  readonly alg: string;
  readonly name: string;
  readonly iterations: number;
  readonly opsPerSecond: number;
  readonly microsecondsPerOp: number;
  /** µs/op of this case ÷ µs/op of jsonwebtoken's full verification of the same token (1 for the baseline itself). */
  readonly ratioToJwt: number;
}

const AUDIENCE = 'https://api.bench.test';
/** Verifications kept in flight at once in the concurrent case (jose verifies with WebCrypto, off the main thread). */
const IN_FLIGHT = 16;

type Timing = Omit<OidcResult, 'alg' | 'ratioToJwt'>;

const timing = (name: string, iterations: number, milliseconds: number): Timing => ({
  name,
  iterations,
  opsPerSecond: round(iterations / (milliseconds / 1000), 0),
  microsecondsPerOp: round((milliseconds * 1000) / iterations, 2),
});

/** Runs `verify` `iterations` times after a warm-up, one after another, checking every answer. */
async function sequential(name: string, iterations: number, verify: () => Promise<string | undefined> | string | undefined): Promise<Timing> {
  const check = async () => {
    if ((await verify()) !== BENCH_USER) throw new Error(`${name}: the token did not verify to its subject`);
  };
  for (let i = 0; i < Math.min(1000, iterations); i += 1) await check();
  const started = performance.now();
  for (let i = 0; i < iterations; i += 1) await check();
  return timing(name, iterations, performance.now() - started);
}

/** The same, with IN_FLIGHT verifications running at once (throughput of a busy server). */
async function concurrent(name: string, iterations: number, verify: () => Promise<string | undefined>): Promise<Timing> {
  const worker = async (count: number) => {
    for (let i = 0; i < count; i += 1) {
      if ((await verify()) !== BENCH_USER) throw new Error(`${name}: the token did not verify to its subject`);
    }
  };
  await Promise.all(Array.from({ length: IN_FLIGHT }, () => worker(Math.ceil(1000 / IN_FLIGHT))));
  const started = performance.now();
  await Promise.all(Array.from({ length: IN_FLIGHT }, () => worker(Math.ceil(iterations / IN_FLIGHT))));
  return timing(name, Math.ceil(iterations / IN_FLIGHT) * IN_FLIGHT, performance.now() - started);
}

/**
 * Provider tokens: oidcAuthenticator (jose, key from a local JWKS stand-in, already fetched)
 * beside jsonwebtoken's verification with the same public key, issuer and audience (what
 * jwtAuthenticator does for a token it has not seen), on the same token, for RS256 (2048-bit) and
 * ES256; and jwtAuthenticator on that token again (remembered: only `exp` and `nbf` checked).
 */
export async function runOidcBench(iterations: number): Promise<OidcResult[]> {
  const provider = await OidcStandIn.start();
  try {
    const results: OidcResult[] = [];
    for (const alg of ['RS256', 'ES256'] as const satisfies readonly StandInAlgorithm[]) {
      const key = await makeKey(alg);
      provider.publish(key);
      const token = await provider.sign(key, AUDIENCE, { claims: { sub: BENCH_USER, exp: Math.floor(Date.now() / 1000) + 3600 } });
      const req = { headers: { authorization: `Bearer ${token}` } } as unknown as Request;

      const publicKey = createPublicKey({ key: key.publicJwk as JsonWebKey, format: 'jwk' });
      const verifyOptions: jwt.VerifyOptions = { algorithms: [alg], issuer: provider.issuer, audience: AUDIENCE };
      const jwtAuth = jwtAuthenticator({ algorithms: [alg], publicKey, issuer: provider.issuer, audience: AUDIENCE });
      const oidcAuth = oidcAuthenticator({ issuer: provider.issuer, audience: AUDIENCE, algorithms: [alg] });
      // Discovery and the key set are fetched here, before anything is measured.
      if ((await oidcAuth(req))?.userId !== BENCH_USER) throw new Error('oidcAuthenticator: the token did not verify to its subject');
      const fetchesBefore = { ...provider.requests };

      const baseline = await sequential('jsonwebtoken, verified in full (jwtAuthenticator, first sight of a token)', iterations, () =>
        (jwt.verify(token, publicKey, verifyOptions) as jwt.JwtPayload).sub,
      );
      const cases = [
        await sequential('jwtAuthenticator, the same token again', iterations, () => jwtAuth(req)?.userId),
        await sequential('oidcAuthenticator (jose), one at a time', iterations, async () => (await oidcAuth(req))?.userId),
        await concurrent(`oidcAuthenticator (jose), ${IN_FLIGHT} in flight`, iterations, async () => (await oidcAuth(req))?.userId),
      ];
      if (provider.requests.jwks !== fetchesBefore.jwks || provider.requests.discovery !== fetchesBefore.discovery) {
        throw new Error('oidcAuthenticator fetched from the provider during the measurement');
      }
      results.push({ alg, ...baseline, ratioToJwt: 1 });
      for (const c of cases) results.push({ alg, ...c, ratioToJwt: round(c.microsecondsPerOp / baseline.microsecondsPerOp, 2) });
    }
    return results;
  } finally {
    await provider.close();
  }
}
