import { createHmac, randomBytes, randomInt, timingSafeEqual } from 'node:crypto';

/** 24 bytes (192 bits) from the CSPRNG, base64url: 32 URL-safe characters. */
const RECORD_ID_BYTES = 24;
export const RECORD_ID_PATTERN = /^[A-Za-z0-9_-]{32}$/;

export function newRecordId(): string {
  return randomBytes(RECORD_ID_BYTES).toString('base64url');
}

/** A code of `digits` decimal digits, uniformly drawn with crypto.randomInt. */
export function newNumericCode(digits: number): string {
  let code = '';
  for (let i = 0; i < digits; i += 1) code += String(randomInt(10));
  return code;
}

/** HMAC-SHA256 of the record id and code under the server secret, hex. The code itself is never stored. */
export function codeHash(secret: Buffer, recordId: string, code: string): string {
  return createHmac('sha256', secret).update(recordId).update(code).digest('hex');
}

/** Constant-time comparison of two strings (lengths are not secret here: both are HMAC hex). */
export function constantTimeEqual(a: string, b: string): boolean {
  const left = Buffer.from(a);
  const right = Buffer.from(b);
  return left.length === right.length && timingSafeEqual(left, right);
}
