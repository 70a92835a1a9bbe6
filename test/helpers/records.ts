import { randomBytes } from 'node:crypto';
import { codeHash } from '../../lib/codes';
import { identifierRef } from '../../lib/identifiers';
import { newRecordId } from '../../lib/record-id';
import type { PendingCodeRecord, VerifiedRecord } from '../../lib/records';

export const SECRET = randomBytes(32);

/** A verified password record of `userId`, overridable field by field. */
export function verifiedRecord(overrides: Partial<VerifiedRecord> = {}): VerifiedRecord {
  const now = Date.now();
  return {
    id: newRecordId(),
    userId: 'usr_alice',
    method: 'password',
    purpose: 'identity',
    status: 'verified',
    createdAt: now,
    verifiedAt: now,
    expiresAt: now + 60_000,
    ...overrides,
  };
}

/** A pending email-code record whose code is `code`, sent to alice@example.com (only its hash is kept). */
export function pendingCodeRecord(code: string, overrides: Partial<PendingCodeRecord> = {}): PendingCodeRecord {
  const id = overrides.id ?? newRecordId();
  const now = Date.now();
  return {
    id,
    userId: 'usr_alice',
    method: 'email',
    status: 'pending',
    identifierRef: identifierRef(SECRET, { type: 'email', value: 'alice@example.com' }),
    codeHash: codeHash(SECRET, id, code),
    attempts: 0,
    createdAt: now,
    expiresAt: now + 60_000,
    ...overrides,
  };
}

export const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** A KEYS/SCAN pattern of the RedisStore's record keys under `prefix` (`<prefix>{<tag>}<16-character hash>`; other keys are longer). */
export const recordKeyPattern = (prefix: string) => `${prefix}{???}${'?'.repeat(16)}`;
