import { randomBytes } from 'node:crypto';
import Redis from 'ioredis';
import { MAX_EMAIL_LENGTH } from '../lib/http/schemas';
import { MemoryStore } from '../lib/stores/memory-store';
import { RedisStore } from '../lib/stores/redis-store';
import { clientBoundsCommands } from '../lib/redis/bounded-call';
import type { RedisClient } from '../lib/redis/client';
import { StoreUnavailableError } from '../lib/stores/store';
import { storeContract } from './store.contract';
import { actionRef, sessionRef } from '../lib/action';
import { identifierRef } from '../lib/identifiers';
import { pendingCodeRecord, SECRET, verifiedRecord } from './helpers/records';

storeContract('MemoryStore', () => new MemoryStore());

let redis: Redis;
beforeAll(() => {
  redis = new Redis(process.env.TEST_REDIS_URL as string, { enableOfflineQueue: false, maxRetriesPerRequest: 1 });
  return new Promise((resolve) => redis.once('ready', resolve));
});
afterAll(() => redis.quit());

storeContract('RedisStore', () => new RedisStore({ client: redis, prefix: `t:${randomBytes(6).toString('hex')}:` }));

// ioredis auto-pipelining batches the commands of one event-loop turn into one write: every atomic
// step (the 50 concurrent consumers, the 20 concurrent right codes…) must hold with it too.
let pipelined: Redis;
beforeAll(() => {
  pipelined = new Redis(process.env.TEST_REDIS_URL as string, { enableAutoPipelining: true, enableOfflineQueue: false, maxRetriesPerRequest: 1 });
  return new Promise((resolve) => pipelined.once('ready', resolve));
});
afterAll(() => pipelined.quit());
storeContract('RedisStore with enableAutoPipelining', () => new RedisStore({ client: pipelined, prefix: `tp:${randomBytes(6).toString('hex')}:` }));

describe('RedisStore specifics', () => {
  test('every key has a TTL and no value holds the code', async () => {
    const prefix = `ttl:${randomBytes(6).toString('hex')}:`;
    const store = new RedisStore({ client: redis, prefix });
    const code = '482913';
    const pending = pendingCodeRecord(code);
    await store.create(pending);
    await store.create(verifiedRecord());
    await store.revokeAll('usr_carol', 60_000);
    const keys = await redis.keys(`${prefix}*`);
    expect(keys).toHaveLength(3);
    for (const key of keys) {
      const ttl = await redis.pttl(key);
      expect(ttl).toBeGreaterThan(0);
      expect(ttl).toBeLessThanOrEqual(60_000);
      const values = (await redis.type(key)) === 'hash' ? Object.values(await redis.hgetall(key)) : [await redis.get(key)];
      expect(values.join(' ')).not.toContain(code);
    }
  });

  test("keys hold hashes of the record id (a bearer credential) and of the user id; the user's hash is the cluster hash tag", () => {
    const store = new RedisStore({ client: redis, prefix: 'p:' });
    const id = verifiedRecord().id;
    const [record, revocation] = store.keysFor('usr_alice', id);
    expect(record).toMatch(/^p:\{[A-Za-z0-9_-]{3}\}[A-Za-z0-9_-]{16}$/);
    expect(record).not.toContain(id);
    expect(record).not.toContain('usr_alice');
    expect(revocation).toMatch(/^p:\{[A-Za-z0-9_-]{3}\}:rv:[A-Za-z0-9_-]{22}$/);
    // The record's hash is of the user and the id together: the same id under another user is another key.
    expect(store.keysFor('usr_bob', id)[0].slice(-16)).not.toBe(record.slice(-16));
    // With the default prefix a record key is 28 characters: Redis' 32-byte allocation class.
    expect(new RedisStore({ client: redis }).keysFor('usr_alice', id)[0]).toHaveLength(28);
    // One slot for a user's records and revocation mark; another user's lands elsewhere.
    const tag = (key: string) => /\{(.+?)\}/.exec(key)?.[1];
    expect(tag(record)).toBe(tag(revocation));
    expect(tag(store.keysFor('usr_bob', id)[0])).not.toBe(tag(record));
    expect(store.keysFor('usr_alice', id)).toEqual([record, revocation]);
  });

  test('a hash that is not a well-formed record reads as no record (never a half-valid one)', async () => {
    const store = new RedisStore({ client: redis, prefix: `bad:${randomBytes(6).toString('hex')}:` });
    const record = verifiedRecord();
    await store.create(record);
    const [key] = store.keysFor(record.userId, record.id);
    const d = (await redis.hgetBuffer(key, 'd')) as Buffer;
    expect(d).toHaveLength(20); // kind, flags, createdAt, lifetime, server stamp, verifiedAt delta
    const withByte = (at: number, value: number) => Buffer.concat([d.subarray(0, at), Buffer.from([value]), d.subarray(at + 1)]);
    const tampered: Array<[string, string | Buffer]> = [
      ['d', withByte(0, 0x7a)], // no such method ('z')
      ['d', Buffer.concat([d, Buffer.alloc(4)])], // four bytes too many
      ['d', d.subarray(0, 16)], // without its verifiedAt delta
      ['d', withByte(1, 1)], // claims a session ref it does not hold
      ['d', withByte(1, 8)], // an unknown flag
      ['d', Buffer.concat([withByte(1, 8), Buffer.alloc(16)])], // an unknown flag, with 16 bytes for it
      ['h', randomBytes(16)], // a code HMAC on a verified record: it would read as pending, without its identifier hash
      ['a', '1'], // attempts on a verified record
      ['i3', 'e'], // an identifier piece without the ones before it
      ['u', 'usr_alice'], // a field this version never writes
      ['i1', 'e'], // not an identifier piece's name (the first piece is `i`)
      ['i02', 'e'], // nor this
      ['i17', 'e'], // a piece past the sixteenth
    ];
    for (const [field, value] of tampered) {
      const original = await redis.hgetBuffer(key, field);
      await redis.hset(key, field, value);
      expect(await store.get(record.userId, record.id)).toBeNull();
      expect((await store.checkForGuard(record.id, { userId: 'usr_alice', methods: ['password'], maxAgeMs: 60_000, now: Date.now() }, true)).consumed).toBe(false);
      if (original === null) await redis.hdel(key, field);
      else await redis.hset(key, field, original);
    }
    // An identifier whose first piece is its type letter alone (the value starting in the second piece): no record on either path.
    await redis.hset(key, 'i', 'e', 'i2', 'alice@example.com');
    expect(await store.get(record.userId, record.id)).toBeNull();
    expect((await store.checkForGuard(record.id, { userId: 'usr_alice', methods: ['password'], maxAgeMs: 60_000, now: Date.now() }, true)).consumed).toBe(false);
    await redis.hdel(key, 'i', 'i2');
    expect(await store.get(record.userId, record.id)).toEqual(record);
  });

  test('a pending record that is not well formed is no record for the code check either (each tampering, one at a time)', async () => {
    const store = new RedisStore({ client: redis, prefix: `badp:${randomBytes(6).toString('hex')}:` });
    const record = pendingCodeRecord('123456', { sessionRef: sessionRef(SECRET, 's') });
    const check = {
      userId: 'usr_alice',
      sessionRef: sessionRef(SECRET, 's'),
      identifier: { type: 'email', value: 'alice@example.com' },
      identifierRef: record.identifierRef,
      candidateHash: record.codeHash,
      maxAttempts: 5,
      now: Date.now(),
      recordTtlMs: 60_000,
      purpose: 'identity',
    } as const;
    await store.create(record);
    const [key] = store.keysFor(record.userId, record.id);
    const d = (await redis.hgetBuffer(key, 'd')) as Buffer;
    expect(d).toHaveLength(48); // kind, flags, createdAt, lifetime, server stamp, session ref, identifier ref
    const withByte = (at: number, value: number) => Buffer.concat([d.subarray(0, at), Buffer.from([value]), d.subarray(at + 1)]);
    const tampered: Array<[string, string | Buffer]> = [
      ['d', withByte(1, 1)], // the identifier hash's flag cleared (16 bytes too many then)
      ['d', d.subarray(0, 32)], // without the identifier hash
      ['d', withByte(0, 0x45)], // 'E': a verified new-identifier kind on a pending record
      ['h', randomBytes(15)], // a code HMAC of 15 bytes
      ['a', '0'], // attempts written as 0
      ['i', 'ealice@example.com'], // the identifier in clear beside its hash
    ];
    for (const [field, value] of tampered) {
      const original = await redis.hgetBuffer(key, field);
      await redis.hset(key, field, value);
      expect(await store.get(record.userId, record.id)).toBeNull();
      expect(await store.checkCode(record.id, check)).not.toMatchObject({ outcome: 'verified' });
      if (original === null) await redis.hdel(key, field);
      else await redis.hset(key, field, original);
    }
    // 's': a well-formed phone-code record, but the request names an email: told apart, not verified.
    await redis.hset(key, 'd', withByte(0, 0x73));
    expect(await store.checkCode(record.id, check)).toEqual({ outcome: 'identifier_mismatch' });
    await redis.hset(key, 'd', d);
    expect(await store.get(record.userId, record.id)).toEqual(record);
    expect(await store.checkCode(record.id, check)).toMatchObject({ outcome: 'verified' });
  });

  test('an app clock more than 35 minutes from Redis\' cannot create a record (its server stamp would not fit); 30 minutes can', async () => {
    const store = new RedisStore({ client: redis, prefix: `skew:${randomBytes(6).toString('hex')}:` });
    const at = (skewMs: number) => {
      const now = Date.now() + skewMs;
      return verifiedRecord({ createdAt: now, verifiedAt: now, expiresAt: Date.now() + 60_000 });
    };
    for (const skew of [-40 * 60_000, 40 * 60_000]) await expect(store.create(at(skew))).rejects.toThrow(StoreUnavailableError);
    for (const skew of [-30 * 60_000, 30 * 60_000]) {
      const record = at(skew);
      await store.create(record);
      expect(await store.get(record.userId, record.id)).toEqual(record);
    }
  });

  test('a store error carries no command arguments (an identifier or a code HMAC) into its cause', async () => {
    const store = new RedisStore({ client: redis, prefix: `cause:${randomBytes(6).toString('hex')}:` });
    const now = Date.now() - 40 * 60_000;
    const record = verifiedRecord({ method: 'email', identifier: { type: 'email', value: 'secret.person@example.com' }, createdAt: now, verifiedAt: now });
    const error = await store.create(record).then(() => null, (e: unknown) => e);
    expect(error).toBeInstanceOf(StoreUnavailableError);
    const cause = (error as Error).cause as Error & { command?: unknown };
    expect(cause.message).toMatch(/clock/);
    expect(cause.command).toBeUndefined();
    expect(JSON.stringify(cause) + String(cause.stack)).not.toContain('secret.person');
  });

  test('user ids that differ only in lone surrogates get different keys (hashed as UTF-16, not UTF-8)', () => {
    const store = new RedisStore({ client: redis, prefix: 'p:' });
    const id = verifiedRecord().id;
    const keys = ['a\uD800', 'a\uDC00', 'a\uFFFD'].map((user) => store.keysFor(user, id));
    expect(new Set(keys.map(([record]) => record)).size).toBe(3);
    expect(new Set(keys.map(([, revocation]) => revocation)).size).toBe(3);
  });

  test('a revocation mark that is not a number revokes every record of the user (reads and consumes alike)', async () => {
    const store = new RedisStore({ client: redis, prefix: `rvbad:${randomBytes(6).toString('hex')}:` });
    const record = verifiedRecord();
    await store.create(record);
    const [key, mark] = store.keysFor(record.userId, record.id);
    await redis.set(mark, '12ab', 'PX', 60_000);
    expect(await store.get(record.userId, record.id)).toBeNull();
    expect((await store.checkForGuard(record.id, { userId: 'usr_alice', methods: ['password'], maxAgeMs: 60_000, now: Date.now() }, true)).consumed).toBe(false);
    // A well-formed mark older than the record leaves it alone.
    await store.create(record);
    await redis.set(mark, '1', 'PX', 60_000);
    expect(await store.get(record.userId, record.id)).toEqual(record);
    expect(await redis.exists(key)).toBe(1);
  });

  test('a client that bounds its own commands (commandTimeout ≤ timeoutMs, twice it with auto-pipelining) gets no timer from the store per call; any other does', async () => {
    const bounded = new Redis(process.env.TEST_REDIS_URL as string, { commandTimeout: 500, enableOfflineQueue: false, maxRetriesPerRequest: 1 });
    const pipelinedBounded = new Redis(process.env.TEST_REDIS_URL as string, { commandTimeout: 500, enableAutoPipelining: true, enableOfflineQueue: false, maxRetriesPerRequest: 1 });
    await Promise.all([bounded, pipelinedBounded].map((client) => new Promise((resolve) => client.once('ready', resolve))));
    const prefix = `timer:${randomBytes(6).toString('hex')}:`;
    const record = verifiedRecord();
    const spy = jest.spyOn(global, 'setTimeout');
    try {
      const timersOf = (ms: number) => spy.mock.calls.filter(([, delay]) => delay === ms).length;
      // commandTimeout 500 ≤ 4321: ioredis rejects every command by itself in time.
      const relying = new RedisStore({ client: bounded, prefix, timeoutMs: 4321 });
      await relying.create(record);
      expect(await relying.get(record.userId, record.id)).toEqual(record);
      expect(timersOf(4321)).toBe(0);
      // commandTimeout 500 > 400: the store's own, tighter bound stays.
      const tighter = new RedisStore({ client: bounded, prefix, timeoutMs: 400 });
      await tighter.get(record.userId, record.id);
      expect(timersOf(400)).toBe(1);
      // No commandTimeout at all (this file's client): one timer per call.
      const unbounded = new RedisStore({ client: redis, prefix, timeoutMs: 4322 });
      await unbounded.get(record.userId, record.id);
      expect(timersOf(4322)).toBe(1);
      // Auto-pipelining: a command may wait for the batch before it, so the client bounds a call
      // within 2 × commandTimeout: 1000 ≤ 1000 needs no timer of the store's, 1000 > 999 does.
      const twice = new RedisStore({ client: pipelinedBounded, prefix, timeoutMs: 1000 });
      await twice.get(record.userId, record.id);
      expect(timersOf(1000)).toBe(0);
      const under = new RedisStore({ client: pipelinedBounded, prefix, timeoutMs: 999 });
      await under.get(record.userId, record.id);
      expect(timersOf(999)).toBe(1);
    } finally {
      spy.mockRestore();
      await bounded.quit();
      await pipelinedBounded.quit();
    }
  });

  test('auto-pipelining counts when ioredis counts it: any truthy enableAutoPipelining (a plain-JavaScript app may pass 1)', () => {
    const client = (options: Record<string, unknown>) => ({ options }) as unknown as RedisClient;
    expect(clientBoundsCommands(client({ commandTimeout: 500, enableAutoPipelining: 1 }), 999)).toBe(false);
    expect(clientBoundsCommands(client({ commandTimeout: 500, enableAutoPipelining: 'true' }), 1000)).toBe(true);
    expect(clientBoundsCommands(client({ commandTimeout: 500, enableAutoPipelining: 0 }), 500)).toBe(true);
    expect(clientBoundsCommands({ isCluster: true, options: { commandTimeout: 100 } } as unknown as RedisClient, 1000)).toBe(false);
  });

  test('method names are tamper-checked too: a name only on an app-defined method, never a built-in one in disguise', async () => {
    const store = new RedisStore({ client: redis, prefix: `own:${randomBytes(6).toString('hex')}:` });
    const own = verifiedRecord({ method: 'sso' });
    const builtIn = verifiedRecord({ method: 'passkey' });
    await store.create(own);
    await store.create(builtIn);
    const [ownKey] = store.keysFor(own.userId, own.id);
    const [builtInKey] = store.keysFor(builtIn.userId, builtIn.id);
    expect(await redis.hget(ownKey, 'm')).toBe('sso');
    expect((await redis.hget(builtInKey, 'd'))?.[0]).toBe('k');
    const guard = (methods: string[]) => ({ userId: 'usr_alice', methods, maxAgeMs: 60_000, now: Date.now() });
    const tampered: Array<[string, string, string]> = [
      [ownKey, 'm', 'password'], // an app-defined record claiming a built-in name
      [ownKey, 'm', 'SSO'], // not a method name
      [builtInKey, 'm', 'sso'], // a name on a built-in record
    ];
    for (const [key, field, value] of tampered) {
      const id = key === ownKey ? own.id : builtIn.id;
      const original = await redis.hget(key, field);
      await redis.hset(key, field, value);
      expect(await store.get('usr_alice', id)).toBeNull();
      expect((await store.checkForGuard(id, guard(['password', 'passkey', 'sso', 'SSO']), true)).consumed).toBe(false);
      if (original === null) await redis.hdel(key, field);
      else await redis.hset(key, field, original);
    }
    // An app-defined record without its name.
    await redis.hdel(ownKey, 'm');
    expect(await store.get('usr_alice', own.id)).toBeNull();
    expect((await store.checkForGuard(own.id, guard(['sso']), true)).consumed).toBe(false);
    await redis.hset(ownKey, 'm', 'sso');
    expect(await store.get('usr_alice', own.id)).toEqual(own);
    expect(await store.get('usr_alice', builtIn.id)).toEqual(builtIn);
    // A method list holding a name with a comma cannot widen the script's match.
    expect((await store.checkForGuard(own.id, guard(['x,sso']), true)).consumed).toBe(false);
  });

  test('a record stays listpack-encoded (compact) for the longest email the API accepts, pending and verified; only an identity record holds the email', async () => {
    // Redis' default: a hash is a listpack while every field and value is at most 64 bytes.
    expect(await redis.config('GET', 'hash-max-listpack-value')).toEqual(['hash-max-listpack-value', '64']);
    const store = new RedisStore({ client: redis, prefix: `lp:${randomBytes(6).toString('hex')}:` });
    const longest = `${'a'.repeat(64)}@${'b'.repeat(63)}.${'c'.repeat(63)}.${'d'.repeat(57)}.com`;
    expect(longest).toHaveLength(MAX_EMAIL_LENGTH);
    const identifier = { type: 'email', value: longest } as const;
    const session = sessionRef(SECRET, 'session');
    const check = (record: { id: string; codeHash: string }, purpose: 'identity' | 'new_identifier') =>
      store.checkCode(record.id, {
        userId: 'usr_alice',
        sessionRef: session,
        identifier,
        identifierRef: identifierRef(SECRET, identifier),
        candidateHash: record.codeHash,
        maxAttempts: 5,
        now: Date.now(),
        recordTtlMs: 60_000,
        purpose,
      });
    const valuesOf = async (key: string) => Buffer.concat((await redis.hgetallBuffer(key)) ? Object.values(await redis.hgetallBuffer(key)) : []).toString('latin1');
    for (const purpose of ['identity', 'new_identifier'] as const) {
      const record = pendingCodeRecord('123456', { identifierRef: identifierRef(SECRET, identifier), sessionRef: session, actionRef: actionRef(SECRET, { type: 'payout' }) });
      await store.create(record);
      const [key] = store.keysFor(record.userId, record.id);
      expect(await redis.object('ENCODING', key)).toBe('listpack');
      expect(await valuesOf(key)).not.toContain('aaaa@'); // a pending record keeps the email's hash only
      expect(await store.get(record.userId, record.id)).toEqual(record);
      const result = await check(record, purpose);
      expect(await redis.object('ENCODING', key)).toBe('listpack');
      if (purpose === 'identity') {
        // req.verification.identifier (the HTTP contract): the identity record keeps the email, in 64-byte pieces.
        expect(result).toMatchObject({ outcome: 'verified', record: { identifier, purpose } });
        expect(await valuesOf(key)).toContain(longest.slice(0, 40));
        // Its four identifier pieces (`i`, `i2` … `i4`) pass the consuming guard script's structure check.
        const guard = { userId: 'usr_alice', sessionRef: session, methods: ['email'] as const, maxAgeMs: 60_000, actionRef: actionRef(SECRET, { type: 'payout' }), now: Date.now() };
        expect(await store.checkForGuard(record.id, guard, true)).toMatchObject({ consumed: true, record: { identifier } });
      } else {
        expect(result).toMatchObject({ outcome: 'verified', record: { identifierRef: identifierRef(SECRET, identifier), purpose } });
        expect(await valuesOf(key)).not.toContain('aaaa@');
        expect(await store.redeem(record.id, { userId: record.userId, sessionRef: session, identifierRef: identifierRef(SECRET, identifier), now: Date.now() })).not.toBeNull();
      }
    }
  });

  test('a fractional expiry is refused before anything is written (no key without a TTL)', async () => {
    const prefix = `frac:${randomBytes(6).toString('hex')}:`;
    const store = new RedisStore({ client: redis, prefix });
    await expect(store.create(verifiedRecord({ expiresAt: Date.now() + 600_000.5 }))).rejects.toThrow(/whole epoch milliseconds/);
    expect(await redis.keys(`${prefix}*`)).toEqual([]);
  });

  test('the scripts still run after SCRIPT FLUSH (NOSCRIPT falls back to EVAL)', async () => {
    const store = new RedisStore({ client: redis, prefix: `nos:${randomBytes(6).toString('hex')}:` });
    const record = verifiedRecord();
    await store.create(record);
    await redis.script('FLUSH');
    const result = await store.checkForGuard(
      record.id,
      { userId: 'usr_alice', methods: ['password'], maxAgeMs: 60_000, now: Date.now() },
      true,
    );
    expect(result.consumed).toBe(true);
  });

  test('rejects a missing client with a clear message', () => {
    expect(() => new RedisStore({} as never)).toThrow(/ioredis client/);
    expect(() => new RedisStore({ client: redis, prefx: 'x' } as never)).toThrow(expect.objectContaining({ code: 'ERR_STEP_UP_UNKNOWN_OPTION', message: expect.stringMatching(/did you mean `prefix`/) }));
  });
});

describe('MemoryStore specifics', () => {
  test('memory stays bounded: expired records are swept and the oldest dropped when full', async () => {
    let now = 1_000_000;
    const store = new MemoryStore({ maxRecords: 10, sweepIntervalMs: 1000, now: () => now });
    for (let i = 0; i < 10; i += 1) await store.create(verifiedRecord({ createdAt: now, expiresAt: now + 500 }));
    expect(store.size).toBe(10);
    now += 2000;
    await store.create(verifiedRecord({ createdAt: now, expiresAt: now + 60_000 }));
    expect(store.size).toBe(1);
    const first = verifiedRecord({ createdAt: now, expiresAt: now + 60_000 });
    await store.create(first);
    for (let i = 0; i < 20; i += 1) await store.create(verifiedRecord({ createdAt: now, expiresAt: now + 60_000 }));
    expect(store.size).toBe(10);
    expect(await store.get(first.userId, first.id)).toBeNull();
  });

  test('the sweep never blocks: each write sweeps a bounded slice, resuming where the last one stopped', async () => {
    let now = 1_000_000;
    const store = new MemoryStore({ maxRecords: 100_000, sweepIntervalMs: 1000, now: () => now });
    for (let i = 0; i < 2000; i += 1) await store.create(verifiedRecord({ createdAt: now, expiresAt: now + 500 }));
    now += 2000;
    const live = verifiedRecord({ createdAt: now, expiresAt: now + 60_000 });
    await store.create(live);
    expect(store.size).toBe(2000 - 256 + 1); // one slice, not the whole map
    const sizes = [];
    for (let i = 0; i < 8; i += 1) {
      await store.create(verifiedRecord({ createdAt: now, expiresAt: now + 60_000 }));
      sizes.push(store.size);
    }
    expect(sizes.slice(0, 3)).toEqual([2000 - 512 + 2, 2000 - 768 + 3, 2000 - 1024 + 4]);
    expect(store.size).toBe(9); // every expired record is gone, the live ones stay
    expect(await store.get(live.userId, live.id)).not.toBeNull();
  });
});
