import Redis, { Cluster } from 'ioredis';
import { RedisStore } from '../lib/index';
import { accessToken, createRecords, guardJob, startApp, type BenchApp, type GuardJobOptions } from './app';
import type { LoadClient, LoadResult } from './load-client';
import { startRedisCluster } from './redis-server';
import { measureWindow, watchServer, type RoundTripRow, type WatchedServer } from './round-trip-window';

export interface ClusterRoundTripOptions {
  readonly load: LoadClient;
  /** Checks per measured row, spread evenly over one user per master. */
  readonly checks: number;
  readonly warmup: number;
}

export interface ClusterRoundTripResult {
  readonly redis: string;
  /** The masters' ports, and the bench user whose records (and revocation mark) live on each. */
  readonly masters: ReadonlyArray<{ readonly port: number; readonly userId: string; readonly slot: number }>;
  readonly rows: RoundTripRow[];
}

const PREFIX = 'bench:cluster:';
/** Checks per master in the first (not asserted) rows: the load client's concurrency. */
const FIRST_BURST = 20;

/** The master serving `slot`, from CLUSTER SLOTS: [[start, end, [host, port, id], …replicas], …]. */
function masterPortOf(slots: unknown, slot: number): number {
  for (const range of slots as Array<[number, number, [string, number, ...unknown[]]]>) {
    if (slot >= range[0] && slot <= range[1]) return Number(range[2][1]);
  }
  throw new Error(`no master serves slot ${slot}`);
}

/**
 * One bench user per master. The store keeps a user's records and revocation mark in the user's
 * hash slot, so all checks of one user go to one master; users `usr_bench_0`, `usr_bench_1`, …
 * are tried until every master has one.
 */
async function usersPerMaster(admin: Redis, ports: readonly number[], store: RedisStore): Promise<ClusterRoundTripResult['masters']> {
  const slots = await admin.call('CLUSTER', 'SLOTS');
  const found = new Map<number, { port: number; userId: string; slot: number }>();
  for (let i = 0; found.size < ports.length; i += 1) {
    if (i > 1000) throw new Error('found no bench user for some master');
    const userId = `usr_bench_${i}`;
    const [, revocationKey] = store.keysFor(userId, '');
    const slot = Number(await admin.call('CLUSTER', 'KEYSLOT', revocationKey));
    const port = masterPortOf(slots, slot);
    if (!found.has(port)) found.set(port, { port, userId, slot });
  }
  return ports.map((port) => found.get(port) as { port: number; userId: string; slot: number });
}

/**
 * The round-trip count of bench/round-trips.ts on a real three-master Redis Cluster (the tests'
 * helper: private redis-servers on free ports, `redis-cli --cluster create`). The app's store uses
 * an ioredis `Cluster` with the README's fail-fast options; MONITOR runs on every master; each
 * measured row sends its checks as one user per master, so every master serves a third of them.
 *
 * Not per check, so shown apart and not asserted: connecting (ioredis asks one node for the slot
 * map, CLUSTER SLOTS, and checks readiness), creating the records (this also opens the
 * connection to each master, which ioredis opens lazily and readies with INFO), and the first check
 * of each script on each master's connection (one EVAL each). Asserted once warm: at most one
 * command sent per check, on all masters together (a stale slot map would show as a MOVED and a
 * second command).
 */
export async function runClusterRoundTripBench(options: ClusterRoundTripOptions): Promise<ClusterRoundTripResult> {
  const cluster = await startRedisCluster();
  const admins: Redis[] = [];
  const servers: WatchedServer[] = [];
  let client: Cluster | undefined;
  let app: BenchApp | undefined;
  try {
    for (const node of cluster.nodes) {
      const admin = new Redis(node.port, node.host, { maxRetriesPerRequest: 1, lazyConnect: true });
      await admin.connect();
      admins.push(admin);
      servers.push(await watchServer(node.port, admin));
    }
    const firstAdmin = admins[0] as Redis;
    const redis = /redis_version:(\S+)/.exec(await firstAdmin.info('server'))?.[1] ?? 'unknown';
    const rows: RoundTripRow[] = [];
    const setup = (name: string, work: () => Promise<void>) =>
      measureWindow(servers, { name, asserted: false, expectedStatus: null, work: async () => (await work(), []) });

    rows.push(
      await setup('setup, excluded: new Cluster() until ready', async () => {
        client = new Cluster(cluster.nodes, { enableOfflineQueue: false, redisOptions: { maxRetriesPerRequest: 1, commandTimeout: 500 } });
        const connecting = client;
        await new Promise<void>((resolve, reject) => {
          connecting.once('ready', resolve);
          connecting.once('error', reject);
        });
      }),
    );
    const store = new RedisStore({ client: client as Cluster, prefix: PREFIX });
    app = await startApp(store);
    const masters = await usersPerMaster(firstAdmin, cluster.nodes.map((n) => n.port), store);

    const perUser = Math.ceil(options.checks / masters.length);
    // Per user: the reusable record; fresh ones for the first single-use checks, the warm-up and the measured rows.
    const perUserRecords = 1 + FIRST_BURST + options.warmup + perUser;
    type Records = { userId: string; token: string; reusable: string; fresh: string[] };
    const records: Records[] = [];
    rows.push(
      await setup(`setup, excluded: create ${masters.length * perUserRecords} records (store.create)`, async () => {
        for (const { userId } of masters) {
          const [reusable, ...fresh] = await createRecords(store, perUserRecords, { userId });
          records.push({ userId, token: accessToken(userId), reusable: reusable as string, fresh });
        }
      }),
    );

    const benchApp = app;
    // One load job per user (so per master), one after the other, inside one window.
    const perMaster = (singleUse: boolean, count: number, ids: (r: Records) => readonly string[] | string) => async (): Promise<LoadResult[]> => {
      const results: LoadResult[] = [];
      for (const r of records) {
        const job: GuardJobOptions = { singleUse, ids: ids(r), count, token: r.token };
        results.push(await options.load.run(guardJob(benchApp, job)));
      }
      return results;
    };
    const row = (name: string, asserted: boolean, expectedStatus: number, work: () => Promise<LoadResult[]>) =>
      measureWindow(servers, { name, asserted, expectedStatus, work });

    // The first checks on each master's connection, a burst as a freshly started app under load would send.
    const burst = FIRST_BURST;
    rows.push(await row(`reusable, first ${burst} checks on each master at concurrency ${burst} (script new on the connection)`, false, 200, perMaster(false, burst, (r) => r.reusable)));
    rows.push(await row(`single-use, first ${burst} checks on each master at concurrency ${burst} (script new on the connection)`, false, 200, perMaster(true, burst, (r) => r.fresh.slice(0, burst))));
    await perMaster(false, options.warmup, (r) => r.reusable)();
    await perMaster(true, options.warmup, (r) => r.fresh.slice(burst, burst + options.warmup))();

    const measuredFrom = burst + options.warmup;
    const measured = (r: Records) => r.fresh.slice(measuredFrom, measuredFrom + perUser);
    rows.push(await row('reusable, valid record', true, 200, perMaster(false, perUser, (r) => r.reusable)));
    rows.push(await row('single-use, fresh record each', true, 200, perMaster(true, perUser, measured)));
    rows.push(await row('single-use, replayed (consumed) record', true, 403, perMaster(true, perUser, measured)));
    return { redis, masters, rows };
  } finally {
    for (const server of servers) server.monitor.stop();
    await app?.close();
    await client?.quit().catch(() => undefined);
    for (const admin of admins) await admin.quit().catch(() => undefined);
    await cluster.stop();
  }
}
