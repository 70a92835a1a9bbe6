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
 */
export interface PasswordLoadCase {
  readonly passwordConcurrency: number;
  readonly threadpoolSize: number;
}

export interface PasswordLoadResult extends PasswordLoadCase {
  readonly clients: number;
  /** bcrypt.compare per second at `passwordConcurrency` at once, in-process without HTTP: what the cores allow. */
  readonly hashesPerSecond: number;
  readonly guardSolo: { readonly requestsPerSecond: number; readonly p99Ms: number };
  readonly guardUnderLoad: { readonly requestsPerSecond: number; readonly p99Ms: number };
  /** Guard req/s under load ÷ alone (goal ≥ 0.75), and p99 under load ÷ alone (goal ≤ 2). */
  readonly guardThroughputRatio: number;
  readonly guardP99Ratio: number;
  /** Password verifications that passed per second while the guard was measured (records made), and ÷ hashesPerSecond (goal ≥ 0.9). */
  readonly passwordsPerSecond: number;
  readonly passwordRatio: number;
  readonly passwordP99Ms: number;
  readonly passwordStatuses: Readonly<Record<string, number>>;
}

const PASSWORD = 'the-right-password-123';
const COST = 10;
const CLIENTS = 50;
const GUARD_REQUESTS = 4000;
const GUARD_ROUNDS = 3;

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

async function hashesPerSecond(hash: string, concurrency: number, durationMs: number): Promise<number> {
  let done = 0;
  const until = performance.now() + durationMs;
  const worker = async () => {
    while (performance.now() < until) {
      await bcrypt.compare(PASSWORD, hash);
      done += 1;
    }
  };
  const started = performance.now();
  await Promise.all(Array.from({ length: concurrency }, worker));
  return done / ((performance.now() - started) / 1000);
}

function summary(results: readonly LoadResult[]) {
  return {
    requestsPerSecond: round(median(results.map((r) => r.requestsPerSecond)), 0),
    p99Ms: round(median(results.map((r) => r.p99Ms)), 2),
  };
}

async function measureCase(c: PasswordLoadCase): Promise<PasswordLoadResult> {
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
    const passwords = (count: number): LoadJob => ({
      port: app.port,
      method: 'POST',
      path: '/v/password',
      headers: { authorization: `Bearer ${token}` },
      idHeader: 'x-bench',
      ids: '-',
      count,
      concurrency: CLIENTS,
      body: JSON.stringify({ password: PASSWORD }),
      honorRetryAfter: true,
    });

    await guardLoad.run(guard(2000));
    await passwordLoad.run({ ...passwords(CLIENTS), concurrency: 5 });
    const hashes = await hashesPerSecond(hash, c.passwordConcurrency, 3000);

    const solo: LoadResult[] = [];
    for (let i = 0; i < GUARD_ROUNDS; i += 1) solo.push(await guardLoad.run(guard(GUARD_REQUESTS)));

    // The password load runs from before the first loaded guard round to after the last one.
    const loaded: LoadResult[] = [];
    let guardDone = false;
    const passwordRuns: LoadResult[] = [];
    const passwordLoop = (async () => {
      while (!guardDone) passwordRuns.push(await passwordLoad.run(passwords(CLIENTS * 2)));
    })();
    await new Promise((resolve) => setTimeout(resolve, 1000));
    // Verifications that passed while the guard was measured: each made one record in the store.
    const sizeBefore = store.size;
    const loadedFrom = performance.now();
    for (let i = 0; i < GUARD_ROUNDS; i += 1) loaded.push(await guardLoad.run(guard(GUARD_REQUESTS)));
    const passwordsPerSecond = (store.size - sizeBefore) / ((performance.now() - loadedFrom) / 1000);
    guardDone = true;
    await passwordLoop;

    const statuses: Record<string, number> = {};
    for (const run of passwordRuns) for (const [status, n] of Object.entries(run.statuses)) statuses[status] = (statuses[status] ?? 0) + n;
    const guardSolo = summary(solo);
    const guardUnderLoad = summary(loaded);
    for (const r of [...solo, ...loaded]) if (r.statuses['200'] !== r.count) throw new Error(`guard: expected only 200s, got ${JSON.stringify(r.statuses)}`);
    return {
      ...c,
      clients: CLIENTS,
      hashesPerSecond: round(hashes, 1),
      guardSolo,
      guardUnderLoad,
      guardThroughputRatio: round(guardUnderLoad.requestsPerSecond / guardSolo.requestsPerSecond, 2),
      guardP99Ratio: round(guardUnderLoad.p99Ms / guardSolo.p99Ms, 2),
      passwordsPerSecond: round(passwordsPerSecond, 1),
      passwordRatio: round(passwordsPerSecond / hashes, 2),
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
