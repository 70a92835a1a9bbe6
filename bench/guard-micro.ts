/**
 * `npx tsx bench/guard-micro.ts <a/index.cjs> [<b/index.cjs> …] [--batches N] [--batch N]`:
 * CPU time per call of requireVerification() itself, without HTTP: the middleware of each build
 * called on a stand-in request and response (jwtAuthenticator HS256; reusable and single use;
 * MemoryStore and RedisStore on a private redis-server), builds side by side in one process.
 *
 * It measures the library's own per-request work (authentication, guard, service, store, the
 * ioredis call), which the HTTP bench (bench/guard-cpu.ts) sees diluted by Express and node:http.
 * Batches of `batch` calls, `concurrency` in flight, alternate between the builds; the minimum and
 * the median over the batches are reported (on a shared machine others' work only adds time, so
 * the minimum is the steadiest figure). The floor's work (JWT, Redis GET, JSON.parse) runs on the
 * same stand-ins as a reference, its ratio taken per batch. Build a baseline with `npx tsdown -d dist-before`.
 */
import { createSecretKey, randomBytes } from 'node:crypto';
import path from 'node:path';
import { parseArgs } from 'node:util';
import type { Request, RequestHandler, Response } from 'express';
import jwt from 'jsonwebtoken';
import type * as Library from '../lib/index';
import Redis from 'ioredis';
import { startRedisServer } from './redis-server';
import { BENCH_USER } from './side-by-side/keys';
import { benchRecord } from './side-by-side/records';
import { median, printTable, round } from './stats';

const { values: args, positionals } = parseArgs({
  allowPositionals: true,
  options: {
    batches: { type: 'string', default: '30' },
    batch: { type: 'string', default: '2000' },
    concurrency: { type: 'string', default: '50' },
  },
});
const BATCHES = Number(args.batches);
const BATCH = Number(args.batch);
const CONCURRENCY = Number(args.concurrency);

interface Case {
  readonly name: string;
  readonly guard: RequestHandler;
  /** The record id of the next call (single use: a fresh record each call). */
  readonly nextId: () => string;
  readonly micros: number[];
}

/** A response stand-in: records what an answer would be; the guard never answers a passing call. */
function responseStandIn(): Response {
  const res = {
    headersSent: false,
    statusCode: 200,
    setHeader: () => res,
    set: () => res,
    status: (code: number) => {
      res.statusCode = code;
      return res;
    },
    json: () => {
      throw new Error(`the guard refused a bench call (${res.statusCode})`);
    },
    end: () => res,
  };
  return res as unknown as Response;
}

/**
 * The README's client options, with a longer commandTimeout (a loaded machine must not fail the
 * run) and the store's timeoutMs equal to it: the client bounds every call, the store sets no
 * timer of its own, as with the defaults.
 */
const COMMAND_TIMEOUT_MS = 5000;

async function connect(url: string): Promise<Redis> {
  const client = new Redis(url, { enableOfflineQueue: false, maxRetriesPerRequest: 1, commandTimeout: COMMAND_TIMEOUT_MS, lazyConnect: true });
  await client.connect();
  return client;
}

async function cases(build: typeof Library, label: string, secret: string, redisUrl: string): Promise<Case[]> {
  const records = BATCH * (BATCHES + 1);
  const made: Case[] = [];
  for (const store of ['memory', 'redis'] as const) {
    for (const singleUse of [false, true]) {
      const client = store === 'redis' ? await connect(redisUrl) : undefined;
      const stepUp = build.createStepUp({
        authenticate: build.jwtAuthenticator({ algorithms: ['HS256'], secret }),
        users: { findById: (id) => (id === BENCH_USER ? { id, passwordHash: `$2b$10$${'x'.repeat(53)}` } : null) },
        store:
          client !== undefined
            ? new build.RedisStore({ client, prefix: `micro:${label}:${singleUse}:`, timeoutMs: COMMAND_TIMEOUT_MS })
            : new build.MemoryStore({ maxRecords: 1_000_000 }),
        secret: randomBytes(32),
      });
      const ids: string[] = [];
      for (let i = 0; i < (singleUse ? records : 1); i += 500) {
        const batch = Array.from({ length: Math.min(500, (singleUse ? records : 1) - i) }, benchRecord);
        await Promise.all(batch.map((record) => stepUp.store.create(record)));
        ids.push(...batch.map((record) => record.id));
      }
      let next = 0;
      made.push({
        name: `${label}: ${singleUse ? 'single-use' : 'reusable'}, ${store === 'redis' ? 'RedisStore' : 'MemoryStore'}`,
        guard: stepUp.requireVerification({ singleUse }),
        nextId: singleUse ? () => ids[next++] as string : () => ids[0] as string,
        micros: [],
      });
    }
  }
  return made;
}

/**
 * The floor's work (bench/side-by-side/servers/floor.ts) as a middleware on the same stand-ins:
 * jsonwebtoken with a prepared KeyObject, one Redis GET of a JSON string, JSON.parse, the user compared.
 */
async function floorCase(secret: string, redisUrl: string): Promise<Case> {
  const redis = await connect(redisUrl);
  const key = createSecretKey(Buffer.from(secret));
  const verifyOptions: jwt.VerifyOptions = { algorithms: ['HS256'] };
  const record = benchRecord();
  await redis.set(`micro:floor:${record.id}`, JSON.stringify(record), 'EX', 3600);
  const guard: RequestHandler = async (req, _res, next) => {
    const header = req.headers.authorization as string;
    const subject = (jwt.verify(header.slice(7), key, verifyOptions) as jwt.JwtPayload).sub;
    const raw = await redis.get(`micro:floor:${req.headers['verification-id'] as string}`);
    const found = raw === null ? null : (JSON.parse(raw) as { userId?: unknown });
    if (found === null || found.userId !== subject) throw new Error('the floor refused a bench call');
    next();
  };
  return { name: 'floor: jsonwebtoken + KeyObject, Redis GET, JSON.parse', guard, nextId: () => record.id, micros: [] };
}

/** `count` calls of the guard, `CONCURRENCY` in flight; resolves when every call has passed. */
async function calls(c: Case, token: string, count: number): Promise<void> {
  let remaining = count;
  const worker = async () => {
    while (remaining > 0) {
      remaining -= 1;
      const req = { headers: { authorization: `Bearer ${token}`, 'verification-id': c.nextId() } } as unknown as Request;
      await new Promise<void>((resolve) => c.guard(req, responseStandIn(), () => resolve()));
    }
  };
  await Promise.all(Array.from({ length: Math.min(CONCURRENCY, count) }, worker));
}

async function main(): Promise<void> {
  if (positionals.length === 0) throw new Error('usage: tsx bench/guard-micro.ts <build/index.cjs> [<another/index.cjs> …]');
  const secret = randomBytes(32).toString('hex');
  const token = jwt.sign({ sub: BENCH_USER }, secret, { algorithm: 'HS256', expiresIn: 3600 });
  const redis = await startRedisServer();
  try {
    const all: Case[] = [await floorCase(secret, redis.url)];
    for (const file of positionals) {
      // eslint-disable-next-line @typescript-eslint/no-require-imports
      all.push(...(await cases(require(path.resolve(file)) as typeof Library, path.basename(path.dirname(path.resolve(file))), secret, redis.url)));
    }
    for (const c of all) await calls(c, token, BATCH); // warm-up
    for (let b = 0; b < BATCHES; b += 1) {
      for (let k = 0; k < all.length; k += 1) {
        const c = all[(k + b) % all.length] as Case;
        const before = process.cpuUsage();
        await calls(c, token, BATCH);
        const used = process.cpuUsage(before);
        c.micros.push((used.user + used.system) / BATCH);
      }
    }
    const floor = all[0] as Case;
    printTable(
      `requireVerification() alone, CPU µs per call (${BATCHES} batches of ${BATCH}, ${CONCURRENCY} in flight, HS256)`,
      ['case', 'min', 'median', '× floor (median of batches)'],
      all.map((c) => [
        c.name,
        round(Math.min(...c.micros), 2),
        round(median(c.micros), 2),
        round(median(c.micros.map((micros, b) => micros / (floor.micros[b] as number))), 3),
      ]),
    );
  } finally {
    await redis.stop();
  }
}

// The stores' Redis clients stay connected: leave by exit.
main().then(
  () => process.exit(0),
  (error: unknown) => {
    console.error(error);
    process.exit(1);
  },
);
