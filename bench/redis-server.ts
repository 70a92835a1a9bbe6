import Redis from 'ioredis';

/** The same private redis-server the tests use: a free loopback port, nothing on disk, never 6379. */
export { startRedisServer, type PrivateRedis } from '../test/helpers/redis-server';
/** The same private three-master Redis Cluster the tests use (redis-cli --cluster create, free ports). */
export { startRedisCluster, type PrivateCluster } from '../test/helpers/redis-cluster';

/**
 * The clients' `commandTimeout`: 500 ms, or BENCH_REDIS_COMMAND_TIMEOUT_MS for a server run under
 * valgrind (bench/guard-cpu.ts --callgrind), whose event loop can stall longer than that.
 */
export const BENCH_COMMAND_TIMEOUT_MS = Number(process.env.BENCH_REDIS_COMMAND_TIMEOUT_MS ?? 500);

/** A client with the options the README recommends (fail fast instead of queueing). */
export async function connectClient(url: string, options: { readonly autoPipelining?: boolean } = {}): Promise<Redis> {
  const client = new Redis(url, {
    enableOfflineQueue: false,
    maxRetriesPerRequest: 1,
    commandTimeout: BENCH_COMMAND_TIMEOUT_MS,
    lazyConnect: true,
    ...(options.autoPipelining === true ? { enableAutoPipelining: true } : {}),
  });
  await client.connect();
  return client;
}

/** Commands the server has received so far, per command: `calls + rejected_calls` from INFO commandstats. */
export type CommandCounts = ReadonlyMap<string, number>;

/** The CPU redis-server has used so far (INFO cpu: used_cpu_user + used_cpu_sys), in µs. */
export async function redisCpuMicros(admin: Redis): Promise<number> {
  const info = await admin.info('cpu');
  const field = (name: string) => Number(new RegExp(`^${name}:([\\d.]+)`, 'm').exec(info)?.[1] ?? Number.NaN);
  return (field('used_cpu_user') + field('used_cpu_sys')) * 1e6;
}

/** INFO commandstats, per command: its fields (`calls`, `usec`, `rejected_calls`, …) as numbers. */
export async function commandStats(admin: Redis): Promise<ReadonlyMap<string, ReadonlyMap<string, number>>> {
  const info = await admin.info('commandstats');
  const stats = new Map<string, ReadonlyMap<string, number>>();
  for (const line of info.split(/\r?\n/)) {
    const match = /^cmdstat_([^:]+):(.*)$/.exec(line);
    if (match === null) continue;
    stats.set(match[1] as string, new Map((match[2] as string).split(',').map((pair) => pair.split('=')).map(([name, value]) => [name as string, Number(value)])));
  }
  return stats;
}

export async function commandCounts(admin: Redis): Promise<CommandCounts> {
  const counts = new Map<string, number>();
  for (const [command, fields] of await commandStats(admin)) counts.set(command, (fields.get('calls') ?? 0) + (fields.get('rejected_calls') ?? 0));
  return counts;
}

/**
 * Commands received between two snapshots taken with commandCounts(), by command,
 * less `own`: what the measuring connection itself sent in between. The first
 * snapshot's INFO is counted by the server once it has run, hence one `info` by default.
 * Note: commandstats also counts the commands a Lua script runs (redis.call), so
 * one EVALSHA of a script that runs HGETALL and DEL shows up as three commands.
 */
export function commandDelta(
  before: CommandCounts,
  after: CommandCounts,
  own: Readonly<Record<string, number>> = { info: 1 },
): { total: number; byCommand: Record<string, number> } {
  const byCommand: Record<string, number> = {};
  let total = 0;
  for (const [command, count] of after) {
    const delta = count - (before.get(command) ?? 0) - (own[command] ?? 0);
    if (delta > 0) {
      byCommand[command] = delta;
      total += delta;
    }
  }
  return { total, byCommand };
}

/** Commands seen by MONITOR in one window: sent by clients (one round trip each at most), and run inside Lua scripts. */
export interface MonitoredCommands {
  readonly fromClients: Record<string, number>;
  readonly clientTotal: number;
  readonly insideLua: Record<string, number>;
}

/**
 * Counts, with MONITOR, the commands that clients other than `admin` send while
 * `work` runs. MONITOR names the sender of each command ("lua" for those a script
 * runs), so unlike commandstats it tells a round trip from a script's inner
 * calls. The window is delimited by two ECHO markers from `admin`; Redis feeds
 * monitors in execution order, so once the closing marker is seen, everything
 * before it has been seen.
 */
export class CommandMonitor {
  readonly #monitor: Redis;
  readonly #admin: Redis;
  readonly #adminAddress: string;
  #listener: ((time: string, args: string[], source: string) => void) | undefined;

  private constructor(monitor: Redis, admin: Redis, adminAddress: string) {
    this.#monitor = monitor;
    this.#admin = admin;
    this.#adminAddress = adminAddress;
    monitor.on('monitor', (time: string, args: string[], source: string) => this.#listener?.(time, args, source));
  }

  static async start(admin: Redis): Promise<CommandMonitor> {
    const info = String(await admin.call('CLIENT', 'INFO'));
    const address = /(?:^|\s)addr=(\S+)/.exec(info)?.[1];
    if (address === undefined) throw new Error('CLIENT INFO gave no addr');
    return new CommandMonitor(await admin.duplicate().monitor(), admin, address);
  }

  async window<T>(work: () => Promise<T>): Promise<{ result: T; commands: MonitoredCommands }> {
    const marker = `bench-window:${process.hrtime.bigint()}`;
    const fromClients: Record<string, number> = {};
    const insideLua: Record<string, number> = {};
    let clientTotal = 0;
    let open = false;
    const closed = new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error('MONITOR never showed the closing marker')), 10_000);
      this.#listener = (_time, args, source) => {
        const command = (args[0] ?? '').toLowerCase();
        if (source === this.#adminAddress) {
          if (command === 'echo' && args[1] === `${marker}:start`) open = true;
          if (command === 'echo' && args[1] === `${marker}:end`) {
            clearTimeout(timer);
            resolve();
          }
          return;
        }
        if (!open) return;
        const bucket = source === 'lua' ? insideLua : fromClients;
        bucket[command] = (bucket[command] ?? 0) + 1;
        if (source !== 'lua') clientTotal += 1;
      };
    });
    closed.catch(() => undefined); // awaited below
    await this.#admin.echo(`${marker}:start`);
    const result = await work();
    await this.#admin.echo(`${marker}:end`);
    await closed;
    this.#listener = undefined;
    return { result, commands: { fromClients, clientTotal, insideLua } };
  }

  stop(): void {
    this.#monitor.disconnect();
  }
}
