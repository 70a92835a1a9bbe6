import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import Redis from 'ioredis';
import { freePort, startRedisServer, type PrivateRedis } from '../test/helpers/redis-server';

/**
 * Private redis-servers that the fault bench can kill and start again on the same port: one
 * server, and a Redis Cluster of three masters with one replica each. Free loopback ports only
 * (never 6379), nothing kept on disk but the cluster's own node files in a temporary directory.
 */

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const wallClockMs = () => performance.timeOrigin + performance.now();

/** Runs one command on the redis-server at `port` with a short-lived connection of its own (no retries). */
export async function redisCommand(port: number, ...args: string[]): Promise<unknown> {
  const client = new Redis(port, '127.0.0.1', { lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null, commandTimeout: 2000 });
  client.on('error', () => undefined); // a refused connection rejects the command below
  try {
    await client.connect();
    const [name, ...rest] = args;
    return await client.call(name as string, ...rest);
  } finally {
    client.disconnect();
  }
}

/** Kills a server with SIGKILL (no shutdown, no save) and resolves once the process is gone. */
async function killServer(server: PrivateRedis): Promise<void> {
  await new Promise<void>((resolve) => {
    if (server.process.exitCode !== null || server.process.signalCode !== null) return resolve();
    server.process.once('exit', () => resolve());
    server.process.kill('SIGKILL');
  });
  await server.stop(); // the process is gone: this only drops its kill-on-exit hook
}

/** An RDB file a redis-server loads when it starts. */
export interface RdbSnapshot {
  readonly dir: string;
  readonly file: string;
}

/**
 * Runs `fill` against a throwaway redis-server and saves what it wrote as an RDB snapshot in `dir`:
 * data that a restarted server can start with, without anyone writing it while the restart is measured.
 */
export async function snapshotOf(dir: string, fill: (url: string) => Promise<void>): Promise<RdbSnapshot> {
  const file = 'seed.rdb';
  const server = await startRedisServer(undefined, ['--dir', dir, '--dbfilename', file]);
  try {
    await fill(server.url);
    await redisCommand(server.port, 'SAVE');
    return { dir, file };
  } finally {
    await server.stop();
  }
}

/** One redis-server on a fixed free port that can be killed and started again there, empty. */
export class RestartableRedis {
  #server: PrivateRedis;

  private constructor(server: PrivateRedis) {
    this.#server = server;
  }

  static async start(extraArgs: string[] = []): Promise<RestartableRedis> {
    return new RestartableRedis(await startRedisServer(undefined, extraArgs));
  }

  get port(): number {
    return this.#server.port;
  }

  get url(): string {
    return this.#server.url;
  }

  /** SIGKILL; resolves when the process has exited (nothing can answer from then on). */
  kill(): Promise<void> {
    return killServer(this.#server);
  }

  /**
   * A new redis-server on the same port, empty or holding only what `seed` (an RDB snapshot) holds;
   * resolves once it answers PING.
   */
  async restart(seed?: RdbSnapshot): Promise<void> {
    this.#server = await startRedisServer(this.#server.port, seed === undefined ? [] : ['--dir', seed.dir, '--dbfilename', seed.file]);
  }

  stop(): Promise<void> {
    return this.#server.stop();
  }
}

export interface ClusterNode {
  readonly host: string;
  readonly port: number;
}

/** The master and replica serving one hash slot, by port. */
export interface SlotOwners {
  readonly master: number;
  readonly replica: number;
}

/**
 * Three masters with one replica each, built with `redis-cli --cluster create --cluster-replicas 1`.
 * `cluster-node-timeout` is short (1 s, default 15 s) so that a killed master is failed over within
 * a few seconds.
 */
export class ReplicatedCluster {
  readonly #servers = new Map<number, PrivateRedis>();
  readonly #args = new Map<number, string[]>();
  readonly #dir: string;

  private constructor(dir: string) {
    this.#dir = dir;
  }

  static readonly NODE_TIMEOUT_MS = 1000;

  static async start(): Promise<ReplicatedCluster> {
    const cluster = new ReplicatedCluster(mkdtempSync(path.join(tmpdir(), 'stepup-faults-cluster-')));
    try {
      const ports: number[] = [];
      for (let i = 0; i < 6; i += 1) ports.push(await freePort());
      await Promise.all(
        ports.map(async (port) => {
          // The cluster bus gets its own free port too (by default it is port + 10000, which may be taken).
          const args = [
            '--cluster-enabled', 'yes',
            '--cluster-port', String(await freePort()),
            '--cluster-config-file', `nodes-${port}.conf`,
            '--cluster-node-timeout', String(ReplicatedCluster.NODE_TIMEOUT_MS),
            '--dir', cluster.#dir,
          ];
          cluster.#args.set(port, args);
          cluster.#servers.set(port, await startRedisServer(port, args));
        }),
      );
      const created = spawnSync(
        'redis-cli',
        ['--cluster', 'create', ...ports.map((p) => `127.0.0.1:${p}`), '--cluster-replicas', '1', '--cluster-yes'],
        { encoding: 'utf8', timeout: 30_000 },
      );
      if (created.status !== 0) throw new Error(`redis-cli --cluster create failed: ${created.stderr || created.stdout}`);
      await cluster.waitHealthy();
      return cluster;
    } catch (error) {
      await cluster.stop();
      throw error;
    }
  }

  get nodes(): ClusterNode[] {
    return [...this.#servers.keys()].map((port) => ({ host: '127.0.0.1', port }));
  }

  command(port: number, ...args: string[]): Promise<unknown> {
    return redisCommand(port, ...args);
  }

  /** The master and replica now serving `slot`, asking a node that is up. */
  async ownersOf(slot: number): Promise<SlotOwners> {
    for (const port of this.#servers.keys()) {
      if (!this.isUp(port)) continue;
      const slots = (await this.command(port, 'CLUSTER', 'SLOTS')) as Array<[number, number, [string, number], ...Array<[string, number]>]>;
      for (const [start, end, master, ...replicas] of slots) {
        if (slot < start || slot > end) continue;
        const replica = replicas[0];
        if (replica === undefined) throw new Error(`slot ${slot} has no replica`);
        return { master: Number(master[1]), replica: Number(replica[1]) };
      }
    }
    throw new Error(`no node that is up serves slot ${slot}`);
  }

  isUp(port: number): boolean {
    const server = this.#servers.get(port);
    return server !== undefined && server.process.exitCode === null && server.process.signalCode === null;
  }

  kill(port: number): Promise<void> {
    const server = this.#servers.get(port);
    if (server === undefined) throw new Error(`no node on port ${port}`);
    return killServer(server);
  }

  /** Starts a killed node again (empty; it rejoins as a replica of whoever took its slots). */
  async restart(port: number): Promise<void> {
    this.#servers.set(port, await startRedisServer(port, this.#args.get(port) ?? []));
  }

  /**
   * Polls `port` until ROLE says master. Resolves with the wall-clock time of the last poll sent while
   * it still was a replica (until then it served no record) and the time the first "master" came back.
   */
  async waitMaster(port: number, timeoutMs = 20_000): Promise<{ stillReplicaMs: number; masterMs: number }> {
    const deadline = Date.now() + timeoutMs;
    let stillReplicaMs = wallClockMs();
    for (;;) {
      const sent = wallClockMs();
      const role = (await this.command(port, 'ROLE').catch(() => null)) as unknown[] | null;
      if (role?.[0] === 'master') return { stillReplicaMs, masterMs: wallClockMs() };
      stillReplicaMs = sent;
      if (Date.now() > deadline) throw new Error(`node ${port} did not become a master within ${timeoutMs} ms`);
      await sleep(10);
    }
  }

  /** Resolves once every node that is up sees `cluster_state:ok`, three of them are masters, and every other one is a replica whose link to its master is up. */
  async waitHealthy(timeoutMs = 30_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      let healthy = true;
      let masters = 0;
      let linkedReplicas = 0;
      for (const port of this.#servers.keys()) {
        if (!this.isUp(port)) continue;
        const info = String(await this.command(port, 'INFO', 'replication').catch(() => ''));
        const state = String(await this.command(port, 'CLUSTER', 'INFO').catch(() => ''));
        if (!state.includes('cluster_state:ok')) healthy = false;
        if (info.includes('role:master')) masters += 1;
        if (info.includes('role:slave') && info.includes('master_link_status:up')) linkedReplicas += 1;
      }
      const up = [...this.#servers.keys()].filter((port) => this.isUp(port)).length;
      if (healthy && masters === 3 && linkedReplicas === up - 3) return;
      if (Date.now() > deadline) throw new Error('the cluster did not become healthy');
      await sleep(100);
    }
  }

  async stop(): Promise<void> {
    await Promise.all([...this.#servers.values()].map((server) => server.stop()));
    rmSync(this.#dir, { recursive: true, force: true });
  }
}
