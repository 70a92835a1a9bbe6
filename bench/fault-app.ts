import type { ChildProcess } from 'node:child_process';
import Redis, { Cluster } from 'ioredis';
import { RedisStore } from '../lib/index';
import { accessToken, startApp, type BenchApp } from './app';
import { exitOf, forkBenchModule, isBenchChild } from './child';

/**
 * The guarded bench app (bench/app.ts) on a RedisStore, in a process of its own, as an app under
 * faults: it reports every unhandled rejection and uncaught exception to the parent (an uncaught
 * exception then ends it, as it would end an app), and counts its client's `error` events.
 */

/** Where the app's Redis is. */
export type RedisTarget =
  | { readonly kind: 'single'; readonly url: string }
  | { readonly kind: 'cluster'; readonly nodes: ReadonlyArray<{ readonly host: string; readonly port: number }> };

/**
 * `fail-fast`: `{ enableOfflineQueue: false, maxRetriesPerRequest: 1, commandTimeout: 500 }`, on one
 * server with `retryStrategy: RECONNECT_WITHIN_500_MS` (a Cluster's node connections do not use it):
 * the README's options for a Cluster, and for one server until 2026-12-07;
 * `fail-fast+pipelining`: the same with `enableAutoPipelining: true`, the README's options for one server;
 * `defaults`: no options.
 */
export type ClientOptionsKind = 'fail-fast' | 'fail-fast+pipelining' | 'defaults';

/**
 * ioredis 6's default retryStrategy doubles the delay between reconnection attempts up to 5 s
 * (plus up to 200 ms of jitter), so after an outage of a few seconds a client may wait seconds more
 * before it tries again. This one tries every 50 ms more, up to every 500 ms.
 */
export const RECONNECT_WITHIN_500_MS = (times: number): number => Math.min(times * 50, 500);

export interface ProcessFault {
  readonly kind: 'unhandledRejection' | 'uncaughtException';
  readonly message: string;
  readonly atMs: number;
}

type ToChild = { readonly type: 'start'; readonly target: RedisTarget; readonly options: ClientOptionsKind; readonly userId: string } | { readonly type: 'stats' };
type FromChild =
  | { readonly type: 'ready'; readonly port: number; readonly token: string }
  | { readonly type: 'fault'; readonly fault: ProcessFault }
  | { readonly type: 'stats'; readonly clientErrors: number }
  | { readonly type: 'error'; readonly error: string };

/** The README's options for a standalone client, but for enableAutoPipelining. */
const FAIL_FAST = { enableOfflineQueue: false, maxRetriesPerRequest: 1, commandTimeout: 500, retryStrategy: RECONNECT_WITHIN_500_MS } as const;

/** The parent's handle on the app process. */
export class FaultApp {
  readonly #child: ChildProcess;
  readonly #exited: Promise<void>;
  readonly faults: ProcessFault[] = [];
  #closing = false;
  /** Set when the process ended without being asked to: a crash. */
  crash: string | null = null;

  private constructor(child: ChildProcess, readonly port: number, readonly token: string) {
    this.#child = child;
    this.#exited = exitOf(child);
    this.#exited.catch(() => undefined); // a crash is recorded below
    child.on('message', (message: FromChild) => {
      if (message.type === 'fault') this.faults.push(message.fault);
    });
    child.once('exit', (code, signal) => {
      if (!this.#closing) this.crash = `exited with ${code ?? signal}`;
    });
  }

  static async start(target: RedisTarget, options: ClientOptionsKind, userId: string): Promise<FaultApp> {
    const child = forkBenchModule(__filename);
    const faults: ProcessFault[] = [];
    const ready = await new Promise<{ port: number; token: string }>((resolve, reject) => {
      const onExit = (code: number | null) => reject(new Error(`the app process exited with ${code} before it was ready`));
      child.once('exit', onExit);
      const onMessage = (message: FromChild) => {
        if (message.type === 'fault') faults.push(message.fault);
        if (message.type === 'error') reject(new Error(`app process: ${message.error}`));
        if (message.type !== 'ready') return;
        child.removeListener('exit', onExit);
        child.removeListener('message', onMessage);
        resolve(message);
      };
      child.on('message', onMessage);
      child.send({ type: 'start', target, options, userId } satisfies ToChild);
    });
    const app = new FaultApp(child, ready.port, ready.token);
    app.faults.push(...faults);
    return app;
  }

  /** How many `error` events the app's ioredis client has emitted so far. */
  clientErrors(): Promise<number> {
    return new Promise((resolve, reject) => {
      if (!this.#child.connected) return reject(new Error('the app process is gone'));
      const onMessage = (message: FromChild) => {
        if (message.type !== 'stats') return;
        this.#child.removeListener('message', onMessage);
        resolve(message.clientErrors);
      };
      this.#child.on('message', onMessage);
      this.#child.send({ type: 'stats' } satisfies ToChild);
    });
  }

  /** Closes the IPC channel: the app closes its server and client and exits. */
  async close(): Promise<void> {
    this.#closing = this.crash === null;
    if (this.#child.connected) this.#child.disconnect();
    await this.#exited.catch(() => undefined);
  }
}

function createClient(target: RedisTarget, options: ClientOptionsKind): Redis | Cluster {
  const enableAutoPipelining = options === 'fail-fast+pipelining';
  if (target.kind === 'single') {
    if (options === 'defaults') return new Redis(target.url);
    return new Redis(target.url, { ...FAIL_FAST, enableAutoPipelining });
  }
  const nodes = target.nodes.map((node) => ({ host: node.host, port: node.port }));
  if (options === 'defaults') return new Cluster(nodes);
  // A Cluster's node connections do not reconnect by themselves (ioredis waits for MOVED and
  // fetches the slot map again): no retryStrategy for them.
  const { enableOfflineQueue, retryStrategy: _single, ...redisOptions } = FAIL_FAST;
  return new Cluster(nodes, { enableOfflineQueue, enableAutoPipelining, redisOptions });
}

function waitReady(client: Redis | Cluster): Promise<void> {
  if (client.status === 'ready') return Promise.resolve();
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('the Redis client was not ready within 10 s')), 10_000);
    client.once('ready', () => {
      clearTimeout(timer);
      resolve();
    });
  });
}

function runChild(): void {
  const send = (message: FromChild) => void (process.connected && process.send?.(message));
  const describe = (reason: unknown) => (reason instanceof Error ? `${reason.name}: ${reason.message}` : String(reason)).slice(0, 300);
  process.on('unhandledRejection', (reason) => send({ type: 'fault', fault: { kind: 'unhandledRejection', message: describe(reason), atMs: Date.now() } }));
  process.on('uncaughtException', (error) => {
    send({ type: 'fault', fault: { kind: 'uncaughtException', message: describe(error), atMs: Date.now() } });
    // Ends the process as an uncaught exception would, once the report is out.
    setTimeout(() => process.exit(70), 50);
  });

  let client: Redis | Cluster | undefined;
  let app: BenchApp | undefined;
  let clientErrors = 0;
  process.on('message', (message: ToChild) => {
    if (message.type === 'stats') return send({ type: 'stats', clientErrors });
    client = createClient(message.target, message.options);
    // An app listens for `error` (see the README's snippet); ioredis reconnects by itself.
    client.on('error', () => void (clientErrors += 1));
    const started = client;
    waitReady(started)
      .then(async () => {
        app = await startApp(new RedisStore({ client: started, prefix: 'bench:faults:' }));
        send({ type: 'ready', port: app.port, token: accessToken(message.userId) });
      })
      .catch((error: unknown) => send({ type: 'error', error: describe(error) }));
  });
  process.once('disconnect', () => {
    const closing = app?.close() ?? Promise.resolve();
    closing.finally(() => {
      client?.disconnect();
      process.exit(0);
    });
  });
}

if (isBenchChild()) runChild();
