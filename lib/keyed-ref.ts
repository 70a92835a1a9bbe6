import { createHmac } from 'node:crypto';

/**
 * What the library keeps instead of a value it must not store (a code, a session id, an action, an
 * email or phone number): an HMAC-SHA-256 of the parts, in order, under the server secret, cut to
 * 128 bits and written in base64url (22 characters, canonical: the Redis store keeps its 16 bytes).
 * Callers put a label first (`'session\0'`, …) so that two kinds of value never share a ref.
 */
export function keyedRef(secret: Buffer, ...parts: readonly string[]): string {
  const hmac = createHmac('sha256', secret);
  for (const part of parts) hmac.update(part);
  return hmac.digest().subarray(0, 16).toString('base64url');
}
