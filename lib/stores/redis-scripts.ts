/**
 * Lua scripts of the Redis store. Each touches one record key and its user's revocation mark,
 * which share a hash slot (`{<user tag>}`), so each runs atomically and works on Redis Cluster.
 *
 * Keys: KEYS[1] the record `<prefix>{<user tag>}:r:<hash of the id>`, KEYS[2] the user's revocation
 * mark `<prefix>{<user tag>}:rv` (the Redis server time, µs, of the user's last revokeAll).
 * Record fields: see lib/stores/redis-record-fields.ts.
 *
 * The conditions mirror lib/records.ts (guardVerdict, isRedeemable, codeCheckPrecondition); the
 * store contract suite runs the same cases against the memory store (which calls those functions)
 * and this one. Every condition is written as the condition to pass, with `or` defaults that fail,
 * so a missing or non-numeric field never passes (and never raises a script error).
 */

/** Server time in µs, as a decimal string (seconds and microseconds from TIME). */
const SERVER_TIME_US = `local function server_time_us()
  local t = redis.call('TIME')
  return t[1] .. string.format('%06d', tonumber(t[2]))
end
`;

/**
 * Reads the record into `f` (and `flat`); a missing record, or one made before the user's last
 * revocation (deleted on sight), runs `onMissing`.
 */
const readLive = (onMissing: string) => `
local flat = redis.call('HGETALL', KEYS[1])
if #flat == 0 then ${onMissing} end
local f = {}
for i = 1, #flat, 2 do f[flat[i]] = flat[i + 1] end
local revoked_at = redis.call('GET', KEYS[2])
if revoked_at and not ((tonumber(f.t) or 0) > (tonumber(revoked_at) or math.huge)) then
  redis.call('DEL', KEYS[1])
  ${onMissing}
end
`;

/** create. ARGV: expiresAt (epoch ms), then field/value pairs. Adds t, the creation time. */
export const CREATE = `${SERVER_TIME_US}
redis.call('HSET', KEYS[1], 't', server_time_us(), unpack(ARGV, 2))
redis.call('PEXPIREAT', KEYS[1], ARGV[1])
return 1
`;

/** get / the guard on reusable routes. Returns the flat fields, or nil. */
export const READ = `${readLive('return nil')}
return flat
`;

/**
 * checkForGuard with consume. ARGV: userId, now, minVerifiedAt, allowed methods (comma separated),
 * the requester's session ref ('' for none), the request's action ref ('' for none).
 * Returns { consumed (0/1), flat fields } or nil.
 */
export const CHECK_AND_CONSUME = `${readLive('return nil')}
local now = tonumber(ARGV[2])
local ok = f.u == ARGV[1] and f.s == 'verified' and f.p == 'identity'
  and (f.sr == nil or f.sr == ARGV[5]) and (f.ar or '') == ARGV[6]
  and (tonumber(f.e) or 0) > now and (tonumber(f.v) or -1) >= tonumber(ARGV[3])
  and string.find(',' .. ARGV[4] .. ',', ',' .. (f.m or '') .. ',', 1, true) ~= nil
if ok then
  redis.call('DEL', KEYS[1])
  return { 1, flat }
end
return { 0, flat }
`;

/**
 * checkCode. ARGV: userId, now, identifier type, identifier value, candidate HMAC, max attempts,
 * record TTL ms, the requester's session ref ('' for none), the purpose the verified record gets.
 * Returns { outcome, extra }: the verified record's fields after 'verified', the remaining
 * attempts after 'code_mismatch'.
 * The HMACs are compared with an XOR accumulator over every byte, so the time taken does not
 * depend on where they differ (Lua has no constant-time compare).
 */
export const CHECK_CODE = `${readLive("return { 'not_found' }")}
local now = tonumber(ARGV[2])
if not (f.u == ARGV[1] and f.s == 'pending' and f.ch ~= nil and (f.sr == nil or f.sr == ARGV[8])
    and (tonumber(f.e) or 0) > now) then
  return { 'not_found' }
end
if f.it ~= ARGV[3] or f.iv ~= ARGV[4] then return { 'identifier_mismatch' } end
local max = tonumber(ARGV[6])
local attempts = tonumber(f.a) or max
if not (attempts < max) then return { 'exceed_max_try' } end
local stored, candidate = f.ch, ARGV[5]
local diff = 0
if #stored ~= #candidate then diff = 1 end
for i = 1, #stored do
  diff = bit.bor(diff, bit.bxor(string.byte(stored, i), string.byte(candidate, i) or 0))
end
if diff == 0 then
  local expires = now + tonumber(ARGV[7])
  redis.call('HDEL', KEYS[1], 'ch', 'a')
  redis.call('HSET', KEYS[1], 's', 'verified', 'p', ARGV[9], 'v', tostring(now), 'e', tostring(expires))
  redis.call('PEXPIREAT', KEYS[1], expires)
  return { 'verified', redis.call('HGETALL', KEYS[1]) }
end
attempts = redis.call('HINCRBY', KEYS[1], 'a', 1)
if attempts >= max then return { 'exceed_max_try' } end
return { 'code_mismatch', tostring(max - attempts) }
`;

/** redeem. ARGV: userId, now, identifier type, identifier value, the requester's session ref ('' for none). Returns flat fields or nil. */
export const REDEEM = `${readLive('return nil')}
if f.u == ARGV[1] and f.s == 'verified' and f.p == 'new_identifier' and (f.sr == nil or f.sr == ARGV[5])
  and (tonumber(f.e) or 0) > tonumber(ARGV[2]) and f.it == ARGV[3] and f.iv == ARGV[4] then
  redis.call('DEL', KEYS[1])
  return flat
end
return nil
`;

/**
 * revokeAll. KEYS[1] the revocation mark. ARGV: horizon ms. Sets the mark to the server time
 * (never moving it back), kept at least as long as any record it covers can live.
 */
export const REVOKE = `${SERVER_TIME_US}
local now = server_time_us()
local current = redis.call('GET', KEYS[1])
if current and (tonumber(current) or 0) > tonumber(now) then now = current end
local ttl = tonumber(ARGV[1])
local left = redis.call('PTTL', KEYS[1])
if left > ttl then ttl = left end
redis.call('SET', KEYS[1], now, 'PX', ttl)
return 1
`;
