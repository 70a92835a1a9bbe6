import { randomBytes } from 'node:crypto';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import express from 'express';
import jwt from 'jsonwebtoken';
import {
  createStepUp,
  jwtAuthenticator,
  type RateLimits,
  type StepUpUser,
  type VerificationRecord,
  type VerificationStore,
} from '../lib/index';
import { UNLIMITED } from '../test/helpers/harness';
import { verifiedRecord } from '../test/helpers/records';

/** The HS256 secret of the benchmark's access tokens (as a string, like most apps configure it). */
export const JWT_SECRET = randomBytes(32).toString('hex');
/** The code HMAC secret (required with a shared store). */
const CODE_SECRET = randomBytes(32);
export const BENCH_USER = 'usr_bench';

export function accessToken(userId: string = BENCH_USER): string {
  return jwt.sign({ sub: userId }, JWT_SECRET, { algorithm: 'HS256', expiresIn: 3600 });
}

/** A verified password record, fresh for the whole run. */
export function verifiedPasswordRecord(userId: string = BENCH_USER): VerificationRecord {
  return verifiedRecord({ userId, expiresAt: Date.now() + 600_000 });
}

/** Saves `count` fresh verified records through `store.create()`, 100 at a time; returns their ids. */
export async function createRecords(store: VerificationStore, count: number): Promise<string[]> {
  const ids: string[] = [];
  for (let start = 0; start < count; start += 100) {
    const batch = Array.from({ length: Math.min(100, count - start) }, () => verifiedPasswordRecord());
    await Promise.all(batch.map((record) => store.create(record)));
    ids.push(...batch.map((record) => record.id));
  }
  return ids;
}


export const GUARD_PATHS = { reusable: '/reusable', singleUse: '/single-use' } as const;

export interface BenchApp {
  readonly port: number;
  close(): Promise<void>;
}

/**
 * An Express app on 127.0.0.1:<free port>: the router at /v, GET /reusable behind
 * requireVerification(), POST /single-use behind requireVerification({ singleUse: true }).
 */
export async function startApp(store: VerificationStore, users: ReadonlyMap<string, StepUpUser> = new Map()): Promise<BenchApp> {
  const stepUp = createStepUp({
    authenticate: jwtAuthenticator({ secret: JWT_SECRET, algorithms: ['HS256'] }),
    users: { findById: (id) => users.get(id) ?? null },
    store,
    secret: CODE_SECRET,
    limits: UNLIMITED,
  });
  const app = express();
  app.use('/v', stepUp.router);
  const ok = (req: express.Request, res: express.Response) => void res.json({ verificationId: req.verification?.id });
  app.get(GUARD_PATHS.reusable, stepUp.requireVerification(), ok);
  app.post(GUARD_PATHS.singleUse, stepUp.requireVerification({ singleUse: true }), ok);

  const server = await new Promise<Server>((resolve, reject) => {
    const listening = app.listen(0, '127.0.0.1', (error?: Error) => (error ? reject(error) : resolve(listening)));
  });
  return {
    port: (server.address() as AddressInfo).port,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
