import { createPublicKey, createSecretKey, KeyObject } from 'node:crypto';
import type { Request } from 'express';
import jwt, { type Algorithm } from 'jsonwebtoken';
import type { Principal } from './authenticator';
import { bearerToken, invalidToken } from './bearer';
import { principalOf } from './claims';
import { VerifiedTokens } from './verified-tokens';
import { rejectUnknownOptions, StepUpConfigError } from '../config-error';

export { principalOf } from './claims';

export type JwtAlgorithm = Exclude<Algorithm, 'none'>;

export interface JwtAuthenticatorOptions {
  /** Algorithms accepted, e.g. `['HS256']` or `['RS256']`. Required; `none` is refused. */
  algorithms: readonly JwtAlgorithm[];
  /** Shared secret for HS256/384/512: at least 32 bytes. */
  secret?: string | Buffer | KeyObject;
  /** Public key (PEM, DER buffer or KeyObject) for RS*, PS* and ES*. */
  publicKey?: string | Buffer | KeyObject;
  /** Expected `iss`. */
  issuer?: string | string[];
  /** Expected `aud`. */
  audience?: string | string[];
  /** Seconds of leeway for `exp`/`nbf`, from 0 to 300. Default 0. */
  clockToleranceSeconds?: number;
}

const SYMMETRIC = /^HS(256|384|512)$/;
const ASYMMETRIC = /^(RS|PS|ES)(256|384|512)$/;
const MAX_CLOCK_TOLERANCE_SECONDS = 300;

/** An issuer or audience option as a frozen copy: one non-empty string or a non-empty list of them (no RegExp: its state could change answers). */
function fixedStrings(value: string | string[] | undefined, name: string): string | readonly string[] | undefined {
  if (value === undefined) return undefined;
  if (typeof value === 'string' && value.length > 0) return value;
  if (Array.isArray(value) && value.length > 0 && value.every((item) => typeof item === 'string' && item.length > 0)) return Object.freeze([...value]);
  throw new StepUpConfigError('ERR_STEP_UP_INVALID_OPTION', `jwtAuthenticator: \`${name}\` must be a non-empty string or a non-empty list of them`);
}

/** Turns the key into a KeyObject once: jsonwebtoken is ~45x faster with one than with a string secret. */
function toKeyObject(options: JwtAuthenticatorOptions, symmetric: boolean): KeyObject {
  if (symmetric) {
    const secret = options.secret;
    if (secret === undefined) throw new StepUpConfigError('ERR_STEP_UP_MISSING_OPTION', 'jwtAuthenticator: HS* algorithms need `secret`');
    const key = secret instanceof KeyObject ? secret : createSecretKey(typeof secret === 'string' ? Buffer.from(secret) : secret);
    if (key.type !== 'secret') throw new StepUpConfigError('ERR_STEP_UP_WEAK_SECRET', 'jwtAuthenticator: `secret` must be a secret key');
    if ((key.symmetricKeySize ?? 0) < 32) {
      throw new StepUpConfigError('ERR_STEP_UP_WEAK_SECRET', 'jwtAuthenticator: `secret` must be at least 32 bytes (e.g. `openssl rand -base64 48`)');
    }
    return key;
  }
  const publicKey = options.publicKey;
  if (publicKey === undefined) throw new StepUpConfigError('ERR_STEP_UP_MISSING_OPTION', 'jwtAuthenticator: RS*/PS*/ES* algorithms need `publicKey`');
  const key = publicKey instanceof KeyObject ? publicKey : createPublicKey(publicKey);
  if (key.type !== 'public') throw new StepUpConfigError('ERR_STEP_UP_INVALID_OPTION', 'jwtAuthenticator: `publicKey` must be a public key');
  return key;
}

/**
 * The default authenticator: `Authorization: Bearer <JWT>`, verified with
 * jsonwebtoken against an explicit algorithm allowlist; `sub` is the user id and `sid`, when
 * present, the session id; tokens without `exp` are refused.
 * Options are checked here, once, so a misconfiguration fails at startup. A token that passed is
 * remembered (by its hash) until it expires: its next requests re-check only `exp` and `nbf`
 * (see VerifiedTokens; the key and rules cannot change, so nothing else could differ).
 * Returns the principal, null without an Authorization header, or throws a 401 error.
 */
export function jwtAuthenticator(options: JwtAuthenticatorOptions): (req: Request) => Principal | null {
  rejectUnknownOptions('jwtAuthenticator()', options, ['algorithms', 'secret', 'publicKey', 'issuer', 'audience', 'clockToleranceSeconds']);
  const algorithms = options?.algorithms;
  if (!Array.isArray(algorithms) || algorithms.length === 0) {
    throw new StepUpConfigError('ERR_STEP_UP_MISSING_OPTION', "jwtAuthenticator: `algorithms` is required, e.g. ['HS256']");
  }
  const symmetric = algorithms.every((alg) => SYMMETRIC.test(alg));
  const asymmetric = algorithms.every((alg) => ASYMMETRIC.test(alg));
  if (!symmetric && !asymmetric) {
    throw new StepUpConfigError('ERR_STEP_UP_UNSAFE_ALGORITHM', 
      "jwtAuthenticator: `algorithms` must all be HS* or all be RS*/PS*/ES* ('none' is never allowed)",
    );
  }
  const key = toKeyObject(options, symmetric);
  const clockTolerance = options.clockToleranceSeconds ?? 0;
  // Checked, not passed on as given: jsonwebtoken reads NaN as 0 but a string by concatenation
  // (`exp + "30"`), and the remembered tokens' expiry must be the same number it uses.
  if (typeof clockTolerance !== 'number' || !Number.isFinite(clockTolerance) || clockTolerance < 0 || clockTolerance > MAX_CLOCK_TOLERANCE_SECONDS) {
    throw new StepUpConfigError('ERR_STEP_UP_INVALID_OPTION', `jwtAuthenticator: \`clockToleranceSeconds\` must be a number from 0 to ${MAX_CLOCK_TOLERANCE_SECONDS}`);
  }
  // Copied and frozen: a token remembered under these rules must not outlive a change the app
  // makes to its own arrays afterwards (the rules are the authenticator's, fixed when it is made).
  const issuer = fixedStrings(options.issuer, 'issuer');
  const audience = fixedStrings(options.audience, 'audience');
  const verifyOptions: jwt.VerifyOptions = { algorithms: [...algorithms], clockTolerance };
  if (issuer !== undefined) verifyOptions.issuer = issuer as string | [string, ...string[]];
  if (audience !== undefined) verifyOptions.audience = audience as string | [string, ...string[]];

  const verified = new VerifiedTokens(clockTolerance);

  return (req: Request) => {
    const token = bearerToken(req);
    if (token === null) return null;
    const remembered = verified.keyOf(token);
    const known = verified.recall(remembered);
    if (known !== undefined) return known;
    let payload: string | jwt.JwtPayload;
    try {
      payload = jwt.verify(token, key, verifyOptions);
    } catch {
      throw invalidToken();
    }
    // A token without `exp` would be valid forever: refused.
    if (typeof payload !== 'object' || typeof payload.exp !== 'number') throw invalidToken();
    if (typeof payload.sub !== 'string' || payload.sub.length === 0) throw invalidToken();
    const principal = principalOf(payload);
    verified.remember(token, remembered, principal, payload.exp, payload.nbf);
    return principal;
  };
}
