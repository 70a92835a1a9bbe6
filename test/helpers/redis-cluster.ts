import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Cluster } from 'ioredis';
import { freePort, startRedisServer } from './redis-server';

export interface PrivateCluster {
  readonly nodes: Array<{ host: string; port: number }>;
  stop(): Promise<void>;
}

/**
 * A three-master Redis Cluster of private redis-servers on free ports (no replicas,
 * nothing kept after the test), built with `redis-cli --cluster create`.
 */
export async function startRedisCluster(): Promise<PrivateCluster> {
  const dir = mkdtempSync(path.join(tmpdir(), 'stepup-cluster-'));
  const ports = [await freePort(), await freePort(), await freePort()];
  // The cluster bus gets its own free port too (by default it is port + 10000, which may be taken).
  const busPorts = [await freePort(), await freePort(), await freePort()];
  const servers = await Promise.all(
    ports.map((port, i) =>
      startRedisServer(port, [
        '--cluster-enabled', 'yes',
        '--cluster-port', String(busPorts[i]),
        '--cluster-config-file', `nodes-${port}.conf`,
        '--dir', dir,
      ]),
    ),
  );
  const created = spawnSync(
    'redis-cli',
    ['--cluster', 'create', ...ports.map((p) => `127.0.0.1:${p}`), '--cluster-replicas', '0', '--cluster-yes'],
    { encoding: 'utf8', timeout: 20_000 },
  );
  if (created.status !== 0) throw new Error(`redis-cli --cluster create failed: ${created.stderr || created.stdout}`);
  const deadline = Date.now() + 15_000;
  for (;;) {
    const info = spawnSync('redis-cli', ['-p', String(ports[0]), 'cluster', 'info'], { encoding: 'utf8' }).stdout;
    if (info.includes('cluster_state:ok')) break;
    if (Date.now() > deadline) throw new Error('the test cluster did not reach cluster_state:ok');
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  return {
    nodes: ports.map((port) => ({ host: '127.0.0.1', port })),
    stop: async () => {
      await Promise.all(servers.map((s) => s.stop()));
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/**
 * An ioredis Cluster client of the test cluster, once it is ready. The offline queue is on: a
 * Cluster client queues the commands sent while it is still learning the slots.
 */
export async function connectedCluster(cluster: PrivateCluster, options: { readonly enableAutoPipelining?: boolean } = {}): Promise<Cluster> {
  const client = new Cluster(cluster.nodes, { enableOfflineQueue: true, ...options, redisOptions: { maxRetriesPerRequest: 1 } });
  await new Promise((resolve, reject) => {
    client.once('ready', resolve);
    client.once('error', reject);
  });
  return client;
}
