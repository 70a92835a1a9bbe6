import { isBuiltInMethod, isMethodName, type BuiltInMethod, type Identifier, type RecordPurpose, type VerificationMethod, type VerificationRecord } from '../records';

/**
 * How a record is written into a Redis hash, and how it is read back. Reading parses and checks
 * every field into the `VerificationRecord` union: a hash that is not a well-formed record (written
 * by another version, or tampered with) reads as no record at all, never as a half-valid one.
 *
 * The encoding is compact, because a deployment keeps one hash per live record (≈ 190 B each in
 * Redis, see bench/memory.ts), and every field stays within Redis' `hash-max-listpack-value`
 * (64 bytes) so that the hash keeps its compact listpack encoding whatever the identifier's length:
 *
 * - `d` the kind and the times, `<kind><createdAt>:<expiresAt − createdAt>:<t>[:<verifiedAt − createdAt>]`,
 *   numbers in base 36: createdAt in epoch ms, then ms deltas, which may be negative (app instances'
 *   clocks differ a little); `t` is the Redis server time at creation, which revocation compares,
 *   written by the script as µs after createdAt (a few digits where clocks agree). The kind is the
 *   method's letter (`p` password, `e` email, `s` SMS/phone, `k` passkey, `t` TOTP, `c` an app's own
 *   method, whose name is then in `m`), upper case for a verified
 *   `new_identifier` record. A record is verified exactly when it has no code HMAC (`h`); its
 *   verifiedAt delta is left out when 0 (a password record).
 * - `h` the code HMAC and `a` the wrong attempts (pending records only; `a` absent means none yet),
 * - `s` the session ref and `x` the action ref (when bound),
 * - `i`, `i2`, … the identifier: its type letter and value, cut into pieces of at most 64 bytes
 *   (an email of 254 characters takes four).
 *
 * No user id is stored: the key is made from a hash of the user id (see RedisStore.keysFor), so a
 * record is only ever found under the user it was made for, and reads back with that user's id.
 */

/** Redis keeps a hash in its compact listpack encoding while every field and value is at most this long. */
export const LISTPACK_VALUE_BYTES = 64;
/** Identifier pieces at most (an email is at most 254 characters: its type letter and value fill 4 pieces of ASCII). */
const MAX_IDENTIFIER_PIECES = 16;

const METHOD_LETTER: Readonly<Record<BuiltInMethod, string>> = { password: 'p', email: 'e', phone: 's', passkey: 'k', totp: 't' };
const LETTER_METHOD: Readonly<Record<string, BuiltInMethod>> = { p: 'password', e: 'email', s: 'phone', k: 'passkey', t: 'totp' };
/** The kind letter of an app's own method, whose name is then in the `m` field. */
const OWN_METHOD_LETTER = 'c';

/** The kind letter of a method: a built-in method's own, `c` for an app's own. */
export const methodLetter = (method: VerificationMethod): string => (isBuiltInMethod(method) ? METHOD_LETTER[method] : OWN_METHOD_LETTER);

/** The hash field names an identifier's pieces are written under: `i`, `i2`, `i3`, `i4`. */
export const identifierField = (piece: number) => (piece === 0 ? 'i' : `i${piece + 1}`);

const b36 = (value: number) => value.toString(36);

function identifierFields(identifier: Identifier): string[] {
  const fields: string[] = [];
  let piece = '';
  // Cut at character boundaries (each piece is valid UTF-8 on its own), at most 64 bytes each.
  for (const char of `${METHOD_LETTER[identifier.type]}${identifier.value}`) {
    if (Buffer.byteLength(piece + char) > LISTPACK_VALUE_BYTES) {
      fields.push(identifierField(fields.length / 2), piece);
      piece = '';
    }
    piece += char;
  }
  fields.push(identifierField(fields.length / 2), piece);
  if (fields.length / 2 > MAX_IDENTIFIER_PIECES) throw new TypeError('RedisStore: an identifier is at most 1000 bytes');
  return fields;
}

function ref(name: string, value: string): string {
  if (value.length === 0 || Buffer.byteLength(value) > LISTPACK_VALUE_BYTES) throw new TypeError(`RedisStore: ${name} is 1 to 64 bytes`);
  return value;
}

/** The `d` field without `t` (which the create script appends from the server clock). */
export function timesField(record: VerificationRecord): { head: string; tail: string } {
  const letter = methodLetter(record.method);
  const kind = record.status === 'verified' && record.purpose === 'new_identifier' ? letter.toUpperCase() : letter;
  for (const at of [record.createdAt, record.expiresAt, ...(record.status === 'verified' ? [record.verifiedAt] : [])]) {
    if (!Number.isSafeInteger(at) || at < 0) throw new TypeError('RedisStore: times are whole epoch milliseconds');
  }
  const head = `${kind}${b36(record.createdAt)}:${b36(record.expiresAt - record.createdAt)}:`;
  if (record.status === 'pending' || record.verifiedAt === record.createdAt) return { head, tail: '' };
  return { head, tail: `:${b36(record.verifiedAt - record.createdAt)}` };
}

/** The hash fields of a record, but `d` (see timesField). */
export function toFields(record: VerificationRecord): string[] {
  const fields: string[] = [];
  if (!isBuiltInMethod(record.method)) {
    if (!isMethodName(record.method)) throw new TypeError('RedisStore: a method name is 1 to 32 lower-case letters, digits, _ or -');
    fields.push('m', record.method);
  }
  if (record.sessionRef !== undefined) fields.push('s', ref('sessionRef', record.sessionRef));
  if (record.actionRef !== undefined) fields.push('x', ref('actionRef', record.actionRef));
  if (record.identifier !== undefined) fields.push(...identifierFields(record.identifier));
  if (record.status === 'pending') {
    fields.push('h', ref('codeHash', record.codeHash));
    if (!Number.isSafeInteger(record.attempts) || record.attempts < 0) throw new TypeError('RedisStore: attempts is a whole number');
    if (record.attempts > 0) fields.push('a', String(record.attempts));
  }
  return fields;
}

/** Deltas may be negative: app instances whose clocks differ a little may create and verify one record. */
const TIMES = /^([pesktcPES])([0-9a-z]{1,11}):(-?[0-9a-z]{1,11}):(-?[0-9a-z]{1,13})(?::(-?[0-9a-z]{1,11}))?$/;
const SMALL_INT = /^[1-9]\d{0,5}$/;
const KNOWN_FIELDS = new Set(['d', 'h', 'a', 'm', 's', 'x', ...Array.from({ length: MAX_IDENTIFIER_PIECES }, (_, piece) => identifierField(piece))]);

/** A base-36 number that is a safe integer, or undefined. */
function fromB36(text: string): number | undefined {
  const value = parseInt(text, 36);
  return Number.isSafeInteger(value) ? value : undefined;
}

/**
 * Whether a record whose `d` field holds `created` (epoch ms) and `stamp` (the server time at
 * creation, µs after createdAt) was made after the revocation mark `revokedAt` (µs). Both are
 * below 2⁵³ until the year 2255, so the arithmetic is exact. Written as the condition to pass.
 */
function madeAfter(created: string, stamp: string, revokedAt: string): boolean {
  const createdAt = fromB36(created);
  const after = fromB36(stamp);
  const mark = /^\d{1,16}$/.test(revokedAt) ? Number(revokedAt) : Number.NaN;
  return createdAt !== undefined && after !== undefined && createdAt * 1000 + after > mark;
}

/** Turns a flat [field, value, …] reply into a map. */
export function pairs(flat: readonly string[]): Map<string, string> {
  const map = new Map<string, string>();
  for (let i = 0; i + 1 < flat.length; i += 2) map.set(flat[i] as string, flat[i + 1] as string);
  return map;
}

function parseIdentifier(f: Map<string, string>): Identifier | undefined | null {
  let text = '';
  let piece = 0;
  for (; piece < MAX_IDENTIFIER_PIECES && f.has(identifierField(piece)); piece += 1) {
    const value = f.get(identifierField(piece)) as string;
    if (value.length === 0 || Buffer.byteLength(value) > LISTPACK_VALUE_BYTES) return null;
    text += value;
  }
  for (let rest = piece; rest < MAX_IDENTIFIER_PIECES; rest += 1) if (f.has(identifierField(rest))) return null;
  if (piece === 0) return undefined;
  const type = LETTER_METHOD[text[0] as string];
  const value = text.slice(1);
  if ((type !== 'email' && type !== 'phone') || value.length === 0) return null;
  return { type, value };
}

/**
 * The record of `userId` these fields describe, or null when they are not a well-formed record, or
 * when `revokedAt` (the user's revocation mark as Redis keeps it: server time in µs) is given and
 * the record was not made after it (as the scripts' readLive decides; a malformed mark revokes all).
 */
export function parseFields(id: string, userId: string, f: Map<string, string>, revokedAt?: string | null): VerificationRecord | null {
  for (const field of f.keys()) if (!KNOWN_FIELDS.has(field)) return null;
  const times = TIMES.exec(f.get('d') ?? '');
  if (times === null) return null;
  const [, kind, created, ttl, stamp, verified] = times as unknown as [string, string, string, string, string, string | undefined];
  if (revokedAt !== undefined && revokedAt !== null && !madeAfter(created, stamp, revokedAt)) return null;
  const own = f.get('m');
  // An app's own method carries its name; a built-in one carries none.
  const method: VerificationMethod | undefined = kind === OWN_METHOD_LETTER ? (isMethodName(own) && !isBuiltInMethod(own) ? own : undefined) : own === undefined ? LETTER_METHOD[kind.toLowerCase()] : undefined;
  if (method === undefined) return null;
  const createdAt = fromB36(created);
  const lifetime = fromB36(ttl);
  if (createdAt === undefined || lifetime === undefined || !Number.isSafeInteger(createdAt + lifetime)) return null;
  const identifier = parseIdentifier(f);
  if (identifier === null) return null;
  const sessionRef = f.get('s');
  const actionRef = f.get('x');
  const base = {
    id,
    userId,
    ...(sessionRef !== undefined ? { sessionRef } : {}),
    ...(actionRef !== undefined ? { actionRef } : {}),
    createdAt,
    expiresAt: createdAt + lifetime,
  };
  const codeHash = f.get('h');
  if (codeHash !== undefined) {
    const attempts = f.get('a');
    if (verified !== undefined || kind !== kind.toLowerCase() || (method !== 'email' && method !== 'phone')) return null;
    if (identifier === undefined || identifier.type !== method || codeHash.length === 0) return null;
    if (attempts !== undefined && !SMALL_INT.test(attempts)) return null;
    return { ...base, status: 'pending', method: identifier.type, identifier, codeHash, attempts: attempts === undefined ? 0 : Number(attempts) };
  }
  const verifiedAfter = verified === undefined ? 0 : fromB36(verified);
  if (verifiedAfter === undefined || f.has('a') || !Number.isSafeInteger(createdAt + verifiedAfter)) return null;
  const purpose: RecordPurpose = kind === kind.toUpperCase() ? 'new_identifier' : 'identity';
  return {
    ...base,
    status: 'verified',
    method,
    purpose,
    ...(identifier !== undefined ? { identifier } : {}),
    verifiedAt: createdAt + verifiedAfter,
  };
}
