import path from 'node:path';
import type Redis from 'ioredis';
import { OidcStandIn } from '../../test/helpers/oidc-provider';
import { commandCounts, commandDelta, redisCpuMicros } from '../redis-server';
import { measureWindow, watchServer, type RoundTripRow, type WatchedServer } from '../round-trip-window';
import { median, round } from '../stats';
import { AutocannonLoad, type SideLoadResult } from './load';
import { runPaired, type PairedResult, type PairedSettings } from './paired';
import type { Target } from './protocol';
import { sideBySideRows, type Row, type RowKind } from './rows';
import { ServerChild } from './server-child';
import { benchTokens } from './tokens';

export interface SideBySideSettings {
  /** Connections kept open by the load generator, one request in flight on each. */
  readonly connections: number;
  /** Requests per row and round. */
  readonly requests: number;
  readonly rounds: number;
  /** Requests per row before the rounds (JIT, connections, JWKS fetch), not measured. */
  readonly warmup: number;
  /**
   * Requests, not measured, that a row's server answers right before each of its measurements
   * (0: none). A server that sat idle while the others were measured starts each round with its
   * code and data out of the CPU's caches.
   */
  readonly settleRequests: number;
  /** Requests per row in the MONITOR window after the rounds (commands sent per request). */
  readonly monitorRequests: number;
}

export interface SideBySideRow {
  readonly name: string;
  readonly kind: RowKind;
  readonly alg: string | null;
  /** Medians over the rounds. */
  readonly requestsPerSecond: number;
  readonly requestsPerSecondRange: readonly [number, number];
  /** req/s of each round, in round order (a round's rows are measured one after another). */
  readonly roundRequestsPerSecond: readonly number[];
  readonly p50Ms: number;
  readonly p99Ms: number;
  /** Slowest single request over all rounds. */
  readonly maxMs: number;
  /** Median over the rounds of (this row's req/s ÷ its floor's req/s in the same round); null for a floor. */
  readonly timesFloor: number | null;
  /** The same against the HS256 floor with auto-pipelining, for an HS256 guard or example app whose client pipelines; null otherwise (there is no RS256 or ES256 floor that pipelines). */
  readonly timesPipeliningFloor: number | null;
  /** The same against the peer; null where not meaningful (no HMAC per request, or the peer itself). */
  readonly timesPeer: number | null;
  /** Redis commands the server sent per request, from MONITOR (Lua's inner calls not counted): round trips at most. */
  readonly redisSentPerRequest: number;
  readonly redisSent: Readonly<Record<string, number>>;
  /** INFO commandstats delta per request over the rounds (Lua's inner calls counted). */
  readonly commandstatsPerRequest: number;
  /** CPU of the server's process during the rounds, in cores (median). */
  readonly serverCpu: number;
  /**
   * CPU time per request, µs (medians of the rounds), of the server's process and of redis-server
   * (INFO cpu, user + sys; rows take turns, so a round's Redis CPU is its row's). On a shared
   * machine these move far less between runs than req/s, and they say where a row's time goes.
   */
  readonly serverCpuUsPerRequest: number;
  readonly redisCpuUsPerRequest: number;
  /** CPU of the load generator during the rounds, in cores (median): near 1 would make it the bottleneck. */
  readonly loadCpu: number;
  /** Whether this row must stay at ≤ 1 Redis command sent per request. */
  readonly atMostOneCommand: boolean;
  readonly pass: boolean;
}

export interface SideBySideResult {
  readonly settings: SideBySideSettings;
  readonly rows: readonly SideBySideRow[];
  /** JWKS and discovery requests the provider stand-in answered during the rounds (expected 0: cached). */
  readonly providerFetchesDuringRounds: number;
  /** The paired phase: rows and their references under load at the same time on one CPU. */
  readonly paired: PairedResult;
}

export interface SideBySideOptions extends SideBySideSettings {
  readonly redisUrl: string;
  readonly redisPort: number;
  /** redis-server's process id (the paired phase keeps it off the servers' CPU). */
  readonly redisPid: number;
  readonly admin: Redis;
  readonly paired: PairedSettings;
  /** Rows whose name contains one of these `|`-separated strings get their server started with --cpu-prof (into bench/results/profiles). */
  readonly cpuProfile?: string | undefined;
  readonly progress: (line: string) => void;
}

interface Measured {
  readonly row: Row;
  readonly server: ServerChild;
  /** Hands out the next `count` ids of a single-use row (each once), or the one id of the others. */
  readonly ids: (count: number) => Target['ids'];
  readonly rounds: SideLoadResult[];
  readonly commands: number[];
  readonly serverCpu: number[];
  readonly serverCpuPerRequest: number[];
  readonly redisCpuPerRequest: number[];
}

/** The ids of a server's requests: its current one (refresh() may change it), or the next `count` of a single-use row's. */
function idsOf(server: ServerChild): (count: number) => Target['ids'] {
  const all = server.target.ids;
  if (typeof all === 'string') return () => server.target.ids;
  let used = 0;
  return (count) => {
    if (used + count > all.length) throw new Error('a single-use row ran out of records');
    used += count;
    return all.slice(used - count, used);
  };
}

function expectAllOk(result: SideLoadResult, row: Row, phase: string): void {
  if (result.statuses['200'] !== result.count || result.errors > 0) {
    throw new Error(`${row.name}, ${phase}: expected only 200s, got ${JSON.stringify(result.statuses)}`);
  }
}

const ratio = (a: number, b: number | undefined) => (b === undefined || b === 0 ? Number.NaN : a / b);

/**
 * Throughput and latency of each row's server in its own process, all on one private Redis, load
 * from autocannon in another process. All servers start first and are warmed up; then the rows
 * take turns for `rounds` rounds (each round starting one row further, so no row is always first
 * after a pause; each measurement right after `settleRequests` unmeasured requests to the same
 * server), and the medians of the rounds are reported. × floor and × peer are medians of
 * per-round ratios: a row and its reference measured minutes apart on a shared machine would
 * compare the machine's load as much as the servers. Redis commands are counted twice: INFO
 * commandstats over the rounds (counts what Lua runs too), and MONITOR in a window after the rounds
 * (tells the commands the server sent, its round trips, from those a script runs). Between the two,
 * the paired phase (paired.ts) measures the rows that have `pairedWith` against their references
 * at the same time on one CPU, which the machine's noise moves far less.
 */
export async function runSideBySide(options: SideBySideOptions): Promise<SideBySideResult> {
  const provider = await OidcStandIn.start();
  const load = AutocannonLoad.start();
  const measured: Measured[] = [];
  let watched: WatchedServer | undefined;
  try {
    const tokens = await benchTokens(provider);
    const perRow = options.warmup + options.rounds * (options.settleRequests + options.requests) + options.monitorRequests;
    const { paired } = options;
    const pairedRecordsPerReference = paired.rounds * paired.connections * paired.idsPerConnection;
    const rows = sideBySideRows({ tokens, issuer: provider.issuer, singleUseRecords: perRow, pairedRecordsPerReference });
    const profileDir = path.resolve(__dirname, '../results/profiles');

    options.progress(`starting ${rows.length} servers, each in its own process`);
    const started = await Promise.allSettled(
      rows.map((row) => {
        const profile = options.cpuProfile?.split('|').some((part) => part !== '' && row.name.includes(part)) === true;
        return ServerChild.start(row.spec, options.redisUrl, profile ? ['--cpu-prof', '--cpu-prof-dir', profileDir] : []);
      }),
    );
    for (const [i, row] of rows.entries()) {
      const outcome = started[i];
      if (outcome?.status === 'fulfilled') measured.push({ row, server: outcome.value, ids: idsOf(outcome.value), rounds: [], commands: [], serverCpu: [], serverCpuPerRequest: [], redisCpuPerRequest: [] });
    }
    const failed = started.findIndex((outcome) => outcome.status === 'rejected');
    if (failed >= 0) throw new Error(`${rows[failed]?.name}: ${String((started[failed] as PromiseRejectedResult).reason)}`);
    // The example app's record and token expire within a run (10 and 15 minutes): fresh ones before every round and phase.
    const refreshAll = () => Promise.all(measured.map((m) => m.server.refresh()));
    const job = (m: Measured, count: number) => ({ target: { ...m.server.target, ids: m.ids(count) }, count, connections: options.connections });

    options.progress(`warm-up: ${options.warmup} requests per row`);
    for (const m of measured) expectAllOk(await load.run(job(m, options.warmup)), m.row, 'warm-up');

    const fetchesBefore = provider.requests.jwks + provider.requests.discovery;
    for (let r = 0; r < options.rounds; r += 1) {
      options.progress(`round ${r + 1} of ${options.rounds}: ${options.requests} requests per row, ${options.connections} connections`);
      await refreshAll();
      for (let k = 0; k < measured.length; k += 1) {
        const m = measured[(k + r) % measured.length] as Measured;
        const commandsBefore = await commandCounts(options.admin);
        const redisCpuBefore = await redisCpuMicros(options.admin);
        if (options.settleRequests > 0) expectAllOk(await load.run(job(m, options.settleRequests)), m.row, `round ${r + 1}, before measuring`);
        const cpuBefore = await m.server.cpuMicros();
        const result = await load.run(job(m, options.requests));
        const cpuAfter = await m.server.cpuMicros();
        const redisCpuAfter = await redisCpuMicros(options.admin);
        m.commands.push(commandDelta(commandsBefore, await commandCounts(options.admin)).total);
        expectAllOk(result, m.row, `round ${r + 1}`);
        m.rounds.push(result);
        m.serverCpu.push((cpuAfter - cpuBefore) / 1000 / result.elapsedMs);
        m.serverCpuPerRequest.push((cpuAfter - cpuBefore) / result.count);
        m.redisCpuPerRequest.push((redisCpuAfter - redisCpuBefore) / result.count);
      }
    }
    const providerFetchesDuringRounds = provider.requests.jwks + provider.requests.discovery - fetchesBefore;

    const floorOf = (alg: string | null, autoPipelining: boolean) =>
      measured.find((m) => m.row.kind === 'floor' && m.row.floorCopy !== true && m.row.alg === alg && m.row.autoPipelining === autoPipelining);
    const peer = measured.find((m) => m.row.kind === 'peer');

    await refreshAll();
    options.progress(`paired: ${paired.rounds} rounds, ${paired.windowMs} ms windows, ${paired.connections} connections per server`);
    const pairedResult = await runPaired({
      settings: paired,
      servers: measured,
      referenceOf: (row, reference) => (reference === 'peer' ? peer : floorOf(row.alg, reference === 'pipelining floor')),
      otherPids: [options.redisPid, load.pid],
      progress: options.progress,
    });
    if ('skipped' in pairedResult) options.progress(`paired phase skipped: ${pairedResult.skipped}`);

    await refreshAll();
    options.progress(`Redis commands sent per request: MONITOR, ${options.monitorRequests} requests per row`);
    watched = await watchServer(options.redisPort, options.admin);
    const windows: RoundTripRow[] = [];
    for (const m of measured) {
      windows.push(
        await measureWindow([watched], {
          name: m.row.name,
          asserted: m.row.atMostOneCommand,
          expectedStatus: 200,
          work: async () => [await load.run(job(m, options.monitorRequests))],
        }),
      );
    }

    const perRoundRatio = (m: Measured, reference: Measured | undefined) =>
      reference === undefined ? null : round(median(m.rounds.map((r, i) => ratio(r.requestsPerSecond, reference.rounds[i]?.requestsPerSecond))), 2);

    const results = measured.map((m, i): SideBySideRow => {
      const window = windows[i];
      if (window === undefined) throw new Error(`${m.row.name}: no MONITOR window`);
      const rates = m.rounds.map((r) => r.requestsPerSecond);
      const totalRequests = m.rounds.reduce((sum, r) => sum + r.count, 0);
      // Every row against the floor (the pipelining floor and the floor's second server too; none for
      // a floor itself); a pipelining HS256 guard or example app also against the floor that
      // pipelines (only HS256 has one).
      const floor =
        m.row.kind === 'floor' ? (m.row.autoPipelining || m.row.floorCopy === true ? floorOf(m.row.alg, false) : undefined) : floorOf(m.row.kind === 'peer' ? 'HS256' : m.row.alg, false);
      const pipeliningFloor = m.row.kind !== 'floor' && m.row.autoPipelining ? floorOf(m.row.alg, true) : undefined;
      return {
        name: m.row.name,
        kind: m.row.kind,
        alg: m.row.alg,
        requestsPerSecond: round(median(rates), 0),
        requestsPerSecondRange: [Math.min(...rates), Math.max(...rates)],
        roundRequestsPerSecond: rates,
        p50Ms: round(median(m.rounds.map((r) => r.p50Ms)), 2),
        p99Ms: round(median(m.rounds.map((r) => r.p99Ms)), 2),
        maxMs: round(Math.max(...m.rounds.map((r) => r.maxMs)), 1),
        timesFloor: perRoundRatio(m, floor),
        timesPipeliningFloor: perRoundRatio(m, pipeliningFloor),
        timesPeer: m.row.versusPeer ? perRoundRatio(m, peer) : null,
        redisSentPerRequest: window.sentPerCheck ?? Number.NaN,
        redisSent: window.sent,
        commandstatsPerRequest: round(m.commands.reduce((a, b) => a + b, 0) / totalRequests, 3),
        serverCpu: round(median(m.serverCpu), 2),
        serverCpuUsPerRequest: round(median(m.serverCpuPerRequest), 1),
        redisCpuUsPerRequest: round(median(m.redisCpuPerRequest), 1),
        loadCpu: round(median(m.rounds.map((r) => r.loadCpu)), 2),
        atMostOneCommand: m.row.atMostOneCommand,
        pass: window.pass,
      };
    });
    const { connections, requests, rounds, warmup, settleRequests, monitorRequests } = options;
    return { settings: { connections, requests, rounds, warmup, settleRequests, monitorRequests }, rows: results, providerFetchesDuringRounds, paired: pairedResult };
  } finally {
    watched?.monitor.stop();
    for (const m of measured) await m.server.close().catch(() => undefined);
    await load.close().catch(() => undefined);
    await provider.close();
  }
}
