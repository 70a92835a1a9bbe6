import path from 'node:path';
import { performance } from 'node:perf_hooks';
import bcrypt from 'bcrypt';
import { MemoryStore, type StepUpUser } from '../lib/index';
import { defaultPasswordConcurrency } from '../lib/password';
import { accessToken, BENCH_USER, createRecords, guardJob, startApp } from './app';
import { isBenchChild, runOnce } from './child';
import { LoadClient, type LoadJob, type LoadResult } from './load-client';
import { median, round } from './stats';

/**
 * bcrypt beside the guard in one process: 50 clients on POST /v/password while the guard is
 * measured, against the guard alone. Each case runs in a fresh process with its own
 * UV_THREADPOOL_SIZE (libuv reads it once, at the first use of the threadpool).
 *
 * What the cores allow is measured beside the same guard load: on a machine whose cores also run
 * the guard's event loop and the load generators, bcrypt alone in the process (nothing else
 * running) gets more CPU than any hashing slot can beside the guard, so comparing the endpoint to
 * that figure charged the machine's contention to the endpoint. Each round measures three windows
 * of the same length, one after the other: the guard alone, the guard beside in-process
 * bcrypt.compare at `passwordConcurrency` at once (no HTTP, no queue: the reference), and the guard
 * beside the 50 HTTP clients; the ratios are taken per round and their medians reported.
 */
export interface PasswordLoadCase {
  readonly passwordConcurrency: number;
  readonly threadpoolSize: number;
}

export interface PasswordLoadResult extends PasswordLoadCase {
  readonly clients: number;
  readonly rounds: number;
  /** bcrypt.compare per second at `passwordConcurrency` at once, in-process, nothing else running. Reported, not a goal. */
  readonly hashesPerSecondAlone: number;
  /** The same beside the guard's load (median of the rounds): what the cores allow next to the guard. */
  readonly hashesPerSecond: number;
  readonly guardSolo: { readonly requestsPerSecond: number; readonly p99Ms: number };
  readonly guardUnderLoad: { readonly requestsPerSecond: number; readonly p99Ms: number };
  /** Guard req/s under load ÷ alone (goal ≥ 0.75), and p99 under load ÷ alone (goal ≤ 2): medians of the per-round ratios. */
  readonly guardThroughputRatio: number;
  readonly guardP99Ratio: number;
  /** Guard req/s beside the in-process hashing (no HTTP) ÷ alone: what bcrypt's CPU alone costs the guard. Reported, not a goal. */
  readonly guardBesideHashesRatio: number;
  /** Password verifications that passed per second while the guard was measured (records made), and ÷ hashesPerSecond of the same round (goal ≥ 0.9). */
  readonly passwordsPerSecond: number;
  readonly passwordRatio: number;
  /**
   * Hashes in flight ÷ `passwordConcurrency`, averaged over the HTTP windows: 1 when a hash is
   * always running in every slot (seen from JavaScript: from bcrypt.compare() to its answer).
   */
  readonly slotOccupancy: number;
  readonly passwordP99Ms: number;
  readonly passwordStatuses: Readonly<Record<string, number>>;
}

const PASSWORD = 'the-right-password-123';
const COST = 10;
const CLIENTS = 50;
const ROUNDS = 5;
/** Length of each measured window. */
const WINDOW_MS = 2500;
/** The password load runs this long before its window, to reach its steady state (a full queue). */
const PASSWORD_RAMP_MS = 1000;
/** Requests of a job that is stopped after its window (never reached). */
const UNTIL_STOPPED = 1_000_000;

/** The cases: the default bound on this machine with threadpools of 1, 2 and 4, and no bound (64) with the default pool. */
export function passwordLoadCases(): PasswordLoadCase[] {
  const bound = defaultPasswordConcurrency();
  return [
    { passwordConcurrency: bound, threadpoolSize: 1 },
    { passwordConcurrency: bound, threadpoolSize: 2 },
    { passwordConcurrency: bound, threadpoolSize: 4 },
    { passwordConcurrency: 64, threadpoolSize: 4 },
  ];
}

/**
 * Counts the bcrypt.compare calls in flight over time, the library's included (it calls the same
 * module object). Only this bench child is patched.
 */
class HashesInFlight {
  #inFlight = 0;
  #since = performance.now();
  #integralMs = 0;

  constructor() {
    const module = bcrypt as unknown as { compare: (data: string, hash: string) => Promise<boolean> };
    const compare = module.compare.bind(bcrypt);
    module.compare = async (data, hash) => {
      this.#step(1);
      try {
        return await compare(data, hash);
      } finally {
        this.#step(-1);
      }
    };
  }

  #step(change: number): void {
    const now = performance.now();
    this.#integralMs += this.#inFlight * (now - this.#since);
    this.#since = now;
    this.#inFlight += change;
  }

  /** Hash-milliseconds in flight so far. */
  integralMs(): number {
    this.#step(0);
    return this.#integralMs;
  }
}

/**
 * When something happened (performance.now()), for its rate in a window: from the first to the last
 * occurrence inside it, so that a window of a few slow hashes is not rounded to whole hashes at its edges.
 */
class Occurrences {
  readonly #at: number[] = [];

  mark(): void {
    this.#at.push(performance.now());
  }

  perSecond(window: Window): number {
    const inside = this.#at.filter((t) => t >= window.from && t <= window.to);
    const first = inside[0];
    const last = inside[inside.length - 1];
    if (first === undefined || last === undefined || last === first) return inside.length / ((window.to - window.from) / 1000);
    return (inside.length - 1) / ((last - first) / 1000);
  }
}

interface Window {
  readonly from: number;
  readonly to: number;
}

/** bcrypt.compare back to back, `concurrency` at once, until the returned stop() is called. */
function hashLoop(hash: string, concurrency: number, done: Occurrences): () => Promise<void> {
  let stopped = false;
  const worker = async () => {
    while (!stopped) {
      await bcrypt.compare(PASSWORD, hash);
      done.mark();
    }
  };
  const workers = Promise.all(Array.from({ length: concurrency }, worker));
  return async () => {
    stopped = true;
    await workers;
  };
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

async function measureCase(c: PasswordLoadCase): Promise<PasswordLoadResult> {
  const inFlight = new HashesInFlight();
  const hash = await bcrypt.hash(PASSWORD, COST);
  const users = new Map<string, StepUpUser>([[BENCH_USER, { id: BENCH_USER, passwordHash: hash, email: null, phone: null }]]);
  const store = new MemoryStore({ maxRecords: 1_000_000 });
  const app = await startApp(store, users, { passwordConcurrency: c.passwordConcurrency });
  const guardLoad = LoadClient.start();
  const passwordLoad = LoadClient.start();
  try {
    const token = accessToken();
    const [id] = await createRecords(store, 1);
    const guard = (count: number) => guardJob(app, { singleUse: false, ids: id as string, count, token, concurrency: 20 });
    const passwords = (count: number, concurrency = CLIENTS): LoadJob => ({
      port: app.port,
      method: 'POST',
      path: '/v/password',
      headers: { authorization: `Bearer ${token}` },
      idHeader: 'x-bench',
      ids: '-',
      count,
      concurrency,
      body: JSON.stringify({ password: PASSWORD }),
      honorRetryAfter: true,
    });
    /** The guard for one window, and the window. */
    const guardWindow = async (): Promise<{ result: LoadResult; window: Window }> => {
      const from = performance.now();
      const result = guardLoad.run(guard(UNTIL_STOPPED));
      await sleep(WINDOW_MS);
      guardLoad.stop();
      return { result: await result, window: { from, to: performance.now() } };
    };
    // Verifications that passed: each made one record in the store.
    const passed = new Occurrences();
    const create = store.create.bind(store);
    store.create = async (record) => {
      await create(record);
      passed.mark();
    };

    await guardLoad.run(guard(2000));
    await passwordLoad.run(passwords(CLIENTS, 5));
    const alone = new Occurrences();
    const stopAlone = hashLoop(hash, c.passwordConcurrency, alone);
    const aloneFrom = performance.now();
    await sleep(WINDOW_MS);
    const hashesAlone = alone.perSecond({ from: aloneFrom, to: performance.now() });
    await stopAlone();

    const rounds: { solo: LoadResult; besideHashes: LoadResult; loaded: LoadResult; hashes: number; passwords: number; occupancy: number }[] = [];
    const passwordRuns: LoadResult[] = [];
    for (let round = 0; round < ROUNDS; round += 1) {
      const solo = await guardWindow();

      const referenceHashes = new Occurrences();
      const stopReference = hashLoop(hash, c.passwordConcurrency, referenceHashes);
      const besideHashes = await guardWindow();
      await stopReference();

      const passwordRun = passwordLoad.run(passwords(UNTIL_STOPPED));
      await sleep(PASSWORD_RAMP_MS);
      const inFlightBefore = inFlight.integralMs();
      const loaded = await guardWindow();
      const occupancy = (inFlight.integralMs() - inFlightBefore) / ((loaded.window.to - loaded.window.from) * c.passwordConcurrency);
      passwordLoad.stop();
      passwordRuns.push(await passwordRun);
      rounds.push({
        solo: solo.result,
        besideHashes: besideHashes.result,
        loaded: loaded.result,
        hashes: referenceHashes.perSecond(besideHashes.window),
        passwords: passed.perSecond(loaded.window),
        occupancy,
      });
    }

    for (const r of rounds) {
      for (const run of [r.solo, r.besideHashes, r.loaded]) if (run.statuses['200'] !== run.count) throw new Error(`guard: expected only 200s, got ${JSON.stringify(run.statuses)}`);
    }
    const statuses: Record<string, number> = {};
    for (const run of passwordRuns) for (const [status, n] of Object.entries(run.statuses)) statuses[status] = (statuses[status] ?? 0) + n;
    const medianOf = (pick: (r: (typeof rounds)[number]) => number) => median(rounds.map(pick));
    return {
      ...c,
      clients: CLIENTS,
      rounds: ROUNDS,
      hashesPerSecondAlone: round(hashesAlone, 1),
      hashesPerSecond: round(medianOf((r) => r.hashes), 1),
      guardSolo: { requestsPerSecond: round(medianOf((r) => r.solo.requestsPerSecond), 0), p99Ms: round(medianOf((r) => r.solo.p99Ms), 2) },
      guardUnderLoad: { requestsPerSecond: round(medianOf((r) => r.loaded.requestsPerSecond), 0), p99Ms: round(medianOf((r) => r.loaded.p99Ms), 2) },
      guardThroughputRatio: round(medianOf((r) => r.loaded.requestsPerSecond / r.solo.requestsPerSecond), 2),
      guardP99Ratio: round(medianOf((r) => r.loaded.p99Ms / r.solo.p99Ms), 2),
      guardBesideHashesRatio: round(medianOf((r) => r.besideHashes.requestsPerSecond / r.solo.requestsPerSecond), 2),
      passwordsPerSecond: round(medianOf((r) => r.passwords), 1),
      passwordRatio: round(medianOf((r) => r.passwords / r.hashes), 2),
      slotOccupancy: round(medianOf((r) => r.occupancy), 3),
      passwordP99Ms: round(median(passwordRuns.map((r) => r.p99Ms)), 1),
      passwordStatuses: statuses,
    };
  } finally {
    await guardLoad.close();
    await passwordLoad.close();
    await app.close();
  }
}

/** Runs every case, each in a fresh process with its UV_THREADPOOL_SIZE. */
export async function runPasswordLoadBench(cases: readonly PasswordLoadCase[] = passwordLoadCases()): Promise<PasswordLoadResult[]> {
  const results: PasswordLoadResult[] = [];
  for (const c of cases) {
    results.push(
      await runOnce<PasswordLoadResult>(path.join(__dirname, 'password-load.ts'), [], {
        UV_THREADPOOL_SIZE: String(c.threadpoolSize),
        BENCH_PASSWORD_CASE: JSON.stringify(c),
      }),
    );
  }
  return results;
}

if (isBenchChild()) {
  measureCase(JSON.parse(process.env.BENCH_PASSWORD_CASE as string) as PasswordLoadCase).then(
    (result) => process.send?.(result, () => process.disconnect()),
    (error: unknown) => {
      console.error(error);
      process.exit(1);
    },
  );
}
