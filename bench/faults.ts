/**
 * `npm run bench:faults`: the guard under Redis faults. For each scenario it starts the bench app
 * (bench/app.ts: requireVerification() on a RedisStore) in a process of its own, puts steady load on
 * its reusable and single-use routes from another process, injects one fault, and checks the answers
 * against the rules:
 *
 * - during an outage every failing answer is 503 `verification.unavailable`, within
 *   LIMITS.maxFailingMs (the store bounds each call by its `timeoutMs`, 1000 ms by default);
 * - no 2xx for a record no Redis could check (see FaultTimeline.data);
 * - the 2xx rate is back to 90 % of the 3 s before the fault within 2 s of Redis answering again
 *   (with the fail-fast client options, with or without auto-pipelining; shown in brackets, not
 *   asserted, with ioredis defaults);
 * - the app process neither crashes nor leaves an unhandled rejection;
 * - SCRIPT FLUSH costs at most the requests in flight; a killed master's consumed single-use
 *   records do not pass again on the promoted replica.
 *
 * Faults: one redis-server killed (SIGKILL) for 5 s and started again on the same port, empty;
 * SCRIPT FLUSH; CLIENT PAUSE 3000; and on a three-master Redis Cluster with one replica each, a
 * planned failover (CLUSTER FAILOVER on the replica) and a killed master (its replica promoted).
 * Each with the fail-fast ioredis options, the same with auto-pipelining, and ioredis defaults
 * (see ClientOptionsKind; README_OPTIONS tells which the README recommends where).
 *
 * Private redis-servers on free ports only (never 6379). Prints a table, writes
 * bench/results/faults.json, exits 1 when a rule is broken. Not run by CI (it takes minutes and
 * kills processes on purpose).
 */
import http from 'node:http';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import Redis, { Cluster } from 'ioredis';
import { RedisStore } from '../lib/index';
import { BENCH_USER, createRecords, GUARD_PATHS } from './app';
import { FaultApp, type ClientOptionsKind, type RedisTarget } from './fault-app';
import { analyze, BASELINE_MS, brokenRules, type FaultTimeline, type Limits, type ScenarioAnalysis } from './fault-analysis';
import { redisCommand, ReplicatedCluster, RestartableRedis, snapshotOf, type RdbSnapshot } from './fault-redis';
import { SteadyLoad, wallClockMs, type Samples } from './steady-load';
import { LoadClient, type LoadJob } from './load-client';
import { formatInt, median, printTable, round } from './stats';

const SETTINGS = {
  /** Requests in flight on each route, all the time. */
  concurrency: { reusable: 10, singleUse: 10 },
  warmupMs: 3000,
  /** Load after Redis is back (recovery is asserted within the first 2 s of it). */
  afterMs: 4000,
  killForMs: 5000,
  pauseMs: 3000,
  /**
   * Single-use records created before the load starts (enough for the run, so that creating more
   * does not take CPU from the app while it is measured), and per refill if the pool runs low.
   */
  initialRecords: 40_000,
  refillRecords: 10_000,
  /** Fresh single-use records the restarted server starts with (enough for the rest of the run). */
  recreated: 20_000,
} as const;

/** The no-fault comparison of one redis-server and the Cluster, with and without auto-pipelining: alternating rounds. */
const COMPARE = { rounds: 5, requestsPerRound: 2000, concurrency: 20 } as const;

const STORE_TIMEOUT_MS = 1000; // RedisStore's default timeoutMs, which the app uses
const LIMITS: Limits = {
  maxFailingMs: STORE_TIMEOUT_MS + 200,
  recoveryShare: 0.9,
  maxRecoveryMs: 2000,
  assertRecovery: true,
  max5xx: null,
};
const IN_FLIGHT = SETTINGS.concurrency.reusable + SETTINGS.concurrency.singleUse;
const PREFIX = 'bench:faults:';
const HARD_TIMEOUT_MS = 15 * 60_000;

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const sleepUntil = (wallMs: number) => sleep(Math.max(0, wallMs - wallClockMs()));
const progress = (stage: string) => process.stderr.write(`… ${stage}\n`);

/** The bench's own client and store for creating records (not the app's: its load and faults are the app's own). */
class RecordSupply {
  #client: Redis | Cluster;
  #store: RedisStore;

  private constructor(client: Redis | Cluster, readonly userId: string, private readonly reopen: () => Redis | Cluster) {
    this.#client = client;
    this.#store = new RedisStore({ client, prefix: PREFIX, timeoutMs: 5000 });
  }

  static async open(target: RedisTarget, userId: string): Promise<RecordSupply> {
    const open = (): Redis | Cluster => {
      // Retries at once and often: the bench must not add its own reconnect delay to a recovery.
      const client =
        target.kind === 'single'
          ? new Redis(target.url, { maxRetriesPerRequest: 1, retryStrategy: () => 50 })
          : new Cluster(target.nodes.map((n) => ({ ...n })), { clusterRetryStrategy: () => 50, redisOptions: { maxRetriesPerRequest: 1 } });
      client.on('error', () => undefined); // outages are the point here; create() calls report failures
      return client;
    };
    const supply = new RecordSupply(open(), userId, open);
    await supply.#ready();
    return supply;
  }

  get store(): RedisStore {
    return this.#store;
  }

  create(count: number): Promise<string[]> {
    return createRecords(this.#store, count, { userId: this.userId });
  }

  /** A new connection (after a restart, rather than wait for the old one's reconnect). */
  async reconnect(): Promise<void> {
    this.#client.disconnect();
    this.#client = this.reopen();
    this.#store = new RedisStore({ client: this.#client, prefix: PREFIX, timeoutMs: 5000 });
    await this.#ready();
  }

  async close(): Promise<void> {
    this.#client.disconnect();
  }

  #ready(): Promise<void> {
    const client = this.#client;
    if (client.status === 'ready') return Promise.resolve();
    return new Promise((resolve) => client.once('ready', () => resolve()));
  }
}

/** What a fault step may use. */
interface FaultContext {
  readonly supply: RecordSupply;
  readonly load: SteadyLoad;
}

interface Fault {
  readonly name: string;
  /** Runs before the app and the load start (work that must not take CPU from them). */
  prepare?(userId: string): Promise<void>;
  /** Injects the fault; resolves when Redis answers again, with the timeline. */
  inject(context: FaultContext): Promise<FaultTimeline>;
  readonly limits: Limits;
  /** Single-use ids to send again after the load, and whether any 2xx among them breaks a rule. */
  replay?(samples: Samples, timeline: FaultTimeline): { ids: string[]; rule: boolean; what: string };
  /** Runs after the scenario (e.g. bring a killed cluster node back). */
  after?(): Promise<void>;
}

interface Scenario {
  readonly redis: 'single' | 'cluster';
  readonly options: ClientOptionsKind;
  readonly fault: Fault;
  readonly target: RedisTarget;
  readonly userId: string;
}

interface ScenarioResult {
  readonly redis: 'single' | 'cluster';
  readonly options: ClientOptionsKind;
  readonly fault: string;
  readonly analysis: ScenarioAnalysis;
  readonly timeline: { readonly outageMs: number; readonly injectedToOutageMs: number; readonly requests: number };
  readonly crash: string | null;
  readonly unhandledRejections: number;
  readonly uncaughtExceptions: number;
  readonly processFaults: readonly string[];
  readonly clientErrorEvents: number;
  readonly replay: { readonly what: string; readonly sent: number; readonly statuses: Record<string, number>; readonly asserted: boolean } | null;
  readonly recoveryAsserted: boolean;
  readonly broken: readonly string[];
}

/** Sends each id once to POST /single-use, 10 at a time; answers by status. */
async function replaySingleUse(port: number, token: string, ids: readonly string[]): Promise<Record<string, number>> {
  const agent = new http.Agent({ keepAlive: true, maxSockets: 10 });
  const statuses: Record<string, number> = {};
  let next = 0;
  const worker = async () => {
    for (let i = next++; i < ids.length; i = next++) {
      const status = await new Promise<number>((resolve) => {
        const req = http.request(
          { host: '127.0.0.1', port, method: 'POST', path: '/single-use', agent, headers: { authorization: `Bearer ${token}`, 'verification-id': ids[i], 'content-length': '0' } },
          (res) => {
            res.resume();
            res.once('end', () => resolve(res.statusCode ?? 0));
          },
        );
        req.once('error', () => resolve(0));
        req.end();
      });
      statuses[status] = (statuses[status] ?? 0) + 1;
    }
  };
  await Promise.all(Array.from({ length: 10 }, worker));
  agent.destroy();
  return statuses;
}

async function runScenario(scenario: Scenario): Promise<ScenarioResult> {
  const { fault } = scenario;
  progress(`${scenario.redis}, ${scenario.options} client options: ${fault.name}`);
  await fault.prepare?.(scenario.userId);
  const supply = await RecordSupply.open(scenario.target, scenario.userId);
  const app = await FaultApp.start(scenario.target, scenario.options, scenario.userId);
  let load: SteadyLoad | undefined;
  let stopped = false;
  try {
    const [reusableId] = await supply.create(1);
    const pool = await supply.create(SETTINGS.initialRecords);
    let refilling = false;
    const refill = async () => {
      if (refilling) return;
      refilling = true;
      // Keeps trying through an outage: records created once Redis is back are valid ones.
      while (!stopped) {
        try {
          load?.addSingleUse(await supply.create(SETTINGS.refillRecords));
          break;
        } catch {
          await sleep(100);
        }
      }
      refilling = false;
    };
    const started = SteadyLoad.start({ port: app.port, token: app.token, concurrency: SETTINGS.concurrency }, reusableId as string, pool, () => void refill());
    load = started;
    await sleep(SETTINGS.warmupMs + BASELINE_MS);
    const timeline = await fault.inject({ supply, load: started });
    await sleepUntil(timeline.backMs + SETTINGS.afterMs);
    load = undefined;
    const samples = await started.stop();
    stopped = true;

    const plan = fault.replay?.(samples, timeline);
    const replay = plan === undefined ? null : { what: plan.what, sent: plan.ids.length, statuses: await replaySingleUse(app.port, app.token, plan.ids), asserted: plan.rule };
    const clientErrorEvents = await app.clientErrors().catch(() => -1);
    await app.close();

    // The recovery is asserted with the fail-fast options, with and without auto-pipelining (on one server their
    // capped retryStrategy brings the client back: ioredis 6's own backs off up to 5 s between reconnection
    // attempts). With ioredis defaults only the outage answers are asserted (503 within about a second); the
    // recovery is shown.
    const failFast = scenario.options !== 'defaults';
    const limits: Limits = { ...fault.limits, assertRecovery: fault.limits.assertRecovery && failFast };
    const analysis = analyze(samples, timeline, limits);
    const count = (kind: string) => app.faults.filter((f) => f.kind === kind).length;
    const health = { crash: app.crash, unhandledRejections: count('unhandledRejection'), uncaughtExceptions: count('uncaughtException') };
    const replayedPasses = replay?.asserted === true ? Object.entries(replay.statuses).filter(([s]) => s.startsWith('2')).reduce((n, [, c]) => n + c, 0) : null;
    return {
      redis: scenario.redis,
      options: scenario.options,
      fault: fault.name,
      analysis,
      timeline: { outageMs: analysis.outageMs, injectedToOutageMs: round(timeline.outageStartMs - timeline.injectedMs, 1), requests: samples.status.length },
      ...health,
      processFaults: app.faults.map((f) => `${f.kind}: ${f.message}`),
      clientErrorEvents,
      replay,
      recoveryAsserted: limits.assertRecovery,
      broken: brokenRules(analysis, health, limits, replayedPasses),
    };
  } finally {
    stopped = true;
    if (load !== undefined) await load.stop().catch(() => undefined);
    await app.close();
    await supply.close();
    await fault.after?.();
  }
}

// ---- faults on one redis-server ----

function killAndRestart(redis: RestartableRedis): Fault {
  // The records users create after the restart (new ids, so no request sent during the outage can
  // match one) are written before the load starts into a snapshot the restarted server loads:
  // creating them after the restart would take CPU from the app while its recovery is measured.
  let seed: { snapshot: RdbSnapshot; reusable: string; fresh: string[] } | undefined;
  let dir: string | undefined;
  return {
    name: `killed (SIGKILL) for ${SETTINGS.killForMs / 1000} s, restarted empty`,
    limits: LIMITS,
    async prepare(userId) {
      dir = mkdtempSync(path.join(os.tmpdir(), 'stepup-faults-seed-'));
      let reusable = '';
      let fresh: string[] = [];
      const snapshot = await snapshotOf(dir, async (url) => {
        const seeding = await RecordSupply.open({ kind: 'single', url }, userId);
        try {
          [reusable = ''] = await seeding.create(1);
          fresh = await seeding.create(SETTINGS.recreated);
        } finally {
          await seeding.close();
        }
      });
      seed = { snapshot, reusable, fresh };
    },
    async inject({ supply, load }) {
      if (seed === undefined) throw new Error('killAndRestart: prepare() did not run');
      const injectedMs = wallClockMs();
      await redis.kill();
      const outageStartMs = wallClockMs();
      await sleepUntil(injectedMs + SETTINGS.killForMs);
      await redis.restart(seed.snapshot);
      const backMs = wallClockMs();
      load.setReusable(seed.reusable);
      load.addSingleUse(seed.fresh, true);
      await supply.reconnect(); // for refills, should the pool run low
      return { injectedMs, outageStartMs, unverifiableUntilMs: backMs, backMs, data: 'lost' };
    },
    async after() {
      if (dir !== undefined) rmSync(dir, { recursive: true, force: true });
    },
  };
}

function scriptFlush(redis: RestartableRedis): Fault {
  return {
    name: 'SCRIPT FLUSH',
    limits: { ...LIMITS, max5xx: IN_FLIGHT },
    async inject() {
      const injectedMs = wallClockMs();
      await redisCommand(redis.port, 'SCRIPT', 'FLUSH');
      const doneMs = wallClockMs();
      return { injectedMs, outageStartMs: doneMs, unverifiableUntilMs: doneMs, backMs: doneMs, data: 'none' };
    },
  };
}

function clientPause(redis: RestartableRedis): Fault {
  return {
    name: `CLIENT PAUSE ${SETTINGS.pauseMs}`,
    limits: LIMITS,
    async inject() {
      const injectedMs = wallClockMs();
      await redisCommand(redis.port, 'CLIENT', 'PAUSE', String(SETTINGS.pauseMs));
      const outageStartMs = wallClockMs();
      // The pause runs from when Redis read the command, which is after injectedMs.
      const endMs = injectedMs + SETTINGS.pauseMs;
      await sleepUntil(endMs);
      return { injectedMs, outageStartMs, unverifiableUntilMs: endMs, backMs: endMs, data: 'kept' };
    },
  };
}

// ---- faults on the cluster ----

async function benchUserSlot(cluster: ReplicatedCluster, store: RedisStore, userId: string): Promise<number> {
  const [, revocationKey] = store.keysFor(userId, '');
  return Number(await cluster.command((cluster.nodes[0] as { port: number }).port, 'CLUSTER', 'KEYSLOT', revocationKey));
}

const PLANNED_FAILOVER = "CLUSTER FAILOVER on the replica of the bench user's master";
const KILLED_MASTER = "the bench user's master killed (SIGKILL), replica promoted";

function plannedFailover(cluster: ReplicatedCluster, slotOf: (store: RedisStore) => Promise<number>): Fault {
  return {
    name: PLANNED_FAILOVER,
    limits: LIMITS,
    async inject({ supply }) {
      const { replica } = await cluster.ownersOf(await slotOf(supply.store));
      const injectedMs = wallClockMs();
      await cluster.command(replica, 'CLUSTER', 'FAILOVER');
      const outageStartMs = wallClockMs();
      const { masterMs } = await cluster.waitMaster(replica);
      // A planned failover keeps every record checkable (the master waits for its replica to catch up).
      return { injectedMs, outageStartMs, unverifiableUntilMs: outageStartMs, backMs: masterMs, data: 'none' };
    },
    after: () => cluster.waitHealthy(),
  };
}

function killedMaster(cluster: ReplicatedCluster, slotOf: (store: RedisStore) => Promise<number>): Fault {
  let killed: number | undefined;
  return {
    name: KILLED_MASTER,
    limits: LIMITS,
    async inject({ supply }) {
      const { master, replica } = await cluster.ownersOf(await slotOf(supply.store));
      killed = master;
      const injectedMs = wallClockMs();
      await cluster.kill(master);
      const outageStartMs = wallClockMs();
      const { stillReplicaMs, masterMs } = await cluster.waitMaster(replica);
      return { injectedMs, outageStartMs, unverifiableUntilMs: stillReplicaMs, backMs: masterMs, data: 'kept' };
    },
    // Records the killed master consumed in its last second: a DEL it had not yet sent to its replica would let one pass again.
    replay: (samples, timeline) => ({
      ids: samples.id.filter(
        (_, i) => samples.route[i] === 'singleUse' && samples.status[i] === 200 && (samples.endMs[i] as number) >= timeline.outageStartMs - 1000 && (samples.endMs[i] as number) < timeline.outageStartMs,
      ),
      rule: true,
      what: 'single-use records consumed in the last second before the kill, sent again after the promotion',
    }),
    async after() {
      if (killed === undefined) return;
      await cluster.restart(killed);
      await cluster.waitHealthy();
    },
  };
}

// ---- one redis-server and the Cluster, no fault ----

/** The client options of the no-fault comparison: the fail-fast ones, with and without auto-pipelining. */
const COMPARED_OPTIONS = ['fail-fast', 'fail-fast+pipelining'] as const;

export interface ComparedSetup {
  readonly redis: 'single' | 'cluster';
  readonly options: (typeof COMPARED_OPTIONS)[number];
  /** Median requests/s over the rounds, per route. */
  readonly reusable: number;
  readonly singleUse: number;
  /** Slowest answer, ms (warm-up included). */
  readonly maxMs: number;
}

export interface ThroughputComparison {
  readonly rounds: number;
  readonly requestsPerRound: number;
  readonly concurrency: number;
  readonly setups: readonly ComparedSetup[];
  /** Answers other than 200 (warm-up included), by "redis options route status". */
  readonly notOk: Readonly<Record<string, number>>;
}

/**
 * The guard's requests/s on one redis-server and on the three-master Cluster, with the fail-fast
 * client options with and without auto-pipelining, no fault: after a warm-up round, the four
 * take turns for COMPARE.rounds rounds (each: a reusable and a single-use job), so that drift of a
 * shared machine spreads over all of them.
 */
async function compareThroughput(targets: Readonly<Record<'single' | 'cluster', RedisTarget>>): Promise<ThroughputComparison> {
  const load = LoadClient.start();
  type Fixture = { redis: 'single' | 'cluster'; options: ComparedSetup['options']; supply: RecordSupply; app: FaultApp; reusable: string; fresh: string[]; used: number };
  const fixtures: Fixture[] = [];
  try {
    for (const redis of ['single', 'cluster'] as const) {
      for (const options of COMPARED_OPTIONS) {
        const supply = await RecordSupply.open(targets[redis], BENCH_USER);
        const app = await FaultApp.start(targets[redis], options, BENCH_USER).catch(async (error: unknown) => {
          await supply.close();
          throw error;
        });
        // Pushed at once, so that `finally` closes them even if creating the records fails.
        const fixture: Fixture = { redis, options, supply, app, reusable: '', fresh: [], used: 0 };
        fixtures.push(fixture);
        const [reusable] = await supply.create(1);
        fixture.reusable = reusable as string;
        fixture.fresh = await supply.create(COMPARE.requestsPerRound * (COMPARE.rounds + 1));
      }
    }
    const rates = new Map<Fixture, { reusable: number[]; singleUse: number[]; maxMs: number }>(fixtures.map((f) => [f, { reusable: [], singleUse: [], maxMs: 0 }]));
    const notOk: Record<string, number> = {};
    for (let round = 0; round <= COMPARE.rounds; round += 1) {
      for (const fixture of fixtures) {
        const measured = rates.get(fixture) as { reusable: number[]; singleUse: number[]; maxMs: number };
        for (const singleUse of [false, true]) {
          const ids = singleUse ? fixture.fresh.slice(fixture.used, fixture.used + COMPARE.requestsPerRound) : fixture.reusable;
          if (singleUse) fixture.used += COMPARE.requestsPerRound;
          const job: LoadJob = {
            port: fixture.app.port,
            method: singleUse ? 'POST' : 'GET',
            path: singleUse ? GUARD_PATHS.singleUse : GUARD_PATHS.reusable,
            headers: { authorization: `Bearer ${fixture.app.token}` },
            idHeader: 'verification-id',
            ids,
            count: COMPARE.requestsPerRound,
            concurrency: COMPARE.concurrency,
          };
          const result = await load.run(job);
          // A 503 here is the store's bound at work on a starved machine (a Redis answer later than the client's commandTimeout): counted and shown, not a failure.
          for (const [status, n] of Object.entries(result.statuses)) {
            if (status === '200') continue;
            const key = `${fixture.redis} ${fixture.options} ${singleUse ? 'single-use' : 'reusable'} ${status}`;
            notOk[key] = (notOk[key] ?? 0) + n;
          }
          measured.maxMs = Math.max(measured.maxMs, result.maxMs);
          if (round > 0) (singleUse ? measured.singleUse : measured.reusable).push(result.requestsPerSecond);
        }
      }
    }
    return {
      rounds: COMPARE.rounds,
      requestsPerRound: COMPARE.requestsPerRound,
      concurrency: COMPARE.concurrency,
      setups: fixtures.map((fixture): ComparedSetup => {
        const measured = rates.get(fixture) as { reusable: number[]; singleUse: number[]; maxMs: number };
        return {
          redis: fixture.redis,
          options: fixture.options,
          reusable: round(median(measured.reusable), 0),
          singleUse: round(median(measured.singleUse), 0),
          maxMs: round(measured.maxMs, 1),
        };
      }),
      notOk,
    };
  } finally {
    for (const fixture of fixtures) {
      await fixture.app.close();
      await fixture.supply.close();
    }
    await load.close().catch(() => undefined);
  }
}

// ---- report ----

const counts = (map: Readonly<Record<string, number>>) =>
  Object.entries(map)
    .sort(([a], [b]) => a.localeCompare(b))
    .map(([key, n]) => `${key}×${n}`)
    .join(' ') || '–';

function report(results: readonly ScenarioResult[], comparison: ThroughputComparison | null, machine: Record<string, string | number>): void {
  console.log(`\nexpress-step-up faults bench: node ${machine.node}, ${machine.platform}, ${machine.cpus} CPU(s): ${machine.cpuModel}, redis-server ${machine.redis}`);
  printTable(
    `Guard under Redis faults: steady load, ${SETTINGS.concurrency.reusable} reusable + ${SETTINGS.concurrency.singleUse} single-use requests in flight; ` +
      `store timeoutMs ${STORE_TIMEOUT_MS}; rules: failing answers 503 within ${LIMITS.maxFailingMs} ms, no 2xx for an uncheckable record, ` +
      `2xx rate ≥ ${LIMITS.recoveryShare * 100} % of the 3 s before within ${LIMITS.maxRecoveryMs} ms of Redis back (fail-fast options, with or without auto-pipelining; in brackets where not asserted); README: the options the README recommends there, no crash or unhandled rejection`,
    ['redis', 'client', 'fault', 'outage ms', '2xx/s before / settled', 'answers from fault to back+2 s', 'max 503 ms', '2xx in outage', 'first 2xx ms', 'recovered ms', 'crash/unhandled', 'pass'],
    results.map((r) => [
      r.redis,
      `${r.options}${README_OPTIONS[r.redis] === r.options ? ' (README)' : ''}`,
      r.fault,
      r.analysis.outageMs,
      `${formatInt(r.analysis.baselinePerSecond)} / ${formatInt(r.analysis.settledPerSecond)}`,
      counts(r.analysis.answersDuringFault),
      r.analysis.maxFailingMs,
      r.analysis.okDuringOutage,
      r.analysis.firstOkMs,
      r.recoveryAsserted ? r.analysis.recoveryMs : `(${r.analysis.recoveryMs ?? 'never'})`,
      `${r.crash === null ? 0 : 1}/${r.unhandledRejections + r.uncaughtExceptions}`,
      r.broken.length === 0,
    ]),
  );
  for (const r of results) {
    if (r.analysis.unavailableThenConsumed !== null && r.analysis.unavailableThenConsumed > 0) {
      console.log(`   ${r.redis}, ${r.options}, ${r.fault}: ${r.analysis.unavailableThenConsumed} single-use record(s) answered 503, then 403 on the retry (consumed once Redis ran the late command)`);
    }
    if (r.replay !== null) console.log(`   ${r.redis}, ${r.options}, ${r.fault}: ${r.replay.what}: ${r.replay.sent} → ${counts(r.replay.statuses)}`);
  }
  if (comparison !== null) {
    const setup = (redis: 'single' | 'cluster', options: ComparedSetup['options']) => comparison.setups.find((c) => c.redis === redis && c.options === options);
    printTable(
      `Without a fault: requests/s, medians of ${comparison.rounds} alternating rounds × ${formatInt(comparison.requestsPerRound)} requests per route and setup, concurrency ${comparison.concurrency}`,
      ['client options', 'route', 'one redis-server', 'three-master Cluster', 'Cluster ÷ one server'],
      COMPARED_OPTIONS.flatMap((options) =>
        (['reusable', 'singleUse'] as const).map((route) => {
          const single = setup('single', options)?.[route] ?? Number.NaN;
          const cluster = setup('cluster', options)?.[route] ?? Number.NaN;
          return [options, route === 'reusable' ? 'reusable' : 'single-use', formatInt(single), formatInt(cluster), round(cluster / single, 2)];
        }),
      ),
    );
    console.log(`   slowest answer: ${comparison.setups.map((c) => `${c.redis} ${c.options} ${c.maxMs} ms`).join(', ')}; answers other than 200: ${counts(comparison.notOk)}`);
  }
}

/**
 * The client options the README recommends: on a Cluster without auto-pipelining (ioredis issue
 * 2075: an auto-pipelined batch follows a MOVED slot badly while slots migrate).
 */
const README_OPTIONS: Readonly<Record<'single' | 'cluster', ClientOptionsKind>> = { single: 'fail-fast+pipelining', cluster: 'fail-fast' };

/** The client options every scenario runs with (see ClientOptionsKind). */
const OPTION_KINDS: readonly ClientOptionsKind[] = ['fail-fast', 'fail-fast+pipelining', 'defaults'];

/**
 * `npm run bench:faults -- <words>`: only the scenarios whose "redis options fault" contains every
 * word (for trying one out); the no-fault comparison runs with no words or with `compare`.
 */
const FILTER = process.argv.slice(2).map((word) => word.toLowerCase());
const wanted = (redis: string, options: string, faultName: string) =>
  FILTER.every((word) => `${redis} ${options} ${faultName}`.toLowerCase().includes(word));

async function main(): Promise<number> {
  const started = wallClockMs();
  const results: ScenarioResult[] = [];
  const machine: Record<string, string | number> = {
    node: process.version,
    platform: `${os.platform()} ${os.arch()}`,
    cpus: os.cpus().length,
    cpuModel: os.cpus()[0]?.model.trim() ?? 'unknown',
    redis: 'unknown',
  };
  const clusterWanted = OPTION_KINDS.some((options) => [PLANNED_FAILOVER, KILLED_MASTER].some((name) => wanted('cluster', options, name)));
  const compare = FILTER.length === 0 || FILTER.includes('compare');

  const redis = await RestartableRedis.start();
  let cluster: ReplicatedCluster | undefined;
  let comparison: ThroughputComparison | null = null;
  try {
    machine.redis = /redis_version:(\S+)/.exec(String(await redisCommand(redis.port, 'INFO', 'server')))?.[1] ?? 'unknown';
    if (clusterWanted || compare) {
      cluster = await ReplicatedCluster.start();
      progress(`one redis-server on port ${redis.port}; three-master Redis Cluster with one replica each on ports ${cluster.nodes.map((n) => n.port).join(', ')}`);
    }
    if (compare && cluster !== undefined) {
      progress('one redis-server and the Cluster without a fault, alternating rounds');
      comparison = await compareThroughput({ single: { kind: 'single', url: redis.url }, cluster: { kind: 'cluster', nodes: cluster.nodes } });
    }
    for (const options of OPTION_KINDS) {
      for (const fault of [killAndRestart(redis), scriptFlush(redis), clientPause(redis)]) {
        if (wanted('single', options, fault.name)) results.push(await runScenario({ redis: 'single', options, fault, target: { kind: 'single', url: redis.url }, userId: BENCH_USER }));
      }
    }
    if (clusterWanted && cluster !== undefined) {
      const replicated = cluster;
      const slotOf = (store: RedisStore) => benchUserSlot(replicated, store, BENCH_USER);
      const target: RedisTarget = { kind: 'cluster', nodes: replicated.nodes };
      for (const options of OPTION_KINDS) {
        for (const fault of [plannedFailover(replicated, slotOf), killedMaster(replicated, slotOf)]) {
          if (wanted('cluster', options, fault.name)) results.push(await runScenario({ redis: 'cluster', options, fault, target, userId: BENCH_USER }));
        }
      }
    }
  } finally {
    await redis.stop();
    await cluster?.stop();
  }

  report(results, comparison, machine);
  const durationSeconds = round((wallClockMs() - started) / 1000, 1);
  const file = path.join(__dirname, 'results', 'faults.json');
  mkdirSync(path.dirname(file), { recursive: true });
  writeFileSync(
    file,
    `${JSON.stringify({ generatedAt: new Date().toISOString(), durationSeconds, machine, settings: SETTINGS, storeTimeoutMs: STORE_TIMEOUT_MS, limits: LIMITS, comparison, scenarios: results }, null, 2)}\n`,
  );
  const failed = results.filter((r) => r.broken.length > 0);
  console.log(`\nScenarios: ${results.length - failed.length}/${results.length} passed`);
  for (const r of failed) console.log(`  FAILED: ${r.redis}, ${r.options}, ${r.fault}:\n    ${r.broken.join('\n    ')}`);
  console.log(`Wrote ${path.relative(process.cwd(), file)} in ${durationSeconds} s.`);
  return failed.length === 0 ? 0 : 1;
}

setTimeout(() => {
  console.error(`bench:faults: still running after ${HARD_TIMEOUT_MS / 60_000} min, stopping`);
  process.exit(2);
}, HARD_TIMEOUT_MS).unref();

main().then(
  (code) => {
    process.exitCode = code;
  },
  (error: unknown) => {
    console.error('bench:faults failed:', error);
    process.exitCode = 1;
  },
);
