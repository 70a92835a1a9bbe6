import type Redis from 'ioredis';
import { MemoryStore, RedisStore, type VerificationStore } from '../lib/index';
import { accessToken, createRecords, GUARD_PATHS, startApp, type BenchApp } from './app';
import type { LoadClient, LoadJob, LoadResult } from './load-client';
import { commandCounts, commandDelta, connectClient } from './redis-server';
import { median, round } from './stats';

export type StoreKind = 'memory' | 'redis';

export interface GuardScenario {
  readonly guard: 'reusable' | 'single-use';
  readonly store: StoreKind;
}

export interface GuardResult extends GuardScenario {
  readonly requestsPerRound: number;
  readonly rounds: number;
  readonly concurrency: number;
  /** Medians over the rounds (each round: `requestsPerRound` requests). */
  readonly requestsPerSecond: number;
  readonly p50Ms: number;
  readonly p99Ms: number;
  /** Slowest and fastest round, requests/s. */
  readonly requestsPerSecondRange: readonly [number, number];
  /** Slowest single request over all rounds. */
  readonly maxMs: number;
  /** INFO commandstats delta per request over all rounds (RedisStore only; counts commands run inside Lua too). */
  readonly commandstatsPerRequest: number | null;
}

export const GUARD_SCENARIOS: readonly GuardScenario[] = [
  { guard: 'reusable', store: 'memory' },
  { guard: 'single-use', store: 'memory' },
  { guard: 'reusable', store: 'redis' },
  { guard: 'single-use', store: 'redis' },
];

export interface GuardBenchOptions {
  readonly load: LoadClient;
  readonly redisUrl: string;
  readonly admin: Redis;
  readonly requests: number;
  readonly rounds: number;
  readonly warmup: number;
  readonly concurrency: number;
}

/** A store of the given kind, with a prefix of its own on the shared private Redis. */
export async function openStore(kind: StoreKind, redisUrl: string, prefix: string): Promise<{ store: VerificationStore; close(): Promise<void> }> {
  if (kind === 'memory') return { store: new MemoryStore({ maxRecords: 1_000_000 }), close: async () => undefined };
  const client = await connectClient(redisUrl);
  return { store: new RedisStore({ client, prefix }), close: async () => void (await client.quit()) };
}

/** One scenario's app and records: a reusable guard is hit with one record id, a single-use guard with a fresh record per request. */
interface Fixture {
  readonly scenario: GuardScenario;
  /** The next `count` requests (single use: each with a record not used before). */
  job(count: number): LoadJob;
  close(): Promise<void>;
}

async function openFixture(scenario: GuardScenario, options: GuardBenchOptions, totalRequests: number): Promise<Fixture> {
  const { store, close } = await openStore(scenario.store, options.redisUrl, `bench:guard:${scenario.guard}:`);
  let app: BenchApp | undefined;
  try {
    app = await startApp(store);
    const port = app.port;
    const singleUse = scenario.guard === 'single-use';
    const ids = await createRecords(store, singleUse ? totalRequests : 1);
    let used = 0;
    const closeApp = app.close;
    return {
      scenario,
      job: (count) => {
        const from = used;
        if (singleUse) used += count;
        return {
          port,
          method: singleUse ? 'POST' : 'GET',
          path: singleUse ? GUARD_PATHS.singleUse : GUARD_PATHS.reusable,
          headers: { authorization: `Bearer ${accessToken()}` },
          idHeader: 'verification-id',
          ids: singleUse ? ids.slice(from, from + count) : (ids[0] as string),
          count,
          concurrency: options.concurrency,
        };
      },
      close: async () => {
        await closeApp();
        await close();
      },
    };
  } catch (error) {
    await app?.close();
    await close();
    throw error;
  }
}

function expectAllOk(result: LoadResult, scenario: GuardScenario, phase: string): void {
  if (result.statuses['200'] !== result.count) {
    throw new Error(`${scenario.guard} guard on ${scenario.store}, ${phase}: expected only 200s, got ${JSON.stringify(result.statuses)}`);
  }
}

/**
 * Requests/s and latency of guarded routes over HTTP (keep-alive, bounded
 * concurrency). Every scenario is warmed up, then the scenarios take turns for
 * `rounds` rounds, so that drift of a shared machine spreads over all of them;
 * the medians of the rounds are reported.
 */
export async function runGuardBench(options: GuardBenchOptions): Promise<GuardResult[]> {
  const total = options.warmup + options.rounds * options.requests;
  const fixtures: Fixture[] = [];
  try {
    for (const scenario of GUARD_SCENARIOS) fixtures.push(await openFixture(scenario, options, total));
    for (const fixture of fixtures) expectAllOk(await options.load.run(fixture.job(options.warmup)), fixture.scenario, 'warm-up');

    const runs = fixtures.map(() => [] as LoadResult[]);
    const commands = fixtures.map(() => 0);
    for (let round = 0; round < options.rounds; round += 1) {
      for (const [i, fixture] of fixtures.entries()) {
        const redis = fixture.scenario.store === 'redis';
        const before = redis ? await commandCounts(options.admin) : null;
        const result = await options.load.run(fixture.job(options.requests));
        if (before) commands[i] = (commands[i] ?? 0) + commandDelta(before, await commandCounts(options.admin)).total;
        expectAllOk(result, fixture.scenario, `round ${round + 1}`);
        runs[i]?.push(result);
      }
    }

    return fixtures.map((fixture, i): GuardResult => {
      const results = runs[i] ?? [];
      const rates = results.map((r) => r.requestsPerSecond);
      return {
        ...fixture.scenario,
        requestsPerRound: options.requests,
        rounds: options.rounds,
        concurrency: options.concurrency,
        requestsPerSecond: round(median(rates), 0),
        p50Ms: round(median(results.map((r) => r.p50Ms)), 2),
        p99Ms: round(median(results.map((r) => r.p99Ms)), 2),
        requestsPerSecondRange: [Math.min(...rates), Math.max(...rates)],
        maxMs: round(Math.max(...results.map((r) => r.maxMs)), 2),
        commandstatsPerRequest: fixture.scenario.store === 'redis' ? round((commands[i] ?? 0) / (options.rounds * options.requests), 3) : null,
      };
    });
  } finally {
    for (const fixture of fixtures) await fixture.close();
  }
}
