import { randomBytes } from 'node:crypto';
import type Redis from 'ioredis';
import { RedisStore } from '../lib/index';
import { actionRef, sessionRef } from '../lib/action';
import { identifierRef } from '../lib/identifiers';
import { newRecordId } from '../lib/record-id';
import type { VerificationRecord } from '../lib/records';
import { pendingCodeRecord } from '../test/helpers/records';
import { BENCH_ACTION, BENCH_SESSION, BENCH_USER, verifiedPasswordRecord } from './app';
import { connectClient } from './redis-server';
import { round } from './stats';

/** One kind of record: what a live one costs in Redis. */
export interface RedisMemoryRow {
  readonly case: string;
  /** Records written for the used_memory delta (0: MEMORY USAGE only). */
  readonly records: number;
  /** INFO used_memory after − before, per record (allocator-rounded, dict buckets included). */
  readonly usedMemoryPerRecord: number | null;
  /** MEMORY USAGE of one record key (SAMPLES 0). */
  readonly memoryUsage: number;
  /** OBJECT ENCODING of one record key. */
  readonly encoding: string;
  /** Bytes per live record for 1 M records (usedMemoryPerRecord × 10⁶), MB. */
  readonly projectionMBPerMillion: number | null;
  /** The bound the row must stay within (bytes, both measures), or null when only shown. */
  readonly bound: number | null;
  readonly pass: boolean;
}


const SECRET = randomBytes(32);
/** The longest email the API accepts: 254 characters (RFC 5321). */
export const LONGEST_EMAIL = `${'a'.repeat(64)}@${'b'.repeat(63)}.${'c'.repeat(63)}.${'d'.repeat(57)}.com`;

async function usedMemory(admin: Redis): Promise<number> {
  return Number(/used_memory:(\d+)/.exec(await admin.info('memory'))?.[1]);
}

const pending = (value: string, bound = false): (() => VerificationRecord) => () => {
  const id = newRecordId();
  const record = pendingCodeRecord('123456', { id, userId: BENCH_USER, identifierRef: identifierRef(SECRET, { type: 'email', value }), expiresAt: Date.now() + 600_000 });
  return bound ? { ...record, sessionRef: sessionRef(SECRET, BENCH_SESSION), actionRef: actionRef(SECRET, BENCH_ACTION) } : record;
};

/** A verified email-code record: an identity record keeps the email (`req.verification.identifier`), a new-identifier record its hash. */
const verifiedCode = (value: string, purpose: 'identity' | 'new_identifier' = 'identity'): (() => VerificationRecord) => () => {
  const now = Date.now();
  const identifier = { type: 'email', value } as const;
  return {
    id: newRecordId(),
    userId: BENCH_USER,
    sessionRef: sessionRef(SECRET, BENCH_SESSION),
    status: 'verified',
    method: 'email',
    purpose,
    ...(purpose === 'identity' ? { identifier } : { identifierRef: identifierRef(SECRET, identifier) }),
    createdAt: now - 30_000,
    verifiedAt: now,
    expiresAt: now + 600_000,
  };
};

interface Case {
  readonly name: string;
  readonly make: () => VerificationRecord;
  /** 0: one record, MEMORY USAGE only. */
  readonly records: number;
  readonly bound: number | null;
}

/**
 * Measures what a live record costs in Redis: `used_memory` before and after writing N records of
 * one kind through RedisStore.create (the allocator's real cost, hash table buckets included), and
 * MEMORY USAGE and OBJECT ENCODING of one. Each case runs on an emptied database of the bench's
 * own private redis-server. The longest email must keep the hash listpack-encoded.
 */
export async function runRedisMemoryBench(options: { redisUrl: string; admin: Redis; records: number }): Promise<RedisMemoryRow[]> {
  const { admin, records } = options;
  const client = await connectClient(options.redisUrl);
  const store = new RedisStore({ client });
  const cases: Case[] = [
    { name: 'verified password record (the guard’s)', make: () => verifiedPasswordRecord(), records, bound: 200 },
    { name: 'verified password record, session- and action-bound', make: () => verifiedPasswordRecord({ sessionId: BENCH_SESSION, action: BENCH_ACTION }), records, bound: 200 },
    { name: 'pending email code record (alice@example.com)', make: pending('alice@example.com'), records, bound: 260 },
    { name: 'pending email code record, session- and action-bound', make: pending('alice@example.com', true), records, bound: 260 },
    // As many records as the other bounded rows: the hash table's buckets per record depend on the count.
    { name: `pending code record, longest email (${LONGEST_EMAIL.length} chars)`, make: pending(LONGEST_EMAIL), records, bound: 260 },
    { name: 'verified new-identifier record, session-bound, longest email', make: verifiedCode(LONGEST_EMAIL, 'new_identifier'), records, bound: 200 },
    { name: 'verified email code record (identity), session-bound', make: verifiedCode('alice@example.com'), records, bound: null },
    // Not bounded: an identity record keeps the email for req.verification.identifier (the HTTP contract).
    { name: 'verified email code record (identity), longest email', make: verifiedCode(LONGEST_EMAIL), records: 0, bound: null },
  ];
  try {
    const rows: RedisMemoryRow[] = [];
    for (const spec of cases) {
      await admin.flushdb();
      const before = await usedMemory(admin);
      let sample: VerificationRecord | undefined;
      for (let start = 0; start < Math.max(spec.records, 1); start += 100) {
        const batch = Array.from({ length: Math.min(100, Math.max(spec.records, 1) - start) }, spec.make);
        sample ??= batch[0];
        await Promise.all(batch.map((record) => store.create(record)));
      }
      const after = await usedMemory(admin);
      if (sample === undefined) throw new Error('no record');
      const [key] = store.keysFor(sample.userId, sample.id);
      const memoryUsage = Number(await admin.call('MEMORY', 'USAGE', key, 'SAMPLES', '0'));
      const encoding = String(await admin.call('OBJECT', 'ENCODING', key));
      const perRecord = spec.records > 0 ? round((after - before) / spec.records, 1) : null;
      const withinBound = spec.bound === null || (perRecord !== null && perRecord <= spec.bound && memoryUsage <= spec.bound);
      rows.push({
        case: spec.name,
        records: spec.records,
        usedMemoryPerRecord: perRecord,
        memoryUsage,
        encoding,
        projectionMBPerMillion: perRecord === null ? null : round(perRecord, 0),
        bound: spec.bound,
        pass: withinBound && encoding === 'listpack',
      });
    }
    await admin.flushdb();
    return rows;
  } finally {
    await client.quit();
  }
}
