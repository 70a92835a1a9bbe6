import { isBuiltInMethod, isMethodName, type BuiltInMethod, type Identifier, type PendingCodeRecord, type VerificationMethod, type VerificationRecord, type VerifiedRecord } from '../records';

/**
 * How a record is written into a Redis hash, and how it is read back. Reading parses and checks
 * every field into the `VerificationRecord` union: a hash that is not a well-formed record (written
 * by another version, or tampered with) reads as no record at all, never as a half-valid one.
 *
 * A deployment keeps one hash per live record, so the encoding is binary and packed: a verified
 * record bound to a session and an action is one 52-byte field, which keeps the whole hash in
 * Redis' 64-byte allocation class (≈ 197 B of `used_memory` per record with the default prefix,
 * bench/redis-memory.ts), and every field stays within `hash-max-listpack-value` (64 bytes) so that
 * the hash keeps its compact listpack encoding whatever the identifier's length. Fields:
 *
 * - `d` (binary, big-endian): the kind letter (the method's: `p` password, `e` email, `s` SMS/phone,
 *   `k` passkey, `t` TOTP, `c` an app's own method, whose name is then in `m`; upper case for a
 *   verified `new_identifier` record), a flags byte (1: bound to a session, 2: bound to an action,
 *   4: holds an identifier ref), createdAt (epoch ms, 6 bytes), expiresAt − createdAt (ms, signed
 *   4 bytes), the Redis server time at creation as µs after createdAt (signed 4 bytes, written by
 *   the create script; revocation compares it), then on a verified record verifiedAt − createdAt
 *   (ms, signed 4 bytes), then the 16 bytes of the session ref, of the action ref and of the
 *   identifier ref, each when present (a pending record always has the identifier ref, never the
 *   identifier). Deltas may be negative: app instances' clocks differ a little. A record is
 *   verified exactly when it has no code HMAC (`h`).
 * - `h` the code HMAC's 16 bytes and `a` the wrong attempts (pending records only; `a` absent means none yet),
 * - `m` the name of an app's own method,
 * - `i`, `i2`, … the identifier of a verified identity record (`req.verification.identifier`): its
 *   type letter and value (UTF-8), cut into pieces of at most 64 bytes (an email of 254 characters
 *   takes four). Pending and new-identifier records keep only the identifier's keyed hash.
 *
 * Session, action and identifier refs and code HMACs are 128-bit values the service makes (22
 * base64url characters); the store keeps their 16 bytes and refuses any other value rather than guess.
 *
 * No user id is stored: the key is made from a hash of the user id (see RedisStore.keysFor), so a
 * record is only ever found under the user it was made for, and reads back with that user's id.
 */

/** Redis keeps a hash in its compact listpack encoding while every field and value is at most this long. */
export const LISTPACK_VALUE_BYTES = 64;
/** Identifier pieces at most (an email is at most 254 characters: its type letter and value fill 4 pieces of ASCII). */
export const MAX_IDENTIFIER_PIECES = 16;

const METHOD_LETTER: Readonly<Record<BuiltInMethod, string>> = { password: 'p', email: 'e', phone: 's', passkey: 'k', totp: 't' };
const LETTER_METHOD: Readonly<Record<string, BuiltInMethod>> = { p: 'password', e: 'email', s: 'phone', k: 'passkey', t: 'totp' };
/** The kind letter of an app's own method, whose name is then in the `m` field. */
const OWN_METHOD_LETTER = 'c';
/** Kind letters a record may carry: any method's, upper case only for a new identifier (a code to an email or phone). */
export const KIND_LETTERS = 'pesktcES';

/** Byte offsets in `d`. */
const CREATED_AT = 2;
const LIFETIME = 8;
const STAMP = 12;
const VERIFIED_AFTER = 16;
/** `d` before its optional parts: kind, flags, createdAt, lifetime, server stamp. */
const PENDING_HEAD_BYTES = 16;
const REF_BYTES = 16;
const SESSION_BOUND = 1;
const ACTION_BOUND = 2;
const IDENTIFIER_REF = 4;
const INT32_MIN = -(2 ** 31);
const INT32_MAX = 2 ** 31 - 1;
const UINT48_MAX = 2 ** 48 - 1;

/** The kind letter of a method: a built-in method's own, `c` for an app's own. */
export const methodLetter = (method: VerificationMethod): string => (isBuiltInMethod(method) ? METHOD_LETTER[method] : OWN_METHOD_LETTER);

/** The hash field names an identifier's pieces are written under: `i`, `i2`, `i3`, `i4`. */
const identifierField = (piece: number) => (piece === 0 ? 'i' : `i${piece + 1}`);

/** An identifier as an identity record keeps it: its type letter and value. */
const identifierText = (identifier: Identifier) => `${METHOD_LETTER[identifier.type]}${identifier.value}`;

/**
 * The 16 bytes of a 128-bit ref (session, action, code HMAC) written in base64url, as the scripts
 * keep and compare them. Anything else is refused: a value that does not round-trip is not one the
 * service made.
 */
export function refBytes(name: string, ref: string): Buffer {
  const bytes = Buffer.from(ref, 'base64url');
  if (bytes.length !== REF_BYTES || bytes.toString('base64url') !== ref) throw new TypeError(`RedisStore: ${name} is 128 bits in base64url (22 characters)`);
  return bytes;
}

/** A requester's or request's ref as a script argument: its 16 bytes, or '' for none. */
export const refArgument = (name: string, ref: string | undefined): Buffer | string => (ref === undefined ? '' : refBytes(name, ref));

/** The identifier of an identity record as hash fields (`i`, `i2`, …): the code script writes them when the code matches. */
export function identifierFields(identifier: Identifier): string[] {
  const fields: string[] = [];
  let piece = '';
  // Cut at character boundaries (each piece is valid UTF-8 on its own), at most 64 bytes each.
  for (const char of identifierText(identifier)) {
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

function int32(name: string, value: number): number {
  if (!Number.isSafeInteger(value) || value < INT32_MIN || value > INT32_MAX) throw new TypeError(`RedisStore: ${name} is whole milliseconds within ±24 days`);
  return value;
}

/**
 * The `d` field around the server stamp, which the create script writes between the two (it reads
 * the Redis clock): head = kind, flags, createdAt, lifetime; tail = verifiedAt delta and refs.
 */
export function dataField(record: VerificationRecord): { head: Buffer; tail: Buffer } {
  const letter = methodLetter(record.method);
  const newIdentifier = record.status === 'verified' && record.purpose === 'new_identifier';
  // Only a code to an email or a phone proves a new identifier; anything else would never read back.
  if (newIdentifier && letter !== 'e' && letter !== 's') throw new TypeError('RedisStore: a new-identifier record is of method email or phone');
  const kind = newIdentifier ? letter.toUpperCase() : letter;
  if (!Number.isSafeInteger(record.createdAt) || record.createdAt < 0 || record.createdAt > UINT48_MAX) {
    throw new TypeError('RedisStore: times are whole epoch milliseconds');
  }
  const head = Buffer.alloc(STAMP);
  head.write(kind, 0, 'latin1');
  const identifierRef = record.identifierRef;
  head[1] = (record.sessionRef !== undefined ? SESSION_BOUND : 0) | (record.actionRef !== undefined ? ACTION_BOUND : 0) | (identifierRef !== undefined ? IDENTIFIER_REF : 0);
  head.writeUIntBE(record.createdAt, CREATED_AT, 6);
  head.writeInt32BE(int32('expiresAt − createdAt', record.expiresAt - record.createdAt), LIFETIME);
  const tail: Buffer[] = [];
  if (record.status === 'verified') {
    const after = Buffer.alloc(4);
    after.writeInt32BE(int32('verifiedAt − createdAt', record.verifiedAt - record.createdAt));
    tail.push(after);
  }
  if (record.sessionRef !== undefined) tail.push(refBytes('sessionRef', record.sessionRef));
  if (record.actionRef !== undefined) tail.push(refBytes('actionRef', record.actionRef));
  if (identifierRef !== undefined) tail.push(refBytes('identifierRef', identifierRef));
  return { head, tail: Buffer.concat(tail) };
}

/** The hash fields of a record, but `d` (see dataField). */
export function otherFields(record: VerificationRecord): Array<string | Buffer> {
  const fields: Array<string | Buffer> = [];
  if (!isBuiltInMethod(record.method)) {
    if (!isMethodName(record.method)) throw new TypeError('RedisStore: a method name is 1 to 32 lower-case letters, digits, _ or -');
    fields.push('m', record.method);
  }
  if (record.status === 'verified' && record.identifier !== undefined) fields.push(...identifierFields(record.identifier));
  if (record.status === 'pending') {
    fields.push('h', refBytes('codeHash', record.codeHash));
    if (!Number.isSafeInteger(record.attempts) || record.attempts < 0) throw new TypeError('RedisStore: attempts is a whole number');
    if (record.attempts > 0) fields.push('a', String(record.attempts));
  }
  return fields;
}

const SMALL_INT = /^[1-9]\d{0,5}$/;
const REVOCATION_MARK = /^\d{1,16}$/;

/** The fields of a hash as the scripts return them (HGETALL: field, value, …), by name. */
interface RawFields {
  d?: Buffer;
  h?: Buffer;
  a?: Buffer;
  m?: Buffer;
  /** Identifier pieces, by index (i → 0, i2 → 1, …). */
  pieces: Buffer[];
}

/** Shared by every record without an identifier (never written to: rawFields makes its own array for pieces). */
const NO_PIECES: Buffer[] = [];
Object.freeze(NO_PIECES);
/** The one-letter field names by their byte: `d`, `h`, `a`, `m` (`i` is an identifier piece). */
const SINGLE_FIELDS: Partial<Record<number, 'd' | 'h' | 'a' | 'm'>> = { 0x64: 'd', 0x68: 'h', 0x61: 'a', 0x6d: 'm' };

/** The index of an identifier piece's field name (`i` 0, `i2` 1, … `i16` 15), or -1. */
function pieceIndex(name: string): number {
  if (name === 'i') return 0;
  if (!/^i(?:[2-9]|1[0-6])$/.test(name)) return -1;
  return Number(name.slice(1)) - 1;
}

/** Sorts a flat reply into fields; null when it holds a field this version never writes (or one twice). */
function rawFields(flat: readonly Buffer[]): RawFields | null {
  const fields: RawFields = { pieces: NO_PIECES };
  for (let i = 0; i + 1 < flat.length; i += 2) {
    const nameBytes = flat[i] as Buffer;
    const value = flat[i + 1] as Buffer;
    // One-letter names compared as bytes: no string made for them.
    const single = nameBytes.length === 1 ? SINGLE_FIELDS[nameBytes[0] as number] : undefined;
    if (single !== undefined) {
      if (fields[single] !== undefined) return null;
      fields[single] = value;
      continue;
    }
    if (fields.pieces === NO_PIECES) fields.pieces = [];
    const piece = pieceIndex(nameBytes.toString('latin1'));
    if (piece < 0 || fields.pieces[piece] !== undefined) return null;
    fields.pieces[piece] = value;
  }
  return fields;
}

function parseIdentifier(pieces: readonly Buffer[]): Identifier | undefined | null {
  if (pieces.length === 0) return undefined;
  // The first piece holds the type letter and at least one byte of the value, as the scripts check ('^[es].'):
  // a record one side reads the other refuses would pass a reusable guard but never a single-use one.
  if ((pieces[0]?.length ?? 0) < 2) return null;
  let text = '';
  for (const piece of pieces) {
    // A gap (a piece without the ones before it) or an empty or oversized piece is no identifier.
    if (piece === undefined || piece.length === 0 || piece.length > LISTPACK_VALUE_BYTES) return null;
    text += piece.toString('utf8');
  }
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
export function parseRecord(id: string, userId: string, flat: readonly Buffer[], revokedAt?: Buffer | null): VerificationRecord | null {
  const f = rawFields(flat);
  const d = f?.d;
  if (f === null || d === undefined || d.length < PENDING_HEAD_BYTES) return null;
  const kind = String.fromCharCode(d[0] as number);
  const flags = d[1] as number;
  if (!KIND_LETTERS.includes(kind) || flags > (SESSION_BOUND | ACTION_BOUND | IDENTIFIER_REF)) return null;
  const pending = f.h !== undefined;
  const refsAt = pending ? PENDING_HEAD_BYTES : VERIFIED_AFTER + 4;
  const refCount = (flags & SESSION_BOUND ? 1 : 0) + (flags & ACTION_BOUND ? 1 : 0) + (flags & IDENTIFIER_REF ? 1 : 0);
  if (d.length !== refsAt + refCount * REF_BYTES) return null;
  const createdAt = d.readUIntBE(CREATED_AT, 6);
  const expiresAt = createdAt + d.readInt32BE(LIFETIME);
  if (revokedAt !== undefined && revokedAt !== null) {
    // Both sides are below 2⁵³ until the year 2255, so the arithmetic is exact. Written as the condition to pass.
    const mark = revokedAt.toString('latin1');
    if (!(REVOCATION_MARK.test(mark) && createdAt * 1000 + d.readInt32BE(STAMP) > Number(mark))) return null;
  }
  const own = f.m?.toString('latin1');
  // An app's own method carries its name; a built-in one carries none.
  const method: VerificationMethod | undefined =
    kind === OWN_METHOD_LETTER ? (isMethodName(own) && !isBuiltInMethod(own) ? own : undefined) : own === undefined ? LETTER_METHOD[kind.toLowerCase()] : undefined;
  if (method === undefined) return null;
  const identifier = parseIdentifier(f.pieces);
  if (identifier === null) return null;
  let at = refsAt;
  const sessionRef = flags & SESSION_BOUND ? d.toString('base64url', at, (at += REF_BYTES)) : undefined;
  const actionRef = flags & ACTION_BOUND ? d.toString('base64url', at, (at += REF_BYTES)) : undefined;
  const identifierRef = flags & IDENTIFIER_REF ? d.toString('base64url', at, at + REF_BYTES) : undefined;
  // An identifier is kept in clear, or as its hash, never both.
  if (identifier !== undefined && identifierRef !== undefined) return null;
  if (f.h !== undefined) {
    const attempts = f.a?.toString('latin1');
    // A code went to an email (`e`) or a phone (`s`).
    const channel = kind === 'e' ? 'email' : kind === 's' ? 'phone' : undefined;
    if (channel === undefined || identifierRef === undefined || f.h.length !== REF_BYTES) return null;
    if (attempts !== undefined && !SMALL_INT.test(attempts)) return null;
    const pending: Mutable<PendingCodeRecord> = {
      id,
      userId,
      createdAt,
      expiresAt,
      status: 'pending',
      method: channel,
      identifierRef,
      codeHash: f.h.toString('base64url'),
      attempts: attempts === undefined ? 0 : Number(attempts),
    };
    if (sessionRef !== undefined) pending.sessionRef = sessionRef;
    if (actionRef !== undefined) pending.actionRef = actionRef;
    return pending;
  }
  if (f.a !== undefined) return null;
  // Set field by field (the guard parses one record per request): no spread objects.
  const verified: Mutable<VerifiedRecord> = {
    id,
    userId,
    createdAt,
    expiresAt,
    status: 'verified',
    method,
    purpose: kind === kind.toUpperCase() ? 'new_identifier' : 'identity',
    verifiedAt: createdAt + d.readInt32BE(VERIFIED_AFTER),
  };
  if (sessionRef !== undefined) verified.sessionRef = sessionRef;
  if (actionRef !== undefined) verified.actionRef = actionRef;
  if (identifier !== undefined) verified.identifier = identifier;
  if (identifierRef !== undefined) verified.identifierRef = identifierRef;
  return verified;
}

type Mutable<T> = { -readonly [K in keyof T]: T[K] };
