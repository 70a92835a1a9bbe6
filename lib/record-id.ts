import { randomBytes } from 'node:crypto';

/** 24 bytes (192 bits) from the CSPRNG, base64url: 32 URL-safe characters. */
const RECORD_ID_BYTES = 24;
export const RECORD_ID_PATTERN = /^[A-Za-z0-9_-]{32}$/;

/** A new verification record id: an opaque bearer value, never stored as is. */
export function newRecordId(): string {
  return randomBytes(RECORD_ID_BYTES).toString('base64url');
}

/** Whether a client-supplied value can be a record id at all (checked before any store call). */
export function isRecordId(value: unknown): value is string {
  return typeof value === 'string' && RECORD_ID_PATTERN.test(value);
}
