import path from 'node:path';
import type Redis from 'ioredis';
import { OidcStandIn } from '../test/helpers/oidc-provider';
import { connectClient, redisCpuMicros, startRedisServer } from './redis-server';
import { AutocannonLoad } from './side-by-side/load';
import type { Target } from './side-by-side/protocol';
import { sideBySideRows, type Row } from './side-by-side/rows';
import { ServerChild } from './side-by-side/server-child';
import { benchTokens } from './side-by-side/tokens';
import { median, printTable, round } from './stats';

/**
 * The example app's row against its references, alone: the HS256 floor, the library's guard in a
 * minimal app (HS256, reusable, RedisStore) and the example app's GET /api/payslips, started as
 * the side-by-side bench starts them (one process each, autocannon in another, one private Redis).
 * Reports each server's CPU time per request (process.cpuUsage() around each run, µs): on a
 * shared machine that moves far less between runs than req/s, so the example app's cost over the
 * guard and the floor can be compared before and after a change. req/s is printed too, as a ratio
 * to the floor within each round.
 *
 * Usage: npx tsx bench/example-app-cpu.ts [rounds] [requests]   (`npm run build` first: the guard row loads dist/)
 * EXAMPLE_BEFORE=<dir>[,<dir>…] adds a row for each other copy of example-app/ (a directory beside it, e.g. the
 * last commit's: `git archive HEAD example-app | tar -x --transform s/example-app/example-before/`):
 * a change's effect measured in the same run, under the same load, rather than minutes apart.
 * EXAMPLE_CPU_PROF=1 writes the example app's CPU profile into bench/results/profiles (=all: every row's).
 */
const ROWS = ['floor HS256: jsonwebtoken + KeyObject, Redis GET, JSON.parse', 'guard HS256 reusable, RedisStore', 'example app GET /api/payslips (HS256, RedisStore)'];
const ROUNDS = Number(process.argv[2] ?? 7);
const REQUESTS = Number(process.argv[3] ?? 5000);
const WARMUP = 3000;
const CONNECTIONS = 50; // as bench/run.ts

interface Measured {
  readonly row: Row;
  readonly server: ServerChild;
  readonly cpuPerRequest: number[];
  readonly redisCpuPerRequest: number[];
  readonly rates: number[];
}

async function main(): Promise<void> {
  const redis = await startRedisServer();
  const provider = await OidcStandIn.start();
  const load = AutocannonLoad.start();
  let admin: Redis | undefined;
  const measured: Measured[] = [];
  try {
    admin = await connectClient(redis.url);
    const tokens = await benchTokens(provider);
    const rows = sideBySideRows({ tokens, issuer: provider.issuer, singleUseRecords: 1 }).filter((row) => ROWS.includes(row.name));
    const example = rows.find((row) => row.kind === 'example');
    for (const dir of process.env.EXAMPLE_BEFORE?.split(',').filter((d) => d !== '') ?? []) {
      if (example) rows.push({ ...example, name: `${example.name}, ${dir}/`, spec: { kind: 'example', appDir: dir } });
    }
    const profileDir = path.resolve(__dirname, 'results/profiles');
    for (const row of rows) {
      const flags = (process.env.EXAMPLE_CPU_PROF === 'all' || (process.env.EXAMPLE_CPU_PROF && row.kind === 'example')) ? ['--cpu-prof', '--cpu-prof-dir', profileDir] : [];
      measured.push({ row, server: await ServerChild.start(row.spec, redis.url, flags), cpuPerRequest: [], redisCpuPerRequest: [], rates: [] });
    }
    const run = async (m: Measured, count: number) => {
      const target: Target = m.server.target;
      const result = await load.run({ target, count, connections: CONNECTIONS });
      if (result.statuses['200'] !== count) throw new Error(`${m.row.name}: ${JSON.stringify(result.statuses)}`);
      return result;
    };
    for (const m of measured) await run(m, WARMUP);
    for (let r = 0; r < ROUNDS; r += 1) {
      for (let k = 0; k < measured.length; k += 1) {
        const m = measured[(k + r) % measured.length] as Measured;
        const cpuBefore = await m.server.cpuMicros();
        const redisBefore = await redisCpuMicros(admin);
        const result = await run(m, REQUESTS);
        m.cpuPerRequest.push(((await m.server.cpuMicros()) - cpuBefore) / REQUESTS);
        m.redisCpuPerRequest.push(((await redisCpuMicros(admin)) - redisBefore) / REQUESTS);
        m.rates.push(result.requestsPerSecond);
      }
    }
    const floor = measured[0] as Measured;
    const floorCpu = median(floor.cpuPerRequest);
    printTable(
      `${ROUNDS} rounds of ${REQUESTS} requests, ${CONNECTIONS} connections (medians; × floor of req/s is per round)`,
      ['row', 'server µs/req', 'range', 'floor µs ÷ row µs', 'Redis µs/req', 'req/s', '× floor req/s'],
      measured.map((m) => [
        m.row.name,
        round(median(m.cpuPerRequest), 1),
        `${round(Math.min(...m.cpuPerRequest), 0)}–${round(Math.max(...m.cpuPerRequest), 0)}`,
        round(floorCpu / median(m.cpuPerRequest), 2),
        round(median(m.redisCpuPerRequest), 1),
        round(median(m.rates), 0),
        round(median(m.rates.map((rate, i) => rate / (floor.rates[i] as number))), 2),
      ]),
    );
  } finally {
    for (const m of measured) await m.server.close().catch(() => undefined);
    await load.close().catch(() => undefined);
    await provider.close();
    admin?.disconnect();
    await redis.stop();
  }
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
