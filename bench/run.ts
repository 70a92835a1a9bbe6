/**
 * `npm run bench`: builds the package (dist/), then measures the guard over HTTP side by side with
 * a floor and a peer in one run (bench/side-by-side/), Redis round trips per guard check (on one
 * redis-server and on a three-master Redis Cluster) and per code send and check, JWT verification,
 * MemoryStore and RedisStore memory, bcrypt timing. Starts its own redis-server and cluster on free ports (never 6379) and
 * stops them; prints tables and writes bench/results/latest.json. Exits 1 when a measured
 * property fails (more than one Redis command sent per guard check after warm-up, a MemoryStore
 * past its bound, more than two sequential round trips per code send or check, a Redis record past
 * its byte bound or out of listpack encoding, or a request that did not get the expected answer).
 *
 * BENCH_CPU_PROF='<part of a row name>|<another>' starts those side-by-side servers with --cpu-prof;
 * their profiles are written to bench/results/profiles/ when the run ends (open them in Chrome
 * DevTools, or summarize their self time with `npx tsx bench/profile-summary.ts <file>`).
 */
import { spawnSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import type Redis from 'ioredis';
import { runBcryptBench, type BcryptResult } from './bcrypt';
import { runClusterRoundTripBench, type ClusterRoundTripResult } from './cluster-round-trips';
import { runJwtBench, type JwtResult } from './jwt';
import { LoadClient } from './load-client';
import { runMemoryBench, type MemoryResult } from './memory';
import { runRedisMemoryBench, type RedisMemoryRow } from './redis-memory';
import { runSendVerifyBench, type SendVerifyResult } from './send-verify';
import { runOidcBench, type OidcResult } from './oidc';
import { runPasswordLoadBench, type PasswordLoadResult } from './password-load';
import { connectClient, startRedisServer } from './redis-server';
import { runRoundTripBench, type RoundTripRow } from './round-trips';
import { runSideBySide, type SideBySideResult } from './side-by-side/run-side-by-side';
import { formatInt, printTable, round } from './stats';

const SETTINGS = {
  jwtIterations: 20_000,
  oidcIterations: 10_000,
  /**
   * Side by side: autocannon connections (as in issue 10's figures), requests per row and round,
   * rounds, warm-up, unmeasured requests right before each measurement (a server that sat idle
   * while the others were measured starts cold: in two runs side by side, one without the burst and
   * one with it, every row measured about a fifth faster with it), MONITOR window.
   */
  httpConnections: 50,
  httpRequests: 5_000,
  httpRounds: 7,
  httpWarmup: 2_000,
  httpSettle: 1_000,
  httpMonitorRequests: 1_000,
  /**
   * The paired phase (bench/side-by-side/paired.ts): rounds (even: the two load generators swap
   * servers every round), the window answers are counted in, the time under load before it, and
   * each single-use connection's records per run (500 × 50 connections last a server answering
   * some 5,000 requests a second on its half of a CPU over lead and window; this one answers 2,000–3,000).
   * The lead: with half a second the A/A's rounds spread 0.87–1.02 (runs P and Q), with 2.5
   * seconds 0.98–1.01 (runs R and S). In a temporary script whose servers had not been under load
   * before, the first round of each pair against the floor came out 0.17–0.25 below the median of
   * its later rounds with half a second, and within 0.05 of it with 2.5 seconds.
   */
  paired: { rounds: 6, windowMs: 2_000, leadMs: 2_500, connections: 50, idsPerConnection: 500 },
  roundTripChecks: 1_000,
  roundTripWarmup: 50,
  clusterRoundTripChecks: 999,
  sendVerifySamples: 20,
  sendVerifyRequests: 2_000,
  redisMemoryRecords: 100_000,
  /** Concurrent clients of the send/verify throughput rows (the guard rows use httpConnections). */
  sendVerifyConcurrency: 20,
  bcryptSamples: 10,
} as const;

/** Past this the run is stuck: it stops (the redis-server is killed on exit). A whole run takes about 15 minutes on 2 cores (the bcrypt-beside-the-guard section alone about 4). */
const HARD_TIMEOUT_MS = 1_500_000;

interface Machine {
  readonly node: string;
  readonly platform: string;
  readonly cpus: number;
  readonly cpuModel: string;
  readonly redis: string;
  /** 1, 5 and 15 minute load averages when the run started: the cores are shared with other work. */
  readonly loadAverageAtStart: readonly number[];
}

interface Results {
  readonly machine: Machine;
  readonly jwt: readonly JwtResult[];
  readonly oidc: readonly OidcResult[];
  readonly sideBySide: SideBySideResult;
  readonly roundTrips: readonly RoundTripRow[];
  readonly clusterRoundTrips: ClusterRoundTripResult;
  readonly sendVerify: SendVerifyResult;
  readonly memory: MemoryResult;
  readonly redisMemory: readonly RedisMemoryRow[];
  readonly bcrypt: BcryptResult;
  readonly passwordLoad: readonly PasswordLoadResult[];
}

const progress = (stage: string) => process.stderr.write(`… ${stage}\n`);

async function redisVersion(admin: Redis): Promise<string> {
  return /redis_version:(\S+)/.exec(await admin.info('server'))?.[1] ?? 'unknown';
}

/**
 * Runs every measurement. The HTTP ones go first, while the process is fresh:
 * run after the JWT loops (whose string-secret case leaves much garbage), the
 * first guard case measured up to a third slower.
 */
async function measure(loadAverageAtStart: readonly number[]): Promise<Results> {
  const redis = await startRedisServer();
  const load = LoadClient.start();
  let admin: Redis | undefined;
  try {
    admin = await connectClient(redis.url);
    const machine: Machine = {
      node: process.version,
      platform: `${os.platform()} ${os.arch()}`,
      cpus: os.cpus().length,
      cpuModel: os.cpus()[0]?.model.trim() ?? 'unknown',
      redis: await redisVersion(admin),
      loadAverageAtStart,
    };
    progress(`side by side over HTTP: floor, peer, guard (redis-server ${machine.redis} on port ${redis.port})`);
    const sideBySide = await runSideBySide({
      redisUrl: redis.url,
      redisPort: redis.port,
      redisPid: redis.process.pid as number,
      admin,
      paired: SETTINGS.paired,
      connections: SETTINGS.httpConnections,
      requests: SETTINGS.httpRequests,
      rounds: SETTINGS.httpRounds,
      warmup: SETTINGS.httpWarmup,
      settleRequests: SETTINGS.httpSettle,
      monitorRequests: SETTINGS.httpMonitorRequests,
      cpuProfile: process.env.BENCH_CPU_PROF || undefined,
      progress: (line) => progress(`  ${line}`),
    });
    progress('Redis round trips per guard check');
    const roundTrips = await runRoundTripBench({
      load,
      redisUrl: redis.url,
      redisPort: redis.port,
      admin,
      checks: SETTINGS.roundTripChecks,
      warmup: SETTINGS.roundTripWarmup,
    });
    progress('Redis round trips per guard check on a three-master Redis Cluster');
    const clusterRoundTrips = await runClusterRoundTripBench({
      load,
      checks: SETTINGS.clusterRoundTripChecks,
      warmup: SETTINGS.roundTripWarmup,
    });
    progress('sending and checking codes: Redis round trips and requests/s');
    const sendVerify = await runSendVerifyBench({
      load,
      redisUrl: redis.url,
      redisPort: redis.port,
      admin,
      samples: SETTINGS.sendVerifySamples,
      requests: SETTINGS.sendVerifyRequests,
      concurrency: SETTINGS.sendVerifyConcurrency,
    });
    progress('RedisStore memory per live record');
    const redisMemory = await runRedisMemoryBench({ redisUrl: redis.url, admin, records: SETTINGS.redisMemoryRecords });
    progress('JWT verification');
    const jwt = runJwtBench(SETTINGS.jwtIterations);
    progress('provider tokens: oidcAuthenticator beside jsonwebtoken and jwtAuthenticator');
    const oidc = await runOidcBench(SETTINGS.oidcIterations);
    progress('MemoryStore memory and bound');
    const memory = await runMemoryBench();
    progress('bcrypt timing');
    const bcrypt = await runBcryptBench(SETTINGS.bcryptSamples);
    progress('bcrypt beside the guard: 50 password clients, passwordConcurrency and UV_THREADPOOL_SIZE');
    const passwordLoad = await runPasswordLoadBench();
    return { machine, jwt, oidc, sideBySide, roundTrips, clusterRoundTrips, sendVerify, memory, redisMemory, bcrypt, passwordLoad };
  } finally {
    await load.close().catch(() => undefined);
    await admin?.quit().catch(() => undefined);
    await redis.stop();
  }
}

const counts = (map: Readonly<Record<string, number>>) =>
  Object.entries(map).map(([key, n]) => `${key}×${n}`).join(' ') || '–';

function report({ machine, jwt, oidc, sideBySide, roundTrips, clusterRoundTrips, sendVerify, memory, redisMemory, bcrypt, passwordLoad }: Results): void {
  console.log(
    `\nexpress-step-up bench: node ${machine.node}, ${machine.platform}, ${machine.cpus} CPU(s): ${machine.cpuModel}, redis-server ${machine.redis}; ` +
      `load average at start ${machine.loadAverageAtStart.join(' / ')} (1 / 5 / 15 min; the cores are shared with other work)`,
  );

  const s = sideBySide.settings;
  printTable(
    `1. Side by side over HTTP, one run: each server in its own process, all on the same private Redis; load from autocannon in another process, ` +
      `${s.connections} connections, keep-alive, no pipelining; ${s.rounds} rounds × ${formatInt(s.requests)} requests per row after ${formatInt(s.warmup)} warm-up, ` +
      `each measurement right after ${formatInt(s.settleRequests)} unmeasured requests to the same server, ` +
      `rows taking turns; medians of the rounds. × floor / × peer: median of per-round ratios (floor of the same algorithm; peer only for HMAC rows); ` +
      `× pipelining floor: the same against the HS256 floor with auto-pipelining, for HS256 rows whose client auto-pipelines (the README's options). ` +
      `The floor's second server (A/A) runs the floor's code: its × floor is what this run's noise alone makes of a ratio. ` +
      `Redis sent/req: MONITOR over ${formatInt(s.monitorRequests)} more requests (Lua's inner calls not counted); commandstats/req counts them. ` +
      `CPU in cores (server process; load generator: near 1 would make it the bottleneck). ` +
      `µs/req: CPU time per request of the server process and of redis-server (steadier than req/s on a shared machine).`,
    ['server', 'req/s', 'req/s range', 'p50 ms', 'p99 ms', '× floor', '× pipelining floor', '× peer', 'Redis sent/req', 'commandstats/req', 'server CPU', 'server µs/req', 'Redis µs/req', 'load CPU', 'asserted ≤ 1', 'pass'],
    sideBySide.rows.map((r) => [
      r.name,
      formatInt(r.requestsPerSecond),
      r.requestsPerSecondRange.map(formatInt).join('–'),
      r.p50Ms,
      r.p99Ms,
      r.timesFloor,
      r.timesPipeliningFloor,
      r.timesPeer,
      `${r.redisSentPerRequest}${Object.keys(r.redisSent).length > 0 ? ` (${counts(r.redisSent)})` : ''}`,
      r.commandstatsPerRequest,
      r.serverCpu,
      r.serverCpuUsPerRequest,
      r.redisCpuUsPerRequest,
      r.loadCpu,
      r.atMostOneCommand,
      r.pass,
    ]),
  );
  console.log(`   JWKS or discovery fetches during the rounds: ${sideBySide.providerFetchesDuringRounds} (oidcAuthenticator's key set is cached after warm-up)`);

  const paired = sideBySide.paired;
  const p = paired.settings;
  if ('skipped' in paired) console.log(`\n1b. Paired: skipped (${paired.skipped})`);
  else
    printTable(
      `1b. Paired, the same servers: a row and its reference under load at the same time, both servers pinned to CPU ${paired.cpus.servers}, ` +
        `the load generators (one per server, ${p.connections} connections each), redis-server and the bench on CPU ${paired.cpus.rest}; ` +
        `answers counted in the same ${formatInt(p.windowMs)} ms window (after ${p.leadMs} ms of load), ${p.rounds} rounds, pairs taking turns. ` +
        `Two busy servers on one CPU get equal CPU time, so × reference is how many requests one serves for each the other does, measured in the same seconds: ` +
        `the floor's second server (A/A) shows what is left of the noise. req/s is on half of one CPU. p99 × reference: median of per-round ratios. ` +
        `CPU: each server's CPU over its job, in cores (about 0.5 each when they shared the CPU evenly); µs/req: its CPU time per 200 answer over the job.`,
      ['server', 'against', '× reference', 'range', 'req/s', 'reference req/s', 'p99 ms', 'reference p99 ms', 'p99 × reference', 'p99 range', 'CPU', 'reference CPU', 'µs/req', 'reference µs/req'],
      paired.rows.map((r) => [
        r.name,
        r.reference,
        r.ratio,
        r.ratioRange.join('–'),
        formatInt(r.requestsPerSecond),
        formatInt(r.referenceRequestsPerSecond),
        r.p99Ms,
        r.referenceP99Ms,
        r.p99Ratio,
        r.p99RatioRange.join('–'),
        r.cpuShare,
        r.referenceCpuShare,
        r.cpuUsPerRequest,
        r.referenceCpuUsPerRequest,
      ]),
    );

  printTable(
    `2. JWT verification, HS256 (${formatInt(SETTINGS.jwtIterations)} iterations each, after 1,000 warm-up)`,
    ['case', 'ops/s', 'µs/op'],
    jwt.map((r) => [r.name, formatInt(r.opsPerSecond), r.microsecondsPerOp]),
  );

  printTable(
    `2b. Provider tokens, same token and public key: oidcAuthenticator (jose, JWKS already fetched) vs jsonwebtoken's full verification (jwtAuthenticator's first sight of a token), and jwtAuthenticator on the token again (${formatInt(SETTINGS.oidcIterations)} iterations each, after 1,000 warm-up)`,
    ['alg', 'case', 'ops/s', 'µs/op', '× jsonwebtoken'],
    oidc.map((r) => [r.alg, r.name, formatInt(r.opsPerSecond), r.microsecondsPerOp, r.ratioToJwt]),
  );

  const roundTripColumns = ['case', 'checks', 'statuses', 'sent by app', 'sent/check', 'inside Lua', 'commandstats/check', 'asserted ≤ 1', 'pass'];
  const roundTripCells = (r: RoundTripRow) => [
    r.case,
    r.checks,
    counts(r.statuses),
    counts(r.sent),
    r.sentPerCheck,
    counts(r.insideLua),
    r.commandstatsPerCheck,
    r.asserted,
    r.pass,
  ];
  printTable(
    '3. Redis commands per guard check (MONITOR on the private server: sent by the app vs run inside Lua; commandstats counts both)',
    roundTripColumns,
    roundTrips.map(roundTripCells),
  );
  printTable(
    `3b. The same on a three-master Redis Cluster (redis-server ${clusterRoundTrips.redis}, ioredis Cluster; MONITOR on every master; ` +
      `each row's checks split over one user per master: ${clusterRoundTrips.masters.map((m) => `${m.userId} → :${m.port}`).join(', ')})`,
    [...roundTripColumns.slice(0, 5), 'sent per master', ...roundTripColumns.slice(5)],
    clusterRoundTrips.rows.map((r) => {
      const cells = roundTripCells(r);
      const perMaster = Object.entries(r.sentByServer).map(([port, n]) => `:${port} ${n}`).join(' ');
      return [...cells.slice(0, 5), perMaster, ...cells.slice(5)];
    }),
  );

  printTable(
    `3c. Sending and checking codes, RedisStore, every limit on (per-IP included): commands the app sent (MONITOR) and sequential round trips, ` +
      `one request at a time through a proxy that holds Redis' replies ${sendVerify.replyDelayMs} ms (a round trip = the commands sent before any of their replies came back; medians)`,
    ['case', 'requests', 'statuses', 'commands waited for', 'sent with the answer, not waited for', 'sequential round trips', 'most seen', 'ms to the answer', 'asserted ≤ 2', 'pass'],
    sendVerify.roundTrips.map((r) => [
      r.case,
      r.requests,
      counts(r.statuses),
      r.commandsBeforeAnswer,
      r.commandsAfterAnswer,
      r.sequentialRoundTrips,
      r.maxSequentialRoundTrips,
      r.medianMsWithDelay,
      true,
      r.pass,
    ]),
  );
  printTable(
    `3d. Sending and checking codes over HTTP without the delay (RedisStore, every limit on, concurrency ${SETTINGS.sendVerifyConcurrency}, load generator in its own process; compare table 1)`,
    ['case', 'requests', 'req/s', 'p50 ms', 'p99 ms', 'statuses'],
    sendVerify.throughput.map((r) => [r.case, formatInt(r.requests), formatInt(r.requestsPerSecond), r.p50Ms, r.p99Ms, counts(r.statuses)]),
  );

  printTable(
    '4a. RedisStore memory per live record (INFO used_memory delta over N records written by create(), and MEMORY USAGE / OBJECT ENCODING of one)',
    ['case', 'records', 'used_memory B/record', 'MEMORY USAGE B', 'encoding', 'MB per 1 M records', 'bound B', 'pass'],
    redisMemory.map((r) => [r.case, formatInt(r.records), r.usedMemoryPerRecord ?? '–', r.memoryUsage, r.encoding, r.projectionMBPerMillion ?? '–', r.bound ?? '–', r.pass]),
  );

  const heapLabel = memory.gcForced ? 'after forced GC' : 'APPROXIMATE: no --expose-gc, no forced GC';
  printTable(
    `4. MemoryStore memory (heapUsed, ${heapLabel}; measured in a fresh process)`,
    ['records', 'heap before MB', 'heap after MB', 'delta MB', 'bytes/record', 'inserts/s (filling)'],
    [[formatInt(memory.records), memory.heapUsedBeforeMB, memory.heapUsedAfterMB, memory.heapDeltaMB, memory.bytesPerRecord, formatInt(memory.insertsPerSecond)]],
  );
  printTable(
    '   MemoryStore bound (live records, oldest dropped first)',
    ['maxRecords', 'inserted', 'size after', 'oldest dropped', 'newest kept', 'µs/insert at cap', 'pass'],
    [memory.overCap, memory.overCapScaled].map((b) => [
      formatInt(b.maxRecords),
      formatInt(b.inserted),
      formatInt(b.sizeAfter),
      b.oldestDropped,
      b.newestKept,
      b.microsecondsPerInsertAtCap,
      b.pass,
    ]),
  );

  printTable(
    '   MemoryStore sweep of 100,000 expired records (a slice per write, after a 5,000-record pass; asserted: p99 of the writes ≤ 5 ms)',
    ['expired records', 'writes to sweep', 'max ms/write', 'size at max', 'p99 ms/write', 'size after', 'first write of the process ms', 'pass'],
    [
      [
        formatInt(memory.sweep.expiredRecords),
        formatInt(memory.sweep.writesToSweep),
        memory.sweep.maxWriteMs,
        formatInt(memory.sweep.sizeAtMaxWrite),
        memory.sweep.p99WriteMs,
        formatInt(memory.sweep.sizeAfter),
        memory.sweep.firstWriteOfProcessMs,
        memory.sweep.pass,
      ],
    ],
  );

  printTable(
    `5. POST /v/password timing, bcrypt cost ${bcrypt.cost} (${SETTINGS.bcryptSamples} samples each, alternating; reported, not asserted)`,
    ['case', 'status', 'median ms', 'min ms', 'max ms'],
    bcrypt.cases.map((c) => [c.name, c.status, c.medianMs, c.minMs, c.maxMs]),
  );
  console.log(`   median(user without password) − median(wrong password) = ${bcrypt.medianDifferenceMs} ms`);

  printTable(
    '6. bcrypt beside the guard in one process: 50 clients on POST /v/password (cost 10, honouring Retry-After) while the reusable guard ' +
      '(memory store, concurrency 20) is measured; each case in a fresh process, rounds of three equal windows (guard alone; beside ' +
      'in-process bcrypt.compare at the same concurrency, no HTTP: the hashes/s the cores allow next to the guard; beside the 50 clients), ' +
      'medians of the per-round ratios. Goals: guard ≥ 0.75× its req/s alone, p99 ≤ 2×, passwords/s ≥ 0.9× those hashes/s',
    ['passwordConcurrency', 'UV_THREADPOOL_SIZE', 'guard req/s alone', 'under load', '×', 'guard p99 ms alone', 'under load', '×', 'hashes/s alone', 'beside guard', 'passwords/s', '×', 'slots busy', 'password p99 ms', 'password statuses'],
    passwordLoad.map((r) => [
      r.passwordConcurrency,
      r.threadpoolSize,
      formatInt(r.guardSolo.requestsPerSecond),
      formatInt(r.guardUnderLoad.requestsPerSecond),
      r.guardThroughputRatio,
      r.guardSolo.p99Ms,
      r.guardUnderLoad.p99Ms,
      r.guardP99Ratio,
      r.hashesPerSecondAlone,
      r.hashesPerSecond,
      r.passwordsPerSecond,
      r.passwordRatio,
      r.slotOccupancy,
      r.passwordP99Ms,
      counts(r.passwordStatuses),
    ]),
  );
}

/** `npm run build`: the side-by-side guard rows load dist/index.cjs, so it must be built from this lib/. */
function build(): void {
  const built = spawnSync('npm', ['run', 'build'], { cwd: path.resolve(__dirname, '..'), stdio: ['ignore', 'ignore', 'inherit'] });
  if (built.status !== 0) throw new Error(`npm run build failed (${built.status ?? built.signal})`);
}

async function main(): Promise<number> {
  const started = performance.now();
  const loadAverageAtStart = os.loadavg().map((load) => round(load, 2));
  progress(`load average ${loadAverageAtStart.join(' / ')}; npm run build (dist/ for the side-by-side guard rows)`);
  build();
  const results = await measure(loadAverageAtStart);
  report(results);

  const checks = [
    ...results.sideBySide.rows.map((r) => ({ name: `side by side: ${r.name}${r.atMostOneCommand ? ' (≤ 1 Redis command sent per check)' : ''}`, pass: r.pass })),
    { name: 'side by side: oidcAuthenticator fetched nothing from the provider during the rounds', pass: results.sideBySide.providerFetchesDuringRounds === 0 },
    ...results.roundTrips.map((r) => ({ name: `round trips: ${r.case}`, pass: r.pass })),
    ...results.clusterRoundTrips.rows.map((r) => ({ name: `round trips on Redis Cluster: ${r.case}`, pass: r.pass })),
    ...results.sendVerify.roundTrips.map((r) => ({ name: `≤ 2 sequential Redis round trips: ${r.case}`, pass: r.pass })),
    ...results.redisMemory.map((r) => ({ name: `RedisStore memory: ${r.case}`, pass: r.pass })),
    ...[results.memory.overCap, results.memory.overCapScaled].map((b) => ({ name: `MemoryStore bound at ${formatInt(b.maxRecords)}`, pass: b.pass })),
    { name: 'MemoryStore sweep: p99 write ≤ 5 ms', pass: results.memory.sweep.pass },
  ];
  const failed = checks.filter((check) => !check.pass);
  const durationSeconds = round((performance.now() - started) / 1000, 1);

  const file = path.join(__dirname, 'results', 'latest.json');
  mkdirSync(path.dirname(file), { recursive: true });
  writeFileSync(file, `${JSON.stringify({ generatedAt: new Date().toISOString(), durationSeconds, settings: SETTINGS, ...results, checks }, null, 2)}\n`);

  console.log(`\nChecks: ${checks.length - failed.length}/${checks.length} passed${failed.map((c) => `\n  FAILED: ${c.name}`).join('')}`);
  console.log(`Wrote ${path.relative(process.cwd(), file)} in ${durationSeconds} s.`);
  return failed.length === 0 ? 0 : 1;
}

setTimeout(() => {
  console.error(`bench: still running after ${HARD_TIMEOUT_MS / 1000} s, stopping`);
  process.exit(2);
}, HARD_TIMEOUT_MS).unref();

main().then(
  (code) => {
    process.exitCode = code;
  },
  (error: unknown) => {
    console.error('bench failed:', error);
    process.exitCode = 1;
  },
);
