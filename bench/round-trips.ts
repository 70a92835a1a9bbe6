import type Redis from 'ioredis';
import { accessToken, BENCH_ACTION, BENCH_SESSION, BENCH_USER, createRecords, guardJob, startApp, type GuardJobOptions } from './app';
import { openStore } from './stores';
import type { LoadClient } from './load-client';
import { measureWindow, watchServer, type RoundTripRow, type WatchedServer } from './round-trip-window';

export type { RoundTripRow } from './round-trip-window';

export interface RoundTripOptions {
  readonly load: LoadClient;
  readonly redisUrl: string;
  readonly redisPort: number;
  readonly admin: Redis;
  readonly checks: number;
  readonly warmup: number;
}

/** Hands out record ids in order, each once. */
function idPool(ids: readonly string[]): (count: number) => string[] {
  let next = 0;
  return (count) => {
    if (next + count > ids.length) throw new Error('the round-trip bench ran out of fresh records');
    next += count;
    return ids.slice(next - count, next);
  };
}

/**
 * Counts the commands the private Redis receives from the app during N guard checks over HTTP,
 * with MONITOR (which tells the client's commands from those a Lua script runs) and, for
 * comparison, INFO commandstats. Every guard check of the RedisStore is one Lua script over the
 * record and its user's revocation mark (reusable: the read script; single use: check-and-consume),
 * so the expectation is one EVALSHA per check once warm, whether the record is bound to a session
 * or the guard to an action, and whether the check passes or is refused.
 *
 * Shown apart, not asserted: the first check of each script on a new connection (ioredis sends
 * the script as one EVAL), the first after SCRIPT FLUSH (EVALSHA answers NOSCRIPT, ioredis resends
 * one EVAL), and a burst at concurrency 20 right after SCRIPT FLUSH, where every check already in
 * flight gets NOSCRIPT and is sent again (once per check: one EVAL, the rest EVALSHA).
 */
export async function runRoundTripBench(options: RoundTripOptions): Promise<RoundTripRow[]> {
  const { store, close } = await openStore('redis', options.redisUrl, 'bench:round-trips:');
  const app = await startApp(store);
  const servers: WatchedServer[] = [await watchServer(options.redisPort, options.admin)];
  try {
    const { checks, warmup } = options;
    const token = accessToken();
    const sessionToken = accessToken(BENCH_USER, BENCH_SESSION);
    const otherSessionToken = accessToken(BENCH_USER, 'ses_other');
    const [reusable] = await createRecords(store, 1);
    const [reusableInSession] = await createRecords(store, 1, { sessionId: BENCH_SESSION });
    const [reusableForAction] = await createRecords(store, 1, { action: BENCH_ACTION });
    const fresh = idPool(await createRecords(store, 2 + 2 * warmup + checks));
    const freshInSession = idPool(await createRecords(store, checks, { sessionId: BENCH_SESSION }));
    const freshForAction = idPool(await createRecords(store, checks, { action: BENCH_ACTION }));
    if (reusable === undefined || reusableInSession === undefined || reusableForAction === undefined) throw new Error('no record');

    const run = (job: GuardJobOptions) => async () => [await options.load.run(guardJob(app, job))];
    const row = (name: string, asserted: boolean, expectedStatus: number, job: GuardJobOptions) =>
      measureWindow(servers, { name, asserted, expectedStatus, work: run(job) });
    const warm = async () => {
      await options.load.run(guardJob(app, { singleUse: false, ids: reusable, count: warmup, token }));
      await options.load.run(guardJob(app, { singleUse: true, ids: fresh(warmup), count: warmup, token }));
    };

    const rows: RoundTripRow[] = [];
    // ioredis sends a script as EVAL the first time on a connection, then EVALSHA.
    rows.push(await row('reusable, first check on a new connection', false, 200, { singleUse: false, ids: reusable, count: 1, token }));
    rows.push(await row('single-use, first check on a new connection', false, 200, { singleUse: true, ids: fresh(1), count: 1, token }));
    await warm();
    // As after a Redis restart or failover: EVALSHA answers NOSCRIPT, ioredis resends the script as EVAL.
    await options.admin.script('FLUSH');
    rows.push(await row('reusable, first check after SCRIPT FLUSH', false, 200, { singleUse: false, ids: reusable, count: 1, token }));
    rows.push(await row('single-use, first check after SCRIPT FLUSH', false, 200, { singleUse: true, ids: fresh(1), count: 1, token }));
    await options.admin.script('FLUSH');
    rows.push(await row(`reusable, ${checks} checks at concurrency 20 right after SCRIPT FLUSH`, false, 200, { singleUse: false, ids: reusable, count: checks, token }));
    await warm();

    // Measured once warm: at most one command sent per check.
    rows.push(await row('reusable, valid record', true, 200, { singleUse: false, ids: reusable, count: checks, token }));
    rows.push(await row('reusable, session-bound record', true, 200, { singleUse: false, ids: reusableInSession, count: checks, token: sessionToken }));
    rows.push(await row('reusable, session-bound record, other session', true, 403, { singleUse: false, ids: reusableInSession, count: checks, token: otherSessionToken }));
    rows.push(await row('reusable, action-bound guard', true, 200, { singleUse: false, actionBound: true, ids: reusableForAction, count: checks, token }));
    rows.push(await row('reusable, action-bound guard, unbound record', true, 403, { singleUse: false, actionBound: true, ids: reusable, count: checks, token }));
    const measured = fresh(checks);
    rows.push(await row('single-use, fresh record each', true, 200, { singleUse: true, ids: measured, count: checks, token }));
    rows.push(await row('single-use, session-bound record', true, 200, { singleUse: true, ids: freshInSession(checks), count: checks, token: sessionToken }));
    rows.push(await row('single-use, action-bound guard', true, 200, { singleUse: true, actionBound: true, ids: freshForAction(checks), count: checks, token }));
    rows.push(await row('single-use, replayed (consumed) record', true, 403, { singleUse: true, ids: measured, count: checks, token }));
    return rows;
  } finally {
    for (const server of servers) server.monitor.stop();
    await app.close();
    await close();
  }
}
