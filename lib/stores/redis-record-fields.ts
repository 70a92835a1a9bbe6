import type { IdentifierType, RecordPurpose, VerificationMethod, VerificationRecord } from '../records';
import { VERIFICATION_METHODS } from '../records';

/**
 * How a record is written into a Redis hash, and how it is read back. Reading parses and checks
 * every field into the `VerificationRecord` union: a hash that is not a well-formed record (written
 * by another version, or tampered with) reads as no record at all, never as a half-valid one.
 *
 * Fields: u userId, s status ('pending' | 'verified'), m method, p purpose (verified only),
 * it/iv identifier type/value, ch code HMAC (pending only), a wrong attempts (pending only),
 * c createdAt, e expiresAt, v verifiedAt (verified only; epoch ms), sr session ref, ar action ref,
 * and t, the Redis server time (µs) at creation, which revocation compares (written by the script).
 */
export function toFields(record: VerificationRecord): string[] {
  const fields = ['u', record.userId, 's', record.status, 'm', record.method, 'c', String(record.createdAt), 'e', String(record.expiresAt)];
  if (record.sessionRef !== undefined) fields.push('sr', record.sessionRef);
  if (record.actionRef !== undefined) fields.push('ar', record.actionRef);
  if (record.identifier !== undefined) fields.push('it', record.identifier.type, 'iv', record.identifier.value);
  if (record.status === 'pending') {
    fields.push('ch', record.codeHash, 'a', String(record.attempts));
  } else {
    fields.push('p', record.purpose, 'v', String(record.verifiedAt));
  }
  return fields;
}

const EPOCH_MS = /^\d{1,16}$/;
const SMALL_INT = /^\d{1,6}$/;
const HEX_HMAC = /^[0-9a-f]{64}$/;

function epochMs(value: string | undefined): number | undefined {
  return value !== undefined && EPOCH_MS.test(value) ? Number(value) : undefined;
}

function isMethod(value: string | undefined): value is VerificationMethod {
  return (VERIFICATION_METHODS as readonly string[]).includes(value ?? '');
}

function isPurpose(value: string | undefined): value is RecordPurpose {
  return value === 'identity' || value === 'new_identifier';
}

function isIdentifierType(value: string | undefined): value is IdentifierType {
  return value === 'email' || value === 'phone';
}

/** Turns a flat [field, value, …] reply into a map. */
export function pairs(flat: readonly string[]): Map<string, string> {
  const map = new Map<string, string>();
  for (let i = 0; i + 1 < flat.length; i += 2) map.set(flat[i] as string, flat[i + 1] as string);
  return map;
}

/** The record these fields describe, or null when they are not a well-formed record. */
export function parseFields(id: string, f: Map<string, string>): VerificationRecord | null {
  const userId = f.get('u');
  const method = f.get('m');
  const createdAt = epochMs(f.get('c'));
  const expiresAt = epochMs(f.get('e'));
  if (userId === undefined || !isMethod(method) || createdAt === undefined || expiresAt === undefined) return null;
  const sessionRef = f.get('sr');
  const actionRef = f.get('ar');
  const identifierType = f.get('it');
  const identifierValue = f.get('iv');
  if ((identifierType === undefined) !== (identifierValue === undefined)) return null;
  if (identifierType !== undefined && !isIdentifierType(identifierType)) return null;
  const identifier = identifierType !== undefined && identifierValue !== undefined ? { type: identifierType, value: identifierValue } : undefined;
  const base = {
    id,
    userId,
    ...(sessionRef !== undefined ? { sessionRef } : {}),
    ...(actionRef !== undefined ? { actionRef } : {}),
    createdAt,
    expiresAt,
  };
  switch (f.get('s')) {
    case 'pending': {
      const codeHash = f.get('ch');
      const attempts = f.get('a');
      if ((method !== 'email' && method !== 'phone') || identifier === undefined || identifier.type !== method) return null;
      if (codeHash === undefined || !HEX_HMAC.test(codeHash) || attempts === undefined || !SMALL_INT.test(attempts)) return null;
      return { ...base, status: 'pending', method, identifier, codeHash, attempts: Number(attempts) };
    }
    case 'verified': {
      const purpose = f.get('p');
      const verifiedAt = epochMs(f.get('v'));
      if (!isPurpose(purpose) || verifiedAt === undefined) return null;
      return { ...base, status: 'verified', method, purpose, ...(identifier !== undefined ? { identifier } : {}), verifiedAt };
    }
    default:
      return null;
  }
}
