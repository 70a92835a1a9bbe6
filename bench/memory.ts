import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { MemoryStore } from '../lib/index';
import { verifiedPasswordRecord } from './app';
import { isBenchChild, runOnce } from './child';
import { percentile, round } from './stats';

export interface MemoryResult {
  /** True when the numbers come after forced collections (node --expose-gc); otherwise approximate. */
  readonly gcForced: boolean;
  readonly records: number;
  readonly heapUsedBeforeMB: number;
  readonly heapUsedAfterMB: number;
  readonly heapDeltaMB: number;
  readonly bytesPerRecord: number;
  readonly insertsPerSecond: number;
  readonly overCap: {
    readonly maxRecords: number;
    readonly inserted: number;
    readonly sizeAfter: number;
    readonly oldestDropped: boolean;
    readonly newestKept: boolean;
    /** Mean cost of one create() while the store is full of live records. */
    readonly microsecondsPerInsertAtCap: number;
    readonly pass: boolean;
  };
  /** The same 1.5x overflow at a tenth of the size, run to the end. */
  readonly overCapScaled: MemoryResult['overCap'];
  /**
   * Sweeping 100,000 expired records: how long the slowest write blocked, and how many writes the
   * pass took. Measured after a pass over 5,000 records in the same process, so that it does not
   * count compiling the sweep's code; that first write of the process is reported on its own.
   */
  readonly sweep: {
    readonly expiredRecords: number;
    readonly writesToSweep: number;
    readonly maxWriteMs: number;
    /** Records left in the store at the slowest write (V8 rehashes a Map's table when it falls to a quarter full). */
    readonly sizeAtMaxWrite: number;
    readonly p99WriteMs: number;
    readonly sizeAfter: number;
    /** The first sweeping write of the process (the 5,000-record pass): the sweep's code not yet compiled. */
    readonly firstWriteOfProcessMs: number;
    /**
     * 99 % of the writes of the pass took at most 5 ms, and every expired record was gone after it (the
     * slowest single write is reported, not asserted: on a shared machine it measures preemption too).
     */
    readonly pass: boolean;
  };
}

const MB = 1024 * 1024;
const RECORDS = 100_000;
/** Inserts past the cap at full size: 150,000 records into a store bounded at 100,000. */
const OVERFLOW = 50_000;

function heapUsed(): number {
  for (let i = 0; i < 3; i += 1) globalThis.gc?.();
  return process.memoryUsage().heapUsed;
}

/** Fills a store to `maxRecords`, then inserts `overflow` more; checks it stayed at its bound, oldest out first. */
async function overCap(store: MemoryStore, maxRecords: number, firstId: string, overflow: number): Promise<MemoryResult['overCap']> {
  let lastId = '';
  const started = performance.now();
  for (let i = 0; i < overflow; i += 1) {
    const record = verifiedPasswordRecord();
    await store.create(record);
    lastId = record.id;
  }
  const elapsed = performance.now() - started;
  const oldestDropped = (await store.get('usr_bench', firstId)) === null;
  const newestKept = (await store.get('usr_bench', lastId)) !== null;
  const sizeAfter = store.size;
  return {
    maxRecords,
    inserted: maxRecords + overflow,
    sizeAfter,
    oldestDropped,
    newestKept,
    microsecondsPerInsertAtCap: round((elapsed * 1000) / overflow, 1),
    pass: sizeAfter === maxRecords && oldestDropped && newestKept,
  };
}

async function fill(store: MemoryStore, count: number): Promise<string> {
  let firstId = '';
  for (let i = 0; i < count; i += 1) {
    const record = verifiedPasswordRecord();
    if (i === 0) firstId = record.id;
    await store.create(record);
  }
  return firstId;
}

interface SweepPass {
  readonly writes: number;
  /** ms per write, in order, and the store's size after each. */
  readonly times: readonly number[];
  readonly sizes: readonly number[];
  readonly sizeAfter: number;
}

/**
 * `count` records that all expire, then writes once the sweep interval has passed: each write
 * sweeps a slice, so none blocks for long; counts the writes until only the new records are left.
 */
async function sweepPass(count: number): Promise<SweepPass> {
  let now = Date.now();
  const store = new MemoryStore({ maxRecords: count * 2, sweepIntervalMs: 60_000, now: () => now });
  for (let i = 0; i < count; i += 1) await store.create({ ...verifiedPasswordRecord(), expiresAt: now + 1000 });
  now += 120_000;
  globalThis.gc?.(); // the garbage of filling the store is not the sweep's
  const times: number[] = [];
  const sizes: number[] = [];
  let writes = 0;
  while (store.size > writes && writes < count) {
    const record = { ...verifiedPasswordRecord(), createdAt: now, expiresAt: now + 600_000 };
    const started = performance.now();
    await store.create(record);
    times.push(performance.now() - started);
    sizes.push(store.size);
    writes += 1;
  }
  return { writes, times, sizes, sizeAfter: store.size };
}

async function measureSweep(): Promise<MemoryResult['sweep']> {
  const warmUp = await sweepPass(5_000);
  const { writes, times, sizes, sizeAfter } = await sweepPass(RECORDS);
  const p99 = percentile(times, 99);
  const slowest = times.indexOf(Math.max(...times));
  return {
    expiredRecords: RECORDS,
    writesToSweep: writes,
    maxWriteMs: round(times[slowest] ?? 0, 3),
    sizeAtMaxWrite: sizes[slowest] ?? 0,
    p99WriteMs: round(p99, 3),
    sizeAfter,
    firstWriteOfProcessMs: round(warmUp.times[0] ?? 0, 3),
    pass: p99 <= 5 && sizeAfter === writes,
  };
}

async function measureMemory(): Promise<MemoryResult> {
  const before = heapUsed();
  const store = new MemoryStore({ maxRecords: RECORDS });
  const started = performance.now();
  const firstId = await fill(store, RECORDS);
  const fillMs = performance.now() - started;
  const after = heapUsed();
  if (store.size !== RECORDS) throw new Error(`expected ${RECORDS} records, the store holds ${store.size}`);

  const scaledMax = RECORDS / 10;
  const scaled = new MemoryStore({ maxRecords: scaledMax });
  const scaledFirst = await fill(scaled, scaledMax);

  return {
    gcForced: typeof globalThis.gc === 'function',
    records: RECORDS,
    heapUsedBeforeMB: round(before / MB, 1),
    heapUsedAfterMB: round(after / MB, 1),
    heapDeltaMB: round((after - before) / MB, 1),
    bytesPerRecord: round((after - before) / RECORDS, 0),
    insertsPerSecond: round(RECORDS / (fillMs / 1000), 0),
    overCap: await overCap(store, RECORDS, firstId, OVERFLOW),
    overCapScaled: await overCap(scaled, scaledMax, scaledFirst, scaledMax / 2),
    sweep: await measureSweep(),
  };
}

/** Runs the measurement in a fresh process with --expose-gc, so its heap holds nothing else. */
export function runMemoryBench(): Promise<MemoryResult> {
  return runOnce<MemoryResult>(path.join(__dirname, 'memory.ts'), ['--expose-gc']);
}

if (isBenchChild()) {
  measureMemory().then(
    (result) => process.send?.(result, () => process.disconnect()),
    (error: unknown) => {
      console.error(error);
      process.exit(1);
    },
  );
}
