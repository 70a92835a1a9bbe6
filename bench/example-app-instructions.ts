import { execFileSync, fork, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { OidcStandIn } from '../test/helpers/oidc-provider';
import { CHILD_FLAG, exitOf } from './child';
import { startRedisServer } from './redis-server';
import { AutocannonLoad } from './side-by-side/load';
import type { FromServer, Target } from './side-by-side/protocol';
import { sideBySideRows, type Row } from './side-by-side/rows';
import { benchTokens } from './side-by-side/tokens';
import { printTable, round } from './stats';

/**
 * Instructions per request of the example app's GET /api/payslips beside the HS256 floor and the
 * library's guard in a minimal app (HS256, reusable, RedisStore), each server started as the
 * side-by-side bench starts it (bench/side-by-side/server-child.ts) but under valgrind's callgrind.
 * Instruction counts do not depend on what else the machine runs, unlike CPU time on a shared
 * machine (they still move a few per cent between runs: JIT and garbage collection timing), so
 * they compare two versions of the app run minutes apart. The rows run one after
 * another (one connection): start and warm-up without instrumentation (valgrind's core alone, several times faster:
 * JIT compilation under callgrind outlasts the Redis client's command timeout), then
 * instrumentation on, 300 more requests, counters zeroed (callgrind_control -i on, -z), the measured requests,
 * a dump (-d). Under callgrind a server is some 50 times slower, so the counts are small.
 *
 * Usage: [EXAMPLE_BEFORE=<dir>,…] npx tsx bench/example-app-instructions.ts [requests] [warm-up] [example]   (`npm run build` first: the guard row loads dist/)
 */
const ROWS = ['floor HS256: jsonwebtoken + KeyObject, Redis GET, JSON.parse', 'guard HS256 reusable, RedisStore', 'example app GET /api/payslips (HS256, RedisStore)'];
const REQUESTS = Number(process.argv[2] ?? 1000);
const WARMUP = Number(process.argv[3] ?? 2000);
/** `example` measures the example app alone (the other two rows do not change with it). */
const ONLY = process.argv[4];
/** Not bench/run.ts's 50: under callgrind, requests waiting behind others outlast the Redis client's 500 ms command timeout. */
const CONNECTIONS = 1;
const INSTRUMENTED_WARMUP = 300;
const SERVER_CHILD = path.resolve(__dirname, 'side-by-side/server-child.ts');

/** The server child of the side-by-side bench, run by valgrind --tool=callgrind (the child's pid is valgrind's). */
function forkUnderCallgrind(row: Row, outDir: string): ChildProcess {
  return fork(SERVER_CHILD, [CHILD_FLAG], {
    cwd: path.resolve(__dirname, '..'),
    execPath: 'valgrind',
    execArgv: ['--tool=callgrind', '--quiet', '--instr-atstart=no', `--callgrind-out-file=${path.join(outDir, 'callgrind.%p.out')}`, process.execPath, '--import', 'tsx'],
    stdio: ['ignore', row.kind === 'example' ? 'ignore' : 'inherit', 'inherit', 'ipc'],
  });
}

function started(child: ChildProcess, message: unknown): Promise<Target> {
  return new Promise((resolve, reject) => {
    child.once('exit', (code) => reject(new Error(`server exited (${code}) before answering`)));
    child.once('message', (answer: FromServer) => ('ready' in answer ? resolve(answer.ready) : reject(new Error(JSON.stringify(answer)))));
    child.send(message as object);
  });
}

/** The instructions counted since the last zeroing: the `totals:` line of the newest dump. */
function dumpedInstructions(outDir: string, pid: number): number {
  execFileSync('callgrind_control', ['-d', String(pid)], { stdio: 'ignore' });
  const dumps = readdirSync(outDir)
    .filter((name) => name.startsWith(`callgrind.${pid}.out.`))
    .sort((a, b) => Number(a.split('.').pop()) - Number(b.split('.').pop()));
  const newest = dumps.at(-1);
  if (newest === undefined) throw new Error('callgrind wrote no dump');
  const totals = /^totals:\s+(\d+)/m.exec(readFileSync(path.join(outDir, newest), 'utf8'))?.[1];
  if (totals === undefined) throw new Error(`no totals in ${newest}`);
  return Number(totals);
}

async function main(): Promise<void> {
  const redis = await startRedisServer();
  const provider = await OidcStandIn.start();
  const load = AutocannonLoad.start();
  const outDir = mkdtempSync(path.join(os.tmpdir(), 'example-app-callgrind-'));
  const results: Array<{ row: Row; perRequest: number; failed: number }> = [];
  try {
    const tokens = await benchTokens(provider);
    const rows = sideBySideRows({ tokens, issuer: provider.issuer, singleUseRecords: 1 }).filter((row) => ROWS.includes(row.name) && (ONLY === undefined || row.kind === ONLY));
    // Other copies of example-app/ beside it, as in bench/example-app-cpu.ts.
    const example = rows.find((row) => row.kind === 'example');
    for (const dir of process.env.EXAMPLE_BEFORE?.split(',').filter((d) => d !== '') ?? []) {
      if (example) rows.push({ ...example, name: `${example.name}, ${dir}/`, spec: { kind: 'example', appDir: dir } });
    }
    for (const row of rows) {
      process.stderr.write(`… ${row.name}: starting under callgrind\n`);
      const child = forkUnderCallgrind(row, outDir);
      const exited = exitOf(child).catch(() => undefined);
      try {
        const target = await started(child, { start: row.spec, redisUrl: redis.url });
        // On a loaded machine a request now and then outlasts the command timeout (valgrind runs the
        // threads one at a time): up to 1% of other answers is tolerated and reported.
        const run = async (count: number) => {
          const result = await load.run({ target, count, connections: CONNECTIONS });
          const ok = result.statuses['200'] ?? 0;
          if (ok < count * 0.99) throw new Error(`${row.name}: ${JSON.stringify(result.statuses)}`);
          return count - ok;
        };
        // Early requests may outlast the command timeout while V8 compiles (a 500 or 503): only the measured ones must all pass.
        await load.run({ target, count: WARMUP, connections: CONNECTIONS });
        execFileSync('callgrind_control', ['-i', 'on', String(child.pid)], { stdio: 'ignore' });
        // Turning instrumentation on re-translates every code block: slow again for a while.
        await load.run({ target, count: INSTRUMENTED_WARMUP, connections: CONNECTIONS });
        execFileSync('callgrind_control', ['-z', String(child.pid)], { stdio: 'ignore' });
        const failed = await run(REQUESTS);
        results.push({ row, perRequest: dumpedInstructions(outDir, child.pid as number) / REQUESTS, failed });
      } finally {
        if (child.connected) child.disconnect();
        await exited;
      }
    }
    const floor = results[0]?.perRequest ?? Number.NaN;
    printTable(
      `callgrind: instructions per request over ${REQUESTS} requests after ${WARMUP} of warm-up, ${CONNECTIONS} connections`,
      ['row', 'instructions/req', 'floor ÷ row', 'not 200'],
      results.map(({ row, perRequest, failed }) => [row.name, round(perRequest, 0), round(floor / perRequest, 2), failed]),
    );
  } finally {
    await load.close().catch(() => undefined);
    await provider.close();
    await redis.stop();
    rmSync(outDir, { recursive: true, force: true });
  }
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
