/**
 * Lua scripts of the Redis store. Each touches one record key and its user's revocation mark,
 * which share a hash slot (`{<tag>}`, from the user id), so each runs atomically and works on Redis Cluster.
 *
 * Keys: KEYS[1] the record `<prefix>{<tag>}<hash of the user and the id>`, KEYS[2] the user's revocation
 * mark `<prefix>{<tag>}:rv:<hash of the user>` (the Redis server time, µs, of the user's last revokeAll).
 * Record fields: see lib/stores/redis-record-fields.ts. The key is made from the user id, so a
 * record found at all is the requester's: the scripts do not compare a user id.
 *
 * The conditions mirror lib/records.ts (guardVerdict, isRedeemable, codeCheckPrecondition); the
 * store contract suite runs the same cases against the memory store (which calls those functions)
 * and this one. Every condition is written as the condition to pass, with `or` defaults that fail,
 * so a missing or malformed field never passes (and never raises a script error).
 */

import { BUILT_IN_METHODS } from '../records';
import { KIND_LETTERS, LISTPACK_VALUE_BYTES, MAX_IDENTIFIER_PIECES } from './redis-record-fields';

/** The range of the 4-byte signed deltas a record keeps (its lifetime, server stamp and verifiedAt). */
const INT32 = `
local INT32 = 2147483647
`;

/** The Redis server time in µs (CREATE, PUT_CHALLENGE and REVOKE stamp what they write with it). */
const SERVER_TIME = `
local function server_time_us()
  local t = redis.call('TIME')
  return tonumber(t[1]) * 1000000 + tonumber(t[2])
end
`;

/**
 * The record's `d` field (see redis-record-fields.ts) parsed: { kind, flags, created, expires, t,
 * after, s, x, i }, or nil when it is not well formed. `t` is the server time (µs) at creation;
 * `after` (verified records) verifiedAt − createdAt; `s`, `x` and `i` the session, action and
 * identifier refs' 16 bytes when present. struct is Redis' Lua library for binary fields.
 *
 * A script's locals are made anew on every call (EVALSHA runs the whole body), so these helpers
 * build no lookup tables: the known kinds and field names are matched with string.find and
 * comparisons. Building the tables (the field names `i2` … `i16` concatenated on every call) took
 * most of the consuming guard check's Redis CPU: 13.8 µs per call, 6.6 µs without them (medians,
 * measured alone on a private redis-server with bench/lua-cost.ts). The kind letters, built-in
 * method names and identifier bounds come from redis-record-fields.ts and records.ts, which the
 * TypeScript parser uses: one list each for both readers.
 */
const RECORD_HELPERS = `${INT32}
local function times(d, pending)
  if d == nil or #d < 16 then return nil end
  -- createdAt's 6 bytes as 2 + 4: struct's integers are C longs, 32 bits on some Redis builds.
  local kind, flags, high, low, lifetime, stamp = struct.unpack('>c1BI2I4i4i4', d)
  local created = high * 4294967296 + low
  -- Any method's kind letter, upper case for a new-identifier record.
  if flags > 7 or not string.find('${KIND_LETTERS}', kind, 1, true) then return nil end
  local at = 17
  if not pending then at = 21 end
  local s_bound, x_bound, i_ref = flags % 2 == 1, flags % 4 >= 2, flags >= 4
  local refs = 0
  if s_bound then refs = refs + 16 end
  if x_bound then refs = refs + 16 end
  if i_ref then refs = refs + 16 end
  if #d ~= at - 1 + refs then return nil end
  local r = { kind = kind, flags = flags, created = created, expires = created + lifetime, t = created * 1000 + stamp }
  if not pending then r.after = struct.unpack('>i4', d, 17) end
  if s_bound then r.s = string.sub(d, at, at + 15); at = at + 16 end
  if x_bound then r.x = string.sub(d, at, at + 15); at = at + 16 end
  if i_ref then r.i = string.sub(d, at, at + 15) end
  return r
end
-- The structure redis-record-fields.ts parses: known fields only (d h a m, and the identifier's
-- pieces i, i2 … i16), a 16-byte code HMAC exactly when pending, attempts only on a pending record,
-- identifier pieces without gaps (the first starting with a type letter, each 1 to 64 bytes), an
-- identifier kept in clear or as its hash but not both, and as its hash on a pending record.
local function well_formed(f, r)
  local pieces, last = 0, 0
  for field, value in pairs(f) do
    if field ~= 'd' and field ~= 'h' and field ~= 'a' and field ~= 'm' then
      local n = 1
      if field ~= 'i' then n = tonumber(string.match(field, '^i([1-9][0-9]?)$')) end
      if n == nil or n == 1 and field ~= 'i' or n > ${MAX_IDENTIFIER_PIECES} then return false end
      if #value > ${LISTPACK_VALUE_BYTES} or (n > 1 and #value == 0) then return false end
      pieces = pieces + 1
      if n > last then last = n end
    end
  end
  -- Pieces 1 … last all present: no gap.
  if pieces ~= last then return false end
  -- A code HMAC only on an email or phone code; a method name exactly on an app's own method, never a built-in one's.
  if f.h ~= nil and ((r.kind ~= 'e' and r.kind ~= 's') or #f.h ~= 16) then return false end
  if (f.m ~= nil) ~= (r.kind == 'c') then return false end
  local m = f.m
  if m ~= nil and (#m > 32 or not string.match(m, '^[a-z][a-z0-9_-]*$')
    or ${BUILT_IN_METHODS.map((method) => `m == '${method}'`).join(' or ')}) then return false end
  if f.a ~= nil and (f.h == nil or not string.match(f.a, '^[1-9][0-9]*$')) then return false end
  if f.i ~= nil and r.i ~= nil then return false end
  if f.h ~= nil and r.i == nil then return false end
  if f.i ~= nil and not string.match(f.i, '^[es].') then return false end
  return true
end
`;

/**
 * Reads the record into `f` (and `flat`) and its times into `r`; a missing or malformed record,
 * or one made before the user's last revocation (deleted on sight), runs `onMissing`.
 */
const readLive = (onMissing: string) => `${RECORD_HELPERS}
local flat = redis.call('HGETALL', KEYS[1])
if #flat == 0 then ${onMissing} end
local f = {}
for i = 1, #flat, 2 do f[flat[i]] = flat[i + 1] end
local r = times(f.d, f.h ~= nil)
if r == nil or not well_formed(f, r) then ${onMissing} end
-- A record without a code HMAC is verified: verifiedAt is createdAt plus its delta.
if f.h == nil then r.verified = r.created + r.after end
local revoked_at = redis.call('GET', KEYS[2])
if revoked_at and not (r.t > (tonumber(revoked_at) or math.huge)) then
  redis.call('DEL', KEYS[1])
  ${onMissing}
end
`;

/**
 * create. ARGV: expiresAt (epoch ms), createdAt (epoch ms), the `d` field before and after its
 * server stamp (added here: the server time, µs after createdAt), then field/value pairs. A record
 * replaces whatever was at its key. An app clock more than 35 minutes away from Redis' does not fit
 * the stamp: the create fails (the caller answers 503) rather than write a record revocation could miss.
 */
export const CREATE = `${SERVER_TIME}${INT32}
local stamp = server_time_us() - tonumber(ARGV[2]) * 1000
if not (stamp >= -INT32 and stamp <= INT32) then
  return redis.error_reply('ERR step-up: the app clock and the Redis clock differ by more than 35 minutes')
end
redis.call('DEL', KEYS[1])
redis.call('HSET', KEYS[1], 'd', ARGV[3] .. struct.pack('>i4', stamp) .. ARGV[4], unpack(ARGV, 5))
redis.call('PEXPIREAT', KEYS[1], ARGV[1])
return 1
`;

/**
 * get / the guard on reusable routes: the record's fields as they are and the user's revocation
 * mark, read in one atomic step and returned, { flat fields, mark or nil }. Nothing is decided
 * here: the store parses and checks every field and compares the revocation in TypeScript
 * (parseFields), which it does anyway. A read that decides nothing keeps the script to its two
 * calls, the least Redis CPU per guard check (the Lua parsing of the other scripts cost the
 * guard about a tenth of its throughput on a 2-core machine, bench/ side by side).
 */
export const READ = `
return { redis.call('HGETALL', KEYS[1]), redis.call('GET', KEYS[2]) }
`;

/**
 * checkForGuard with consume. ARGV: now, minVerifiedAt, the allowed built-in methods' letters (e.g.
 * 'pes'), the requester's session ref (16 bytes, '' for none), the request's action ref (16 bytes, '' for none), the
 * allowed methods of the app's own as ',name,name,' (',' for none).
 * Returns { consumed (0/1), flat fields } or nil. An identity record has a lower-case kind.
 */
export const CHECK_AND_CONSUME = `${readLive('return nil')}
local now = tonumber(ARGV[1])
local method_ok
if r.kind == 'c' then
  method_ok = string.find(ARGV[6], ',' .. f.m .. ',', 1, true) ~= nil
else
  method_ok = string.find('peskt', r.kind, 1, true) ~= nil and string.find(ARGV[3], r.kind, 1, true) ~= nil
end
local ok = f.h == nil and r.verified ~= nil and r.verified >= tonumber(ARGV[2]) and r.expires > now
  and method_ok and (r.s == nil or r.s == ARGV[4]) and (r.x or '') == ARGV[5]
if ok then
  redis.call('DEL', KEYS[1])
  return { 1, flat }
end
return { 0, flat }
`;

/**
 * checkCode. ARGV: now, the identifier's ref (16 bytes), candidate HMAC (16 bytes), max attempts,
 * record TTL ms, the requester's session ref (16 bytes, '' for none), the purpose the verified record gets
 * ('identity' or 'new_identifier'; its kind is the method's letter, upper case for a new identifier),
 * the identifier's type letter, then for an identity record the identifier's fields (`i`, value, …)
 * it keeps in place of the ref.
 * Returns { outcome, extra }: the verified record's fields after 'verified', the remaining
 * attempts after 'code_mismatch'.
 * The HMACs are compared with an XOR accumulator over every byte, so the time taken does not
 * depend on where they differ (Lua has no constant-time compare).
 */
export const CHECK_CODE = `${readLive("return { 'not_found' }")}
local now = tonumber(ARGV[1])
if not (f.h ~= nil and r.verified == nil and (r.s == nil or r.s == ARGV[6]) and r.expires > now) then
  return { 'not_found' }
end
if not (r.i == ARGV[2] and r.kind == ARGV[8]) then return { 'identifier_mismatch' } end
local purpose = ARGV[7]
if purpose ~= 'identity' and purpose ~= 'new_identifier' then return { 'not_found' } end
local max = tonumber(ARGV[4])
local attempts = tonumber(f.a or '0') or max
if not (attempts < max) then return { 'exceed_max_try' } end
local stored, candidate = f.h, ARGV[3]
local diff = 0
if #stored ~= #candidate then diff = 1 end
for i = 1, #stored do
  diff = bit.bor(diff, bit.bxor(string.byte(stored, i), string.byte(candidate, i) or 0))
end
if diff == 0 then
  local expires = now + tonumber(ARGV[5])
  local lifetime, after = expires - r.created, now - r.created
  if not (lifetime >= -INT32 and lifetime <= INT32 and after >= -INT32 and after <= INT32) then return { 'not_found' } end
  -- An identity record keeps the session and action refs (the identifier comes in ARGV); a new-identifier
  -- record, which is redeemed and never passes a guard, the session's and the identifier's (as verifiedFromCode).
  local kind, flags, refs = r.kind, 0, ''
  if r.s ~= nil then flags, refs = 1, r.s end
  if purpose == 'new_identifier' then
    kind = string.upper(kind)
    flags, refs = flags + 4, refs .. r.i
  elseif r.x ~= nil then
    flags, refs = flags + 2, refs .. r.x
  end
  local d = f.d
  redis.call('HDEL', KEYS[1], 'h', 'a')
  -- d as a verified record: the new kind, flags and lifetime, verifiedAt's delta inserted before the refs.
  redis.call('HSET', KEYS[1], 'd', kind .. string.char(flags) .. string.sub(d, 3, 8) .. struct.pack('>i4', lifetime) .. string.sub(d, 13, 16)
    .. struct.pack('>i4', after) .. refs, unpack(ARGV, 9))
  redis.call('PEXPIREAT', KEYS[1], expires)
  return { 'verified', redis.call('HGETALL', KEYS[1]) }
end
attempts = redis.call('HINCRBY', KEYS[1], 'a', 1)
if attempts >= max then return { 'exceed_max_try' } end
return { 'code_mismatch', tostring(max - attempts) }
`;

/**
 * redeem. ARGV: now, the identifier's ref (16 bytes), the requester's session ref (16 bytes, '' for none).
 * Returns flat fields or nil. A new-identifier record has an upper-case kind.
 */
export const REDEEM = `${readLive('return nil')}
if f.h == nil and r.verified ~= nil and string.find('PES', r.kind, 1, true) ~= nil and (r.s == nil or r.s == ARGV[3])
  and r.expires > tonumber(ARGV[1]) and r.i == ARGV[2] then
  redis.call('DEL', KEYS[1])
  return flat
end
return nil
`;

/**
 * putChallenge. KEYS[1] the challenge `<prefix>{<tag>}:c:<hash of the user and the id>`. ARGV: expiresAt
 * (epoch ms), the value. Kept as '<server time µs>:<value>', so revocation can be compared.
 */
export const PUT_CHALLENGE = `${SERVER_TIME}
redis.call('SET', KEYS[1], string.format('%.0f', server_time_us()) .. ':' .. ARGV[2])
redis.call('PEXPIREAT', KEYS[1], ARGV[1])
return 1
`;

/**
 * readChallenge. KEYS[1] the challenge, KEYS[2] the user's revocation mark. ARGV: '1' to consume.
 * Returns the value, or nil when there is none, it is malformed, or it was made before the user's
 * last revocation (deleted on sight).
 */
export const READ_CHALLENGE = `
local kept = redis.call('GET', KEYS[1])
if not kept then return nil end
local stamp, value = string.match(kept, '^([0-9]+):(.*)$')
local revoked_at = redis.call('GET', KEYS[2])
if stamp == nil or (revoked_at and not (tonumber(stamp) > (tonumber(revoked_at) or math.huge))) then
  redis.call('DEL', KEYS[1])
  return nil
end
if ARGV[1] == '1' then redis.call('DEL', KEYS[1]) end
return value
`;

/**
 * useTotpStep. KEYS[1] the user's last used step `<prefix>{<tag>}:ts:<hash of the user>`. ARGV: the step, the
 * mark's expiry (epoch ms). 1 when the step is later than the last one used (now marked), else 0.
 */
export const USE_TOTP_STEP = `
local step = tonumber(ARGV[1])
local last = tonumber(redis.call('GET', KEYS[1]) or '')
if last and not (step > last) then return 0 end
redis.call('SET', KEYS[1], ARGV[1])
redis.call('PEXPIREAT', KEYS[1], ARGV[2])
return 1
`;

/**
 * revokeAll. KEYS[1] the revocation mark. ARGV: horizon ms. Sets the mark to the server time
 * (never moving it back), kept at least as long as any record it covers can live.
 */
export const REVOKE = `${SERVER_TIME}
local now = server_time_us()
local current = tonumber(redis.call('GET', KEYS[1]) or '')
if current and current > now then now = current end
local ttl = tonumber(ARGV[1])
local left = redis.call('PTTL', KEYS[1])
if left > ttl then ttl = left end
redis.call('SET', KEYS[1], string.format('%.0f', now), 'PX', ttl)
return 1
`;
