import http from 'node:http';
import { connect, createServer, type Server, type Socket } from 'node:net';
import type Redis from 'ioredis';
import { RedisStore, type CodeMessage, type RateLimits } from '../lib/index';
import { UNLIMITED } from '../test/helpers/harness';
import { accessToken, BENCH_CODE, BENCH_USER, createPendingCodes, startApp, type BenchApp } from './app';
import type { LoadClient, LoadResult } from './load-client';
import { connectClient } from './redis-server';
import { median } from './stats';

/** Replies from Redis are held this long by the bench's proxy, so that round trips taken one after another stand apart. */
const REPLY_DELAY_MS = 25;
/** Commands of one round trip leave within this of each other; the next round trip starts ≥ REPLY_DELAY_MS later. */
const SAME_WAVE_MS = REPLY_DELAY_MS / 2;

const OWN_EMAIL = 'bench@example.com';
/** Every limit on (the per-IP ceiling included), set high enough never to refuse the bench. */
const ALL_LIMITS_ON: RateLimits = { ...UNLIMITED, perIp: { limit: 1_000_000, windowSeconds: 900 } };

/** One request kind: Redis commands it sends, and how many round trips wait one for another. */
export interface SendVerifyRoundTripRow {
  readonly case: string;
  readonly requests: number;
  readonly statuses: Readonly<Record<string, number>>;
  /** Commands the app sent per request that its answer could have waited for (median), by MONITOR. */
  readonly commandsBeforeAnswer: number;
  /** Commands sent with or after the answer, not waited for (giving a failure budget's slot back), per request (median). */
  readonly commandsAfterAnswer: number;
  /** Sequential round trips before the answer (median, and the most seen). */
  readonly sequentialRoundTrips: number;
  readonly maxSequentialRoundTrips: number;
  /** Median time to the answer through the delay proxy, ms (≈ sequential round trips × the delay). */
  readonly medianMsWithDelay: number;
  readonly pass: boolean;
}

export interface SendVerifyThroughputRow {
  readonly case: string;
  readonly requests: number;
  readonly concurrency: number;
  readonly requestsPerSecond: number;
  readonly p50Ms: number;
  readonly p99Ms: number;
  readonly statuses: Readonly<Record<string, number>>;
}

export interface SendVerifyResult {
  readonly replyDelayMs: number;
  readonly roundTrips: readonly SendVerifyRoundTripRow[];
  readonly throughput: readonly SendVerifyThroughputRow[];
}

/** A TCP proxy to Redis that holds every reply REPLY_DELAY_MS (requests pass at once). Loopback only. */
async function startDelayProxy(redisPort: number): Promise<{ port: number; close(): Promise<void> }> {
  const sockets = new Set<Socket>();
  const server: Server = createServer((client) => {
    const upstream = connect(redisPort, '127.0.0.1');
    sockets.add(client).add(upstream);
    client.on('data', (chunk) => upstream.write(chunk));
    upstream.on('data', (chunk) => setTimeout(() => client.writable && client.write(chunk), REPLY_DELAY_MS));
    const end = () => {
      client.destroy();
      upstream.destroy();
    };
    client.on('close', end).on('error', end);
    upstream.on('close', end).on('error', end);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as { port: number }).port;
  return {
    port,
    close: () =>
      new Promise<void>((resolve) => {
        for (const socket of sockets) socket.destroy();
        server.close(() => resolve());
      }),
  };
}

/** MONITOR with the server's timestamps: the app's commands (not the bench's admin, not inside Lua). */
class TimedMonitor {
  readonly #monitor: Redis;
  #seen: { at: number; command: string }[] = [];
  private constructor(monitor: Redis, adminAddress: string) {
    this.#monitor = monitor;
    monitor.on('monitor', (time: string, args: string[], source: string) => {
      if (source === 'lua' || source === adminAddress) return;
      this.#seen.push({ at: Number(time) * 1000, command: (args[0] ?? '').toLowerCase() });
    });
  }

  static async start(admin: Redis): Promise<TimedMonitor> {
    const address = /(?:^|\s)addr=(\S+)/.exec(String(await admin.call('CLIENT', 'INFO')))?.[1] ?? '';
    return new TimedMonitor(await admin.duplicate().monitor(), address);
  }

  take(): { at: number; command: string }[] {
    const seen = this.#seen;
    this.#seen = [];
    return seen;
  }

  stop(): void {
    this.#monitor.disconnect();
  }
}

function post(app: BenchApp, path: string, body: unknown): Promise<{ status: number; body: Record<string, unknown> }> {
  const text = JSON.stringify(body);
  return new Promise((resolve, reject) => {
    const req = http.request(
      {
        host: '127.0.0.1',
        port: app.port,
        method: 'POST',
        path,
        headers: { authorization: `Bearer ${accessToken()}`, 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) },
      },
      (res) => {
        let data = '';
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => (data += chunk));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body: data ? (JSON.parse(data) as Record<string, unknown>) : {} }));
      },
    );
    req.once('error', reject);
    req.end(text);
  });
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * One request at a time through the delay proxy, each in a MONITOR window that stays open
 * 3 × REPLY_DELAY_MS after the answer. A round trip is a wave of commands sent together, before any
 * of their replies came back: the commands of one wave reach Redis within microseconds of each
 * other (ioredis writes each at once; a Cluster client writes to several nodes at once), and a
 * command that needed a reply first arrives at least REPLY_DELAY_MS after it. So the waves are the
 * groups of MONITOR timestamps apart by more than REPLY_DELAY_MS / 2. The answer can only have
 * waited for commands whose replies came back before it, that is, which reached Redis at least
 * REPLY_DELAY_MS before the answer arrived; a command sent as the answer goes out (a failure
 * budget's give-back after a correct code) reaches Redis within a millisecond or so of the answer
 * and is not waited for. The waves of the commands that reached Redis more than REPLY_DELAY_MS / 2
 * before the answer are the sequential round trips the client waited for; the median time to the
 * answer (≈ round trips × REPLY_DELAY_MS) tells the same independently.
 */
async function measureRoundTrips(
  monitor: TimedMonitor,
  name: string,
  samples: number,
  request: (i: number) => Promise<number>,
): Promise<SendVerifyRoundTripRow> {
  const before: number[] = [];
  const after: number[] = [];
  const waves: number[] = [];
  const latencies: number[] = [];
  const statuses: Record<string, number> = {};
  for (let i = 0; i < samples; i += 1) {
    monitor.take();
    const started = Date.now();
    const status = await request(i);
    const answeredAt = Date.now();
    latencies.push(answeredAt - started);
    await sleep(REPLY_DELAY_MS * 3);
    statuses[String(status)] = (statuses[String(status)] ?? 0) + 1;
    const seen = monitor.take().sort((a, b) => a.at - b.at);
    const early = seen.filter((c) => c.at < answeredAt - SAME_WAVE_MS);
    let count = 0;
    let last = -Infinity;
    for (const command of early) {
      if (command.at - last > SAME_WAVE_MS) count += 1;
      last = command.at;
    }
    before.push(early.length);
    after.push(seen.length - early.length);
    waves.push(count);
  }
  const max = Math.max(...waves);
  return {
    case: name,
    requests: samples,
    statuses,
    commandsBeforeAnswer: median(before),
    commandsAfterAnswer: median(after),
    sequentialRoundTrips: median(waves),
    maxSequentialRoundTrips: max,
    medianMsWithDelay: median(latencies),
    pass: max <= 2,
  };
}

export interface SendVerifyOptions {
  readonly load: LoadClient;
  readonly redisUrl: string;
  readonly redisPort: number;
  readonly admin: Redis;
  /** Requests of each round-trip row. */
  readonly samples: number;
  /** Requests of each throughput row, and their concurrency. */
  readonly requests: number;
  readonly concurrency: number;
}

/**
 * Sending and checking codes on the RedisStore with every limit on: Redis commands and sequential
 * round trips per request (through a proxy that delays Redis' replies, see measureRoundTrips), then
 * requests/s over HTTP without the delay, from the load-generator process like the guard's.
 */
export async function runSendVerifyBench(options: SendVerifyOptions): Promise<SendVerifyResult> {
  const users = new Map([[BENCH_USER, { id: BENCH_USER, email: OWN_EMAIL }]]);
  const sent: CodeMessage[] = [];
  const sender = { send: async (message: CodeMessage) => void sent.push(message) };
  const proxy = await startDelayProxy(options.redisPort);
  const slowClient = await connectClient(`redis://127.0.0.1:${proxy.port}`);
  const monitor = await TimedMonitor.start(options.admin);
  const roundTrips: SendVerifyRoundTripRow[] = [];
  let slowApp: BenchApp | undefined;
  try {
    const slowStore = new RedisStore({ client: slowClient, prefix: 'bench:sv:slow:' });
    slowApp = await startApp(slowStore, users, { sender, limits: ALL_LIMITS_ON });
    const app = slowApp;
    // Warm: ioredis sends each script once as EVAL on a new connection.
    const warmIds = await createPendingCodes(slowStore, 3, OWN_EMAIL);
    for (const [i, id] of warmIds.entries()) {
      await post(app, '/v/verification-code', { identifier: { type: 'email', value: `warm+${i}@example.com` } });
      await post(app, '/v/verification-code/verify', { identifier: { type: 'email', value: OWN_EMAIL }, verificationId: id, code: BENCH_CODE });
    }
    const send = (value: (i: number) => string) => async (i: number) => (await post(app, '/v/verification-code', { identifier: { type: 'email', value: value(i) } })).status;
    const verify = (ids: readonly string[], code: string) => async (i: number) =>
      (await post(app, '/v/verification-code/verify', { identifier: { type: 'email', value: OWN_EMAIL }, verificationId: ids[i], code })).status;
    roundTrips.push(await measureRoundTrips(monitor, 'send a code to the user’s own email', options.samples, send(() => OWN_EMAIL)));
    roundTrips.push(await measureRoundTrips(monitor, 'send a code to a new email (the cross-user cap too)', options.samples, send((i) => `new+${i}@example.org`)));
    const wrong = await createPendingCodes(slowStore, options.samples, OWN_EMAIL);
    roundTrips.push(await measureRoundTrips(monitor, 'verify a wrong code (422)', options.samples, verify(wrong, '000000')));
    const right = await createPendingCodes(slowStore, options.samples, OWN_EMAIL);
    roundTrips.push(await measureRoundTrips(monitor, 'verify the right code (200)', options.samples, verify(right, BENCH_CODE)));
  } finally {
    monitor.stop();
    await slowApp?.close();
    slowClient.disconnect();
    await proxy.close();
  }

  // Throughput without the delay, from the load-generator process.
  const client = await connectClient(options.redisUrl);
  const store = new RedisStore({ client, prefix: 'bench:sv:' });
  const app = await startApp(store, users, { sender, limits: ALL_LIMITS_ON });
  const throughput: SendVerifyThroughputRow[] = [];
  try {
    const job = (path: string, bodies: readonly string[]) => ({
      port: app.port,
      method: 'POST' as const,
      path,
      headers: { authorization: `Bearer ${accessToken()}` },
      idHeader: 'x-bench',
      ids: '-',
      count: bodies.length,
      concurrency: options.concurrency,
      bodies,
    });
    const row = (name: string, result: LoadResult): SendVerifyThroughputRow => ({
      case: name,
      requests: result.count,
      concurrency: options.concurrency,
      requestsPerSecond: result.requestsPerSecond,
      p50Ms: result.p50Ms,
      p99Ms: result.p99Ms,
      statuses: result.statuses,
    });
    // Each send to an address of its own (the resend cooldown is per identifier): new identifiers, so the cross-user cap counts too.
    const sendBodies = (n: number, tag: string) => Array.from({ length: n }, (_, i) => JSON.stringify({ identifier: { type: 'email', value: `${tag}+${i}@example.org` } }));
    const verifyBodies = (ids: readonly string[]) => ids.map((id) => JSON.stringify({ identifier: { type: 'email', value: OWN_EMAIL }, verificationId: id, code: BENCH_CODE }));
    await options.load.run(job('/v/verification-code', sendBodies(500, 'warm')));
    await options.load.run(job('/v/verification-code/verify', verifyBodies(await createPendingCodes(store, 500, OWN_EMAIL))));
    throughput.push(row('POST /verification-code (send)', await options.load.run(job('/v/verification-code', sendBodies(options.requests, 'load')))));
    const ids = await createPendingCodes(store, options.requests, OWN_EMAIL);
    throughput.push(row('POST /verification-code/verify (right code)', await options.load.run(job('/v/verification-code/verify', verifyBodies(ids)))));
  } finally {
    await app.close();
    await client.quit();
  }
  return { replyDelayMs: REPLY_DELAY_MS, roundTrips, throughput };
}
