/**
 * `npx tsx bench/guard-cpu.ts [--baseline path/to/index.cjs] [--rounds N] [--requests N] [--no-build] [--pipelining] [--callgrind]`:
 * CPU time per request of the guard's server process beside the floor's, in one run.
 *
 * The HS256 floor and the guard from dist/ (reusable and single use, RedisStore and MemoryStore)
 * each run in a server process of its own (bench/side-by-side/), on one private redis-server, with
 * load from autocannon in another process. The rows take turns for `rounds` rounds; each round
 * reads the server's process.cpuUsage() before and after its requests. Throughput on a shared
 * 2-core machine says mostly what else runs; CPU time per request says what the server does, and
 * the ratio to the floor measured in the same round cancels most of what is left.
 *
 * `--callgrind`: instead of CPU time, instructions per request, counted by valgrind's callgrind
 * (deterministic, so unaffected by whatever else runs): each server runs alone under valgrind,
 * counting is switched on (callgrind_control) after the warm-up and dumped after `requests`
 * requests, in one round. Slow (about 50× slower than plain node): use fewer requests.
 *
 * `--pipelining`: the floor's and the guards' ioredis clients auto-pipeline (`enableAutoPipelining`,
 * as in the README's recommended options): the like-for-like comparison for the README's setup.
 *
 * `--cpu-prof` writes each server's CPU profile to bench/results/profiles/ (see bench/profile-summary.ts).
 *
 * `--baseline` adds the same guard rows loaded from another build (e.g. a copy of dist/ made before
 * a change, kept inside the repository so that its dependencies resolve): before and after in the
 * same run. `--build` loads the measured guard from another build than dist/. Builds dist/ first
 * unless `--no-build`.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdirSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import jwt from 'jsonwebtoken';
import { connectClient, startRedisServer } from './redis-server';
import { BENCH_USER } from './side-by-side/keys';
import { AutocannonLoad } from './side-by-side/load';
import type { ServerSpec, Target, VerificationKey } from './side-by-side/protocol';
import { ServerChild } from './side-by-side/server-child';
import { median, printTable, round } from './stats';

interface Row {
  readonly name: string;
  readonly spec: ServerSpec;
  readonly floor: boolean;
}

interface Measured {
  readonly row: Row;
  readonly server: ServerChild;
  next: number;
  /** µs of server CPU per request, one per round. */
  readonly cpu: number[];
}

const { values: args } = parseArgs({
  options: {
    baseline: { type: 'string' },
    build: { type: 'string' },
    rounds: { type: 'string', default: '7' },
    requests: { type: 'string', default: '4000' },
    warmup: { type: 'string', default: '3000' },
    connections: { type: 'string', default: '50' },
    'no-build': { type: 'boolean', default: false },
    callgrind: { type: 'boolean', default: false },
    'cpu-prof': { type: 'boolean', default: false },
    only: { type: 'string' },
    pipelining: { type: 'boolean', default: false },
  },
});
const ROUNDS = Number(args.rounds);
const REQUESTS = Number(args.requests);
const WARMUP = Number(args.warmup);
const CONNECTIONS = Number(args.connections);
/** `--pipelining`: the floor's and the guards' ioredis clients with enableAutoPipelining (the README's options). */
const PIPELINING = args.pipelining;

function rows(key: VerificationKey, token: string, baseline: string | undefined): Row[] {
  const baselineBuild = baseline === undefined ? undefined : path.resolve(baseline);
  const perRow = WARMUP + ROUNDS * REQUESTS;
  const guard = (store: 'redis' | 'memory', singleUse: boolean, build?: string): Row => ({
    name: `${build !== undefined && build === baselineBuild ? 'baseline ' : ''}guard ${singleUse ? 'single-use' : 'reusable'}, ${store === 'redis' ? 'RedisStore' : 'MemoryStore'}`,
    spec: { kind: 'guard', authenticator: { kind: 'jwt', key }, store, singleUse, records: singleUse ? perRow : 1, token, autoPipelining: PIPELINING, ...(build === undefined ? {} : { build }) },
    floor: false,
  });
  const guards = (build = args.build === undefined ? undefined : path.resolve(args.build)) => [guard('redis', false, build), guard('redis', true, build), guard('memory', false, build), guard('memory', true, build)];
  const all = [
    { name: 'floor HS256', spec: { kind: 'floor', key, token, autoPipelining: PIPELINING } as const, floor: true },
    ...(baselineBuild === undefined ? [] : guards(baselineBuild)),
    ...guards(),
  ];
  return args.only === undefined ? all : all.filter((row) => row.floor || row.name.includes(args.only as string));
}

function target(m: Measured, count: number): Target {
  const { ids } = m.server.target;
  if (typeof ids === 'string') return m.server.target;
  if (m.next + count > ids.length) throw new Error(`${m.row.name}: out of records`);
  m.next += count;
  return { ...m.server.target, ids: ids.slice(m.next - count, m.next) };
}

const CALLGRIND_DIR = path.resolve(__dirname, 'results/profiles/callgrind');

/** Instructions the server runs for `count` requests after the warm-up, counted by callgrind. */
async function callgrindRow(row: Row, redisUrl: string, load: AutocannonLoad, index: number): Promise<number> {
  const out = path.join(CALLGRIND_DIR, `row${index}.out`);
  const wrapper = ['valgrind', '--tool=callgrind', '--instr-atstart=no', '--smc-check=all-non-file', `--callgrind-out-file=${out}`];
  const server = await ServerChild.start(row.spec, redisUrl, [], wrapper);
  const m: Measured = { row, server, next: 0, cpu: [] };
  try {
    const run = async (count: number) => {
      const result = await load.run({ target: target(m, count), count, connections: CONNECTIONS, timeoutSeconds: 120 });
      if (result.statuses['200'] !== count) throw new Error(`${row.name}: ${JSON.stringify(result.statuses)}`);
    };
    await run(WARMUP);
    const control = (...flags: string[]) => execFileSync('callgrind_control', [...flags, String(server.pid)], { stdio: 'ignore' });
    control('-i', 'on');
    await run(REQUESTS);
    control('-d');
    control('-i', 'off');
    const dumps = readdirSync(CALLGRIND_DIR).filter((file) => file.startsWith(`row${index}.out.`));
    const text = readFileSync(path.join(CALLGRIND_DIR, dumps.sort().at(-1) as string), 'utf8');
    const totals = /^(?:totals|summary): (\d+)/m.exec(text);
    if (totals === null) throw new Error(`${row.name}: no totals in the callgrind dump`);
    return Number(totals[1]) / REQUESTS;
  } finally {
    await server.close().catch(() => undefined);
  }
}

async function main(): Promise<void> {
  if (!args['no-build']) {
    const built = spawnSync('npm', ['run', 'build'], { cwd: path.resolve(__dirname, '..'), stdio: ['ignore', 'ignore', 'inherit'] });
    if (built.status !== 0) throw new Error('npm run build failed');
  }
  const secret = randomBytes(32).toString('hex');
  const key: VerificationKey = { alg: 'HS256', secret };
  const token = jwt.sign({ sub: BENCH_USER }, secret, { algorithm: 'HS256', expiresIn: 3600 });
  const redis = await startRedisServer();
  const load = AutocannonLoad.start();
  const measured: Measured[] = [];
  try {
    if (args.callgrind) {
      // The servers' event loops stall for seconds under valgrind (JIT compiles): no Redis timeouts then.
      process.env.BENCH_REDIS_COMMAND_TIMEOUT_MS = '60000';
      rmSync(CALLGRIND_DIR, { recursive: true, force: true });
      mkdirSync(CALLGRIND_DIR, { recursive: true });
      const counted: { row: Row; instructions: number }[] = [];
      for (const [i, row] of rows(key, token, args.baseline).entries()) {
        process.stderr.write(`… ${row.name} under callgrind\n`);
        counted.push({ row, instructions: await callgrindRow(row, redis.url, load, i) });
      }
      const floor = counted.find((c) => c.row.floor) as (typeof counted)[number];
      printTable(
        `Server instructions per request (callgrind), ${REQUESTS} requests after ${WARMUP} (${CONNECTIONS} connections, HS256${PIPELINING ? ', auto-pipelining' : ''})`,
        ['row', 'instructions/request', '× floor'],
        counted.map((c) => [c.row.name, Math.round(c.instructions), round(c.instructions / floor.instructions, 3)]),
      );
      return;
    }
    for (const row of rows(key, token, args.baseline)) {
      const flags = args['cpu-prof'] ? ['--cpu-prof', '--cpu-prof-dir', path.resolve(__dirname, 'results/profiles')] : [];
      measured.push({ row, server: await ServerChild.start(row.spec, redis.url, flags), next: 0, cpu: [] });
    }
    const run = async (m: Measured, count: number) => {
      const result = await load.run({ target: target(m, count), count, connections: CONNECTIONS });
      if (result.statuses['200'] !== count) throw new Error(`${m.row.name}: ${JSON.stringify(result.statuses)}`);
    };
    for (const m of measured) await run(m, WARMUP);
    for (let r = 0; r < ROUNDS; r += 1) {
      process.stderr.write(`… round ${r + 1} of ${ROUNDS}\n`);
      for (let k = 0; k < measured.length; k += 1) {
        const m = measured[(k + r) % measured.length] as Measured;
        const before = await m.server.cpuMicros();
        await run(m, REQUESTS);
        m.cpu.push(((await m.server.cpuMicros()) - before) / REQUESTS);
      }
    }
    const floor = measured.find((m) => m.row.floor) as Measured;
    printTable(
      `Server CPU µs per request, median of ${ROUNDS} rounds of ${REQUESTS} (${CONNECTIONS} connections, HS256${PIPELINING ? ', auto-pipelining' : ''}, load average ${os.loadavg().map((l) => round(l, 2)).join(' / ')})`,
      ['row', 'µs/request', 'min', 'max', '× floor (median of rounds)'],
      measured.map((m) => [
        m.row.name,
        round(median(m.cpu), 1),
        round(Math.min(...m.cpu), 1),
        round(Math.max(...m.cpu), 1),
        round(median(m.cpu.map((cpu, i) => cpu / (floor.cpu[i] as number))), 3),
      ]),
    );
  } finally {
    for (const m of measured) await m.server.close().catch(() => undefined);
    await load.close().catch(() => undefined);
    await redis.stop();
  }
}

main().catch((error: unknown) => {
  console.error(error);
  process.exitCode = 1;
});
