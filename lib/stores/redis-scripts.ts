/**
 * Lua scripts of the Redis store. Each touches exactly one key (the record's),
 * so each runs atomically and works unchanged on Redis Cluster.
 *
 * The key is `<prefix>rec:{sha256(id)}`. Record hash fields: u userId, m method, p purpose, s status, it/iv identifier
 * type/value, ch code HMAC (pending code records only), a attempts,
 * c createdAt, e expiresAt, v verifiedAt (epoch ms).
 *
 * The conditions below mirror lib/records.ts (guardVerdict, isRedeemable,
 * codeCheckPrecondition); the store contract suite runs the same cases against
 * the memory store (which calls those functions) and this one.
 */

/** Turns HGETALL's flat list into a table. */
const READ_RECORD = `
local flat = redis.call('HGETALL', KEYS[1])
if #flat == 0 then return nil end
local f = {}
for i = 1, #flat, 2 do f[flat[i]] = flat[i + 1] end
`;

/**
 * checkForGuard with consume. ARGV: userId, now, minVerifiedAt, allowed methods (comma separated).
 * Returns { consumed (0/1), flat fields } or nil.
 */
export const CHECK_AND_CONSUME = `${READ_RECORD}
local now = tonumber(ARGV[2])
local ok = f.u == ARGV[1] and f.s == 'verified' and f.p == 'identity'
  and f.v ~= nil and tonumber(f.e) > now and tonumber(f.v) >= tonumber(ARGV[3])
  and string.find(',' .. ARGV[4] .. ',', ',' .. f.m .. ',', 1, true) ~= nil
if ok then
  redis.call('DEL', KEYS[1])
  return { 1, flat }
end
return { 0, flat }
`;

/**
 * checkCode. ARGV: userId, now, identifier type, identifier value, candidate HMAC,
 * max attempts, record TTL ms. Returns { outcome, extra }: the verified record's
 * fields after 'verified', the remaining attempts after 'code_mismatch'.
 * The HMACs are compared with an XOR accumulator over every byte, so the time
 * taken does not depend on where they differ (Lua has no constant-time compare).
 */
export const CHECK_CODE = `
local flat = redis.call('HGETALL', KEYS[1])
if #flat == 0 then return { 'not_found' } end
local f = {}
for i = 1, #flat, 2 do f[flat[i]] = flat[i + 1] end
local now = tonumber(ARGV[2])
-- Written as the condition to pass, like lib/records.ts: a NaN or missing number fails closed.
if not (f.u == ARGV[1] and f.s == 'pending' and f.m ~= 'password' and f.ch ~= nil and tonumber(f.e) > now) then
  return { 'not_found' }
end
if f.it ~= ARGV[3] or f.iv ~= ARGV[4] then return { 'identifier_mismatch' } end
local max = tonumber(ARGV[6])
local attempts = tonumber(f.a)
if not (attempts < max) then return { 'exceed_max_try' } end
local stored, candidate = f.ch, ARGV[5]
local diff = 0
if #stored ~= #candidate then diff = 1 end
for i = 1, #stored do
  diff = bit.bor(diff, bit.bxor(string.byte(stored, i), string.byte(candidate, i) or 0))
end
if diff == 0 then
  local expires = now + tonumber(ARGV[7])
  redis.call('HDEL', KEYS[1], 'ch')
  redis.call('HSET', KEYS[1], 's', 'verified', 'v', tostring(now), 'e', tostring(expires))
  redis.call('PEXPIREAT', KEYS[1], expires)
  return { 'verified', redis.call('HGETALL', KEYS[1]) }
end
attempts = redis.call('HINCRBY', KEYS[1], 'a', 1)
if attempts >= max then return { 'exceed_max_try' } end
return { 'code_mismatch', tostring(max - attempts) }
`;

/** redeem. ARGV: userId, now, identifier type, identifier value. Returns flat fields or nil. */
export const REDEEM = `${READ_RECORD}
if f.u == ARGV[1] and f.s == 'verified' and f.p == 'new_identifier'
  and tonumber(f.e) > tonumber(ARGV[2]) and f.it == ARGV[3] and f.iv == ARGV[4] then
  redis.call('DEL', KEYS[1])
  return flat
end
return nil
`;
