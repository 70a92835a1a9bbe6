import type Redis from 'ioredis';
import { accessToken, createRecords, GUARD_PATHS, startApp } from './app';
import { openStore } from './guard';
import type { LoadClient, LoadJob } from './load-client';
import { CommandMonitor, commandCounts, commandDelta } from './redis-server';
import { round } from './stats';

export interface RoundTripRow {
  readonly case: string;
  readonly checks: number;
  /** The status every check must get. */
  readonly expectedStatus: number;
  readonly statuses: Readonly<Record<string, number>>;
  /** Commands the app's connection sent (MONITOR): an upper bound on its round trips. */
  readonly sent: Readonly<Record<string, number>>;
  readonly sentPerCheck: number;
  /** Commands run inside Lua scripts (MONITOR source "lua"): no round trip of their own. */
  readonly insideLua: Readonly<Record<string, number>>;
  /** INFO commandstats delta per check, which counts script-internal commands too. */
  readonly commandstatsPerCheck: number;
  /** Rows measured after the warm-up must stay at one command sent per check. */
  readonly asserted: boolean;
  readonly pass: boolean;
}

export interface RoundTripOptions {
  readonly load: LoadClient;
  readonly redisUrl: string;
  readonly admin: Redis;
  readonly checks: number;
  readonly warmup: number;
}

/**
 * Counts the commands the private Redis receives from the app during N guard
 * checks over HTTP, with MONITOR (which tells the client's commands from those
 * a Lua script runs) and, for comparison, INFO commandstats. Expected: one
 * command sent per check, single use included (HGETALL, or one EVALSHA of the
 * check-and-consume script), once warm. Shown apart, not asserted: the first
 * single-use check on a new connection (ioredis sends the script as one EVAL),
 * and the first after SCRIPT FLUSH (EVALSHA answers NOSCRIPT, ioredis resends one EVAL).
 */
export async function runRoundTripBench(options: RoundTripOptions): Promise<RoundTripRow[]> {
  const { store, close } = await openStore('redis', options.redisUrl, 'bench:round-trips:');
  const app = await startApp(store);
  const monitor = await CommandMonitor.start(options.admin);
  try {
    const [reusableId] = await createRecords(store, 1);
    const fresh = await createRecords(store, 2 + options.warmup + options.checks);
    const job = (singleUse: boolean, ids: readonly string[] | string, count: number): LoadJob => ({
      port: app.port,
      method: singleUse ? 'POST' : 'GET',
      path: singleUse ? GUARD_PATHS.singleUse : GUARD_PATHS.reusable,
      headers: { authorization: `Bearer ${accessToken()}` },
      idHeader: 'verification-id',
      ids,
      count,
      concurrency: Math.min(20, count),
    });
    const measured = async (name: string, asserted: boolean, expectedStatus: number, work: LoadJob): Promise<RoundTripRow> => {
      const before = await commandCounts(options.admin);
      const { result, commands } = await monitor.window(() => options.load.run(work));
      const after = await commandCounts(options.admin);
      // Between the two INFO snapshots the admin connection sent one INFO and the two ECHO markers.
      const stats = commandDelta(before, after, { info: 1, echo: 2 });
      const sentPerCheck = round(commands.clientTotal / work.count, 3);
      const statusesOk = result.statuses[String(expectedStatus)] === work.count;
      return {
        case: name,
        checks: work.count,
        expectedStatus,
        statuses: result.statuses,
        sent: commands.fromClients,
        sentPerCheck,
        insideLua: commands.insideLua,
        commandstatsPerCheck: round(stats.total / work.count, 3),
        asserted,
        pass: statusesOk && (!asserted || sentPerCheck <= 1),
      };
    };

    // ioredis sends a script as EVAL the first time on a connection, then EVALSHA; on NOSCRIPT it resends it as EVAL.
    const firstOnConnection = await measured('single-use, first check on a new connection', false, 200, job(true, fresh.slice(0, 1), 1));
    const warmIds = fresh.slice(2, 2 + options.warmup);
    await options.load.run(job(true, warmIds, warmIds.length));
    await options.load.run(job(false, reusableId as string, options.warmup));
    await options.admin.script('FLUSH'); // as after a Redis restart or failover
    const afterFlush = await measured('single-use, first check after SCRIPT FLUSH', false, 200, job(true, fresh.slice(1, 2), 1));

    const measuredIds = fresh.slice(2 + options.warmup);
    return [
      firstOnConnection,
      afterFlush,
      await measured('reusable, valid record', true, 200, job(false, reusableId as string, options.checks)),
      await measured('single-use, fresh record each', true, 200, job(true, measuredIds, options.checks)),
      await measured('single-use, replayed (consumed) record', true, 403, job(true, measuredIds, options.checks)),
    ];
  } finally {
    monitor.stop();
    await app.close();
    await close();
  }
}
