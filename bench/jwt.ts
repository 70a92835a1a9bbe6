import { createSecretKey } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import type { Request } from 'express';
import jwt from 'jsonwebtoken';
import { jwtAuthenticator } from '../lib/index';
import { accessToken, BENCH_USER, JWT_SECRET } from './app';
import { round } from './stats';

export interface JwtResult {
  readonly name: string;
  readonly iterations: number;
  readonly opsPerSecond: number;
  readonly microsecondsPerOp: number;
}

/** Runs `verify` `iterations` times (after a short warm-up), checking every answer. */
function measure(name: string, iterations: number, verify: () => unknown): JwtResult {
  const check = () => {
    if (verify() !== BENCH_USER) throw new Error(`${name}: the token did not verify to its subject`);
  };
  for (let i = 0; i < Math.min(1000, iterations); i += 1) check();
  const started = performance.now();
  for (let i = 0; i < iterations; i += 1) check();
  const seconds = (performance.now() - started) / 1000;
  return { name, iterations, opsPerSecond: round(iterations / seconds, 0), microsecondsPerOp: round((seconds * 1e6) / iterations, 2) };
}

/**
 * HS256 verification: jsonwebtoken with a string secret, with a KeyObject, and the library's
 * jwtAuthenticator, both for a token it has not seen (verified in full) and for the same token
 * again (remembered: only `exp` and `nbf` checked; see lib/auth/verified-tokens.ts).
 */
export function runJwtBench(iterations: number): JwtResult[] {
  const token = accessToken();
  const options: jwt.VerifyOptions = { algorithms: ['HS256'] };
  const subject = (payload: string | jwt.JwtPayload) => (typeof payload === 'string' ? undefined : payload.sub);

  const key = createSecretKey(Buffer.from(JWT_SECRET));
  const authenticate = jwtAuthenticator({ secret: JWT_SECRET, algorithms: ['HS256'] });
  const req = { headers: { authorization: `Bearer ${token}` } } as unknown as Request;
  // Distinct tokens (a different jti each), signed beforehand, for the first-sight row; more than its memory holds.
  const fresh = Array.from({ length: iterations + 1000 }, (_, i) => ({
    headers: { authorization: `Bearer ${jwt.sign({ sub: BENCH_USER, jti: String(i) }, key, { algorithm: 'HS256', expiresIn: 3600 })}` },
  })) as unknown as Request[];
  let next = 0;

  return [
    measure('jwt.verify, string secret', iterations, () => subject(jwt.verify(token, JWT_SECRET, options))),
    measure('jwt.verify, KeyObject', iterations, () => subject(jwt.verify(token, key, options))),
    measure('jwtAuthenticator, a token seen for the first time', iterations, () => authenticate(fresh[next++] as Request)?.userId),
    measure('jwtAuthenticator, the same token again', iterations, () => authenticate(req)?.userId),
  ];
}
