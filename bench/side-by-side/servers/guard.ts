import { randomBytes } from 'node:crypto';
import path from 'node:path';
import express from 'express';
import Redis from 'ioredis';
import type * as Library from '../../../lib/index';
import { BENCH_COMMAND_TIMEOUT_MS, connectClient } from '../../redis-server';
import { BENCH_USER, keyObjectOf } from '../keys';
import type { GuardAuthenticator, ServerSpec, Target } from '../protocol';
import { BENCH_RECORD_SECONDS, benchRecord } from '../records';
import { listen } from './listen';

/** The compiled build, as a CommonJS user of the package loads it (`npm run build` writes it; the bench builds first). */
export const BUILD_ENTRY = path.resolve(__dirname, '../../../dist/index.cjs');

/** Created per batch while filling the store (single-use rows need tens of thousands of records). */
const CREATE_BATCH = 500;

function authenticatorOf(build: typeof Library, spec: GuardAuthenticator): Library.Authenticator {
  if (spec.kind === 'oidc') return build.oidcAuthenticator({ issuer: spec.issuer, audience: spec.audience, algorithms: [spec.alg] });
  const key = keyObjectOf(spec.key);
  return build.jwtAuthenticator({
    algorithms: [spec.key.alg],
    ...(spec.key.alg === 'HS256' ? { secret: key } : { publicKey: key }),
    ...(spec.issuer !== undefined ? { issuer: spec.issuer } : {}),
    ...(spec.audience !== undefined ? { audience: spec.audience } : {}),
  });
}

/**
 * The library's guard in a minimal app, from dist/index.cjs (types from lib/, which it is built
 * from): createStepUp with the given authenticator and store, and one guarded route,
 * GET /reusable (requireVerification()) or POST /single-use (requireVerification({ singleUse: true })),
 * each with a maxAge of BENCH_RECORD_SECONDS.
 * The RedisStore's client has the options the README recommends. Records are created through the
 * store before the run: one for a reusable route, `records` for a single-use one.
 */
export async function startGuard(spec: Extract<ServerSpec, { kind: 'guard' }>, redisUrl: string): Promise<Target> {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const build = require(spec.build ?? BUILD_ENTRY) as typeof Library;
  const client = spec.store === 'redis' ? await connectClient(redisUrl, { autoPipelining: spec.autoPipelining === true }) : undefined;
  const prefix = `bench:guard:${spec.authenticator.kind}:${spec.authenticator.kind === 'oidc' ? spec.authenticator.alg : spec.authenticator.key.alg}:${spec.singleUse ? 'single-use' : 'reusable'}:${spec.autoPipelining === true ? 'pipelined:' : ''}`;
  // A store timeout the client's own bound fits in (one commandTimeout, two with auto-pipelining): the
  // client bounds every call and the store sets no timer, as with the README's options and the default timeoutMs.
  const timeoutMs = Math.max(1000, (spec.autoPipelining === true ? 2 : 1) * BENCH_COMMAND_TIMEOUT_MS);
  const store = client !== undefined ? new build.RedisStore({ client, prefix, timeoutMs }) : new build.MemoryStore({ maxRecords: 1_000_000 });
  const stepUp = build.createStepUp({
    authenticate: authenticatorOf(build, spec.authenticator),
    // A password on file (never checked here), as a real user has: refusals name it.
    users: { findById: (id) => (id === BENCH_USER ? { id, passwordHash: `$2b$10$${'x'.repeat(53)}` } : null) },
    store,
    secret: randomBytes(32),
  });

  const app = express();
  app.disable('x-powered-by');
  const ok = (req: express.Request, res: express.Response) => void res.json({ verificationId: req.verification?.id });
  // maxAge as long as the records live: the run measures the same records for over ten minutes (the default is 600 s).
  if (spec.singleUse) app.post('/single-use', stepUp.requireVerification({ singleUse: true, maxAge: BENCH_RECORD_SECONDS }), ok);
  else app.get('/reusable', stepUp.requireVerification({ maxAge: BENCH_RECORD_SECONDS }), ok);

  // The records are written before the run through a store on a client without the fail-fast
  // options (the same keys: same prefix): with every row's server starting at once on 2 cores, a batch of
  // writes may take longer than the measured client's 500 ms commandTimeout.
  const setupClient = client !== undefined ? new Redis(redisUrl) : undefined;
  const setupStore = setupClient !== undefined ? new build.RedisStore({ client: setupClient, prefix, timeoutMs: 60_000 }) : stepUp.store;
  const ids: string[] = [];
  const count = spec.singleUse ? spec.records : 1;
  try {
    for (let start = 0; start < count; start += CREATE_BATCH) {
      const batch = Array.from({ length: Math.min(CREATE_BATCH, count - start) }, benchRecord);
      await Promise.all(batch.map((record) => setupStore.create(record)));
      ids.push(...batch.map((record) => record.id));
    }
  } finally {
    await setupClient?.quit();
  }

  const { port } = await listen(app);
  return {
    port,
    method: spec.singleUse ? 'POST' : 'GET',
    path: spec.singleUse ? '/single-use' : '/reusable',
    headers: { authorization: `Bearer ${spec.token}` },
    idHeader: 'verification-id',
    ids: spec.singleUse ? ids : (ids[0] as string),
  };
}
