import { randomBytes } from 'node:crypto';
import type { VerificationRecord } from '../../lib/records';
import { codeHash, newRecordId } from '../../lib/secrets';

export const SECRET = randomBytes(32);

/** A verified password record of `userId`, overridable field by field. */
export function verifiedRecord(overrides: Partial<VerificationRecord> = {}): VerificationRecord {
  const now = Date.now();
  return {
    id: newRecordId(),
    userId: 'usr_alice',
    method: 'password',
    purpose: 'identity',
    status: 'verified',
    attempts: 0,
    createdAt: now,
    verifiedAt: now,
    expiresAt: now + 60_000,
    ...overrides,
  };
}

/** A pending email-code record whose code is `code`. */
export function pendingCodeRecord(code: string, overrides: Partial<VerificationRecord> = {}): VerificationRecord {
  const id = overrides.id ?? newRecordId();
  const now = Date.now();
  return {
    id,
    userId: 'usr_alice',
    method: 'email',
    purpose: 'identity',
    status: 'pending',
    identifier: { type: 'email', value: 'alice@example.com' },
    codeHash: codeHash(SECRET, id, code),
    attempts: 0,
    createdAt: now,
    expiresAt: now + 60_000,
    ...overrides,
  };
}

export const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
