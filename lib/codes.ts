/**
 * Everything about one-time codes in one place: drawing them, the HMAC that is stored instead of
 * them, and the constant-time comparison. (The Redis store's Lua script compares the same HMACs
 * in constant time on the server; see lib/stores/redis-scripts.ts.)
 */
import { randomInt, timingSafeEqual } from 'node:crypto';
import { keyedRef } from './keyed-ref';

/** Digits of a code. */
export const CODE_DIGITS = 6;

/** A code of `digits` decimal digits, each drawn uniformly with crypto.randomInt. */
export function newNumericCode(digits: number = CODE_DIGITS): string {
  let code = '';
  for (let i = 0; i < digits; i += 1) code += String(randomInt(10));
  return code;
}

/**
 * HMAC-SHA256 of the record id and code under the server secret, its first 128 bits in base64url
 * (22 characters: a truncated HMAC as RFC 2104 §5 allows; a forgery stays 2⁻¹²⁸ likely, and the code
 * itself has only 10⁶ values). The code itself is never stored; binding the record id means one
 * record's HMAC says nothing about another's code.
 */
export function codeHash(secret: Buffer, recordId: string, code: string): string {
  return keyedRef(secret, recordId, code);
}

/** Constant-time comparison of two code HMACs (their length is not secret: both are 22 characters). */
export function codeHashesMatch(stored: string, candidate: string): boolean {
  const left = Buffer.from(stored);
  const right = Buffer.from(candidate);
  return left.length === right.length && timingSafeEqual(left, right);
}
