import type Redis from 'ioredis';
import type { LoadResult } from './load-client';
import { CommandMonitor, commandCounts, commandDelta, type MonitoredCommands } from './redis-server';
import { round } from './stats';

/** One row of a "Redis commands per guard check" table. */
export interface RoundTripRow {
  readonly case: string;
  readonly checks: number;
  /** The status every check must get (null for a window without checks, e.g. connecting). */
  readonly expectedStatus: number | null;
  readonly statuses: Readonly<Record<string, number>>;
  /** Commands the app's connections sent (MONITOR, all servers): an upper bound on its round trips. */
  readonly sent: Readonly<Record<string, number>>;
  /** Commands sent per check (null without checks). */
  readonly sentPerCheck: number | null;
  /** Commands sent, per server (its port): shows where a cluster's checks went. */
  readonly sentByServer: Readonly<Record<string, number>>;
  /** Commands run inside Lua scripts (MONITOR source "lua"): no round trip of their own. */
  readonly insideLua: Readonly<Record<string, number>>;
  /** INFO commandstats delta per check, all servers, which counts script-internal commands too. */
  readonly commandstatsPerCheck: number | null;
  /** Rows measured once warm must stay at one command sent per check; the others are shown, not asserted. */
  readonly asserted: boolean;
  readonly pass: boolean;
}

/** A Redis server the bench watches: its port, an admin connection of the bench's own, and a MONITOR on it. */
export interface WatchedServer {
  readonly port: number;
  readonly admin: Redis;
  readonly monitor: CommandMonitor;
}

export async function watchServer(port: number, admin: Redis): Promise<WatchedServer> {
  return { port, admin, monitor: await CommandMonitor.start(admin) };
}

/**
 * Runs `work` inside a MONITOR window on every server at once (windows nested: opened in order,
 * closed in reverse), so a command on any server during `work` is seen.
 */
export async function windowOnAll<T>(servers: readonly WatchedServer[], work: () => Promise<T>): Promise<{ result: T; commands: MonitoredCommands[] }> {
  const [first, ...rest] = servers;
  if (first === undefined) return { result: await work(), commands: [] };
  const { result: inner, commands } = await first.monitor.window(() => windowOnAll(rest, work));
  return { result: inner.result, commands: [commands, ...inner.commands] };
}

/** Several load results as one: their counts and statuses summed. */
export function mergeResults(results: readonly LoadResult[]): { count: number; statuses: Record<string, number> } {
  const statuses: Record<string, number> = {};
  let count = 0;
  for (const result of results) {
    count += result.count;
    for (const [status, n] of Object.entries(result.statuses)) statuses[status] = (statuses[status] ?? 0) + n;
  }
  return { count, statuses };
}

function sum(into: Record<string, number>, from: Readonly<Record<string, number>>): void {
  for (const [key, n] of Object.entries(from)) into[key] = (into[key] ?? 0) + n;
}

export interface WindowCase {
  readonly name: string;
  /** Whether the row must stay at ≤ 1 command sent per check. */
  readonly asserted: boolean;
  /** The status every check must get; null for a window without checks. */
  readonly expectedStatus: number | null;
  /** The checks of the window (e.g. one load job per user); their results. */
  readonly work: () => Promise<readonly LoadResult[]>;
}

/**
 * Measures one window on all `servers`: the commands the app sent (MONITOR) and, for comparison,
 * the INFO commandstats delta. A row passes when every check got the expected status and, if
 * asserted, the app sent at most one command per check.
 */
export async function measureWindow(servers: readonly WatchedServer[], spec: WindowCase): Promise<RoundTripRow> {
  const before = await Promise.all(servers.map((s) => commandCounts(s.admin)));
  const { result, commands } = await windowOnAll(servers, spec.work);
  const after = await Promise.all(servers.map((s) => commandCounts(s.admin)));
  const { count, statuses } = mergeResults(result);

  const sent: Record<string, number> = {};
  const insideLua: Record<string, number> = {};
  const sentByServer: Record<string, number> = {};
  let sentTotal = 0;
  let commandstats = 0;
  for (const [i, server] of servers.entries()) {
    const seen = commands[i] as MonitoredCommands;
    sum(sent, seen.fromClients);
    sum(insideLua, seen.insideLua);
    sentByServer[String(server.port)] = seen.clientTotal;
    sentTotal += seen.clientTotal;
    // Between its two INFO snapshots each admin connection sent one INFO and the two ECHO markers.
    commandstats += commandDelta(before[i] as Map<string, number>, after[i] as Map<string, number>, { info: 1, echo: 2 }).total;
  }
  const sentPerCheck = count > 0 ? round(sentTotal / count, 3) : null;
  const statusesOk = spec.expectedStatus === null || statuses[String(spec.expectedStatus)] === count;
  return {
    case: spec.name,
    checks: count,
    expectedStatus: spec.expectedStatus,
    statuses,
    sent,
    sentPerCheck,
    sentByServer,
    insideLua,
    commandstatsPerCheck: count > 0 ? round(commandstats / count, 3) : null,
    asserted: spec.asserted,
    pass: statusesOk && (!spec.asserted || (count > 0 && sentTotal <= count)),
  };
}
