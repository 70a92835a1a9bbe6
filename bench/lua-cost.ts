/**
 * `npx tsx bench/lua-cost.ts [--baseline <scripts module>] [--rounds N] [--calls N]`: Redis CPU per
 * call of the guard's two scripts, measured alone on a private redis-server (INFO commandstats'
 * usec_per_call: the command's own time inside Redis, no network or parsing), beside the floor's
 * plain `GET` of a JSON string in the same rounds.
 *
 * - READ: the reusable guard check (a live password record and its user's revocation mark);
 * - CHECK_AND_CONSUME, consuming: the single-use guard check on a fresh record per call (the
 *   records are written before the stats are reset, so only the checks are counted).
 *
 * `--baseline` loads READ and CHECK_AND_CONSUME from another module as well (for example an older
 * lib/stores/redis-scripts.ts, `git show <commit>:lib/stores/redis-scripts.ts > bench/scripts-before.ts`),
 * measured in the same rounds. Calls go in pipelines, so the server is busy and its per-call time
 * steady; medians of the rounds.
 */
import path from 'node:path';
import { parseArgs } from 'node:util';
import type Redis from 'ioredis';
import { RedisStore } from '../lib/index';
import * as current from '../lib/stores/redis-scripts';
import { commandStats, connectClient, startRedisServer } from './redis-server';
import { benchRecord } from './side-by-side/records';
import { median, printTable, round } from './stats';

const { values: args } = parseArgs({
  options: {
    baseline: { type: 'string' },
    rounds: { type: 'string', default: '5' },
    calls: { type: 'string', default: '10000' },
  },
});
const ROUNDS = Number(args.rounds);
const CALLS = Number(args.calls);

interface Scripts {
  readonly READ: string;
  readonly CHECK_AND_CONSUME: string;
}

/** µs per call of `command` in INFO commandstats since the last CONFIG RESETSTAT. */
async function microsPerCall(admin: Redis, command: string): Promise<number> {
  const fields = (await commandStats(admin)).get(command);
  const calls = fields?.get('calls');
  const usec = fields?.get('usec');
  if (calls === undefined || usec === undefined || calls === 0) throw new Error(`no ${command} in commandstats`);
  return usec / calls;
}

async function main(): Promise<void> {
  const sets: Array<[string, Scripts]> = [['now', current]];
  if (args.baseline !== undefined) sets.push(['baseline', (await import(path.resolve(args.baseline))) as Scripts]);
  const server = await startRedisServer();
  const client = await connectClient(server.url);
  try {
    const store = new RedisStore({ client });
    const live = benchRecord();
    await store.create(live);
    const [liveKey, mark] = store.keysFor(live.userId, live.id);
    await client.set(mark, '1'); // a revocation long ago: the scripts read and compare it
    await client.set('floor:record', JSON.stringify({ ...live, id: undefined }));
    const shas = await Promise.all(sets.map(async ([, s]) => [await client.script('LOAD', s.READ), await client.script('LOAD', s.CHECK_AND_CONSUME)] as [string, string]));

    const measure = async (command: string, queue: (pipeline: ReturnType<Redis['pipeline']>) => void): Promise<number> => {
      await client.config('RESETSTAT');
      const pipeline = client.pipeline();
      queue(pipeline);
      const replies = (await pipeline.exec()) ?? [];
      const failed = replies.find(([error]) => error !== null);
      if (failed) throw failed[0];
      return microsPerCall(client, command);
    };
    const results = new Map<string, number[]>();
    const add = (name: string, micros: number) => results.set(name, [...(results.get(name) ?? []), micros]);
    for (let r = 0; r < ROUNDS; r += 1) {
      add('GET of a JSON string (the floor)', await measure('get', (p) => { for (let i = 0; i < CALLS; i += 1) p.getBuffer('floor:record'); }));
      for (const [index, [name]] of sets.entries()) {
        const [read, consume] = shas[index] as [string, string];
        add(`${name}: READ (reusable guard)`, await measure('evalsha', (p) => { for (let i = 0; i < CALLS; i += 1) p.evalsha(read, 2, liveKey, mark); }));
        const fresh = Array.from({ length: CALLS }, () => benchRecord());
        for (let i = 0; i < fresh.length; i += 500) await Promise.all(fresh.slice(i, i + 500).map((record) => store.create(record)));
        const now = Date.now();
        const consumed = await measure('evalsha', (p) => {
          for (const record of fresh) p.evalsha(consume, 2, ...store.keysFor(record.userId, record.id), String(now), String(now - 600_000), 'p', '', '', ',');
        });
        if (await client.exists(store.keysFor(fresh[0]!.userId, fresh[0]!.id)[0])) throw new Error(`${name}: CHECK_AND_CONSUME did not consume`);
        add(`${name}: CHECK_AND_CONSUME, consuming (single-use guard)`, consumed);
      }
    }
    const floor = median(results.get('GET of a JSON string (the floor)') ?? []);
    printTable(
      `Redis CPU per call, measured alone (${ROUNDS} rounds of ${CALLS} calls, medians)`,
      ['call', 'µs per call', '× GET', 'rounds'],
      [...results].map(([name, micros]) => [name, round(median(micros), 2), round(median(micros) / floor, 2), micros.map((m) => round(m, 2)).join(' ')]),
    );
  } finally {
    client.disconnect();
    await server.stop();
  }
}

main().then(
  () => process.exit(0),
  (error: unknown) => {
    console.error(error);
    process.exit(1);
  },
);
