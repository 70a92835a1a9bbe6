import { randomBytes } from 'node:crypto';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import express from 'express';
import jwt from 'jsonwebtoken';
import {
  createStepUp,
  jwtAuthenticator,
  type Action,
  type StepUpOptions,
  type StepUpUser,
  type VerificationRecord,
  type VerificationStore,
} from '../lib/index';
import { actionRef, sessionRef } from '../lib/action';
import { codeHash } from '../lib/codes';
import { identifierRef } from '../lib/identifiers';
import { newRecordId } from '../lib/record-id';
import { UNLIMITED } from '../test/helpers/harness';
import { verifiedRecord } from '../test/helpers/records';
import type { LoadJob } from './load-client';

/** The HS256 secret of the benchmark's access tokens (as a string, like most apps configure it). */
export const JWT_SECRET = randomBytes(32).toString('hex');
/** The code HMAC secret (required with a shared store). */
const CODE_SECRET = randomBytes(32);
/** A password hash the guard benches never check: only its presence counts (requirement.methods). */
const UNUSED_PASSWORD_HASH = `$2b$10$${'x'.repeat(53)}`;

export const BENCH_USER = 'usr_bench';
/** The session id (`sid` claim) of the session-bound cases. */
export const BENCH_SESSION = 'ses_bench';

/**
 * The action of the action-bound guards (PSD2 dynamic linking). The guard reads it from the query
 * string of each request, as an app would read it from the body it is about to execute.
 */
export const BENCH_ACTION: Action = { type: 'transfer', amount: '250.00', currency: 'EUR', payee: 'NL91ABNA0417164300' };
const ACTION_QUERY = new URLSearchParams({
  amount: BENCH_ACTION.amount as string,
  currency: BENCH_ACTION.currency as string,
  payee: BENCH_ACTION.payee as string,
}).toString();

function actionOfRequest(req: express.Request): Action {
  const field = (name: string) => {
    const value = req.query[name];
    return typeof value === 'string' ? value : '';
  };
  return { type: 'transfer', amount: field('amount'), currency: field('currency'), payee: field('payee') };
}

/** An access token of `userId`, in session `sessionId` (the `sid` claim) when given. */
export function accessToken(userId: string = BENCH_USER, sessionId?: string): string {
  return jwt.sign({ sub: userId, ...(sessionId !== undefined ? { sid: sessionId } : {}) }, JWT_SECRET, { algorithm: 'HS256', expiresIn: 3600 });
}

/** What a bench record is bound to, beside its user. */
export interface RecordBinding {
  readonly userId?: string;
  /** Bound to this session id (the record keeps its keyed hash, as the library writes it). */
  readonly sessionId?: string;
  /** Bound to this action (the record keeps its keyed hash). */
  readonly action?: Action;
}

/** A verified password record, fresh for the whole run. */
export function verifiedPasswordRecord(binding: RecordBinding = {}): VerificationRecord {
  return verifiedRecord({
    userId: binding.userId ?? BENCH_USER,
    ...(binding.sessionId !== undefined ? { sessionRef: sessionRef(CODE_SECRET, binding.sessionId) } : {}),
    ...(binding.action !== undefined ? { actionRef: actionRef(CODE_SECRET, binding.action) } : {}),
    expiresAt: Date.now() + 600_000,
  });
}

/** The one-time code of every bench pending record (`createPendingCodes`). */
export const BENCH_CODE = '314159';

/** Saves `count` pending email-code records of `userId` for `email`, whose code is BENCH_CODE; returns their ids. */
export async function createPendingCodes(store: VerificationStore, count: number, email: string, userId: string = BENCH_USER): Promise<string[]> {
  const ids: string[] = [];
  for (let start = 0; start < count; start += 100) {
    const batch = Array.from({ length: Math.min(100, count - start) }, (): VerificationRecord => {
      const id = newRecordId();
      const now = Date.now();
      return {
        id,
        userId,
        status: 'pending',
        method: 'email',
        identifierRef: identifierRef(CODE_SECRET, { type: 'email', value: email }),
        codeHash: codeHash(CODE_SECRET, id, BENCH_CODE),
        attempts: 0,
        createdAt: now,
        expiresAt: now + 600_000,
      };
    });
    await Promise.all(batch.map((record) => store.create(record)));
    ids.push(...batch.map((record) => record.id));
  }
  return ids;
}

/** Saves `count` fresh verified records through `store.create()`, 100 at a time; returns their ids. */
export async function createRecords(store: VerificationStore, count: number, binding: RecordBinding = {}): Promise<string[]> {
  const ids: string[] = [];
  for (let start = 0; start < count; start += 100) {
    const batch = Array.from({ length: Math.min(100, count - start) }, () => verifiedPasswordRecord(binding));
    await Promise.all(batch.map((record) => store.create(record)));
    ids.push(...batch.map((record) => record.id));
  }
  return ids;
}

export const GUARD_PATHS = {
  reusable: '/reusable',
  singleUse: '/single-use',
  reusableAction: `/reusable/transfer?${ACTION_QUERY}`,
  singleUseAction: `/single-use/transfer?${ACTION_QUERY}`,
} as const;

export interface BenchApp {
  readonly port: number;
  close(): Promise<void>;
}

/**
 * An Express app on 127.0.0.1:<free port>: the router at /v, GET /reusable behind
 * requireVerification(), POST /single-use behind requireVerification({ singleUse: true }), and
 * the same two at /reusable/transfer and /single-use/transfer with the `action` of the query string.
 */
export async function startApp(
  store: VerificationStore,
  // The bench user has a password on file, as a real user would: a refusal then names it
  // (verification.invalid) rather than verification.no_available_method.
  users: ReadonlyMap<string, StepUpUser> = new Map([[BENCH_USER, { id: BENCH_USER, passwordHash: UNUSED_PASSWORD_HASH }]]),
  extra: Pick<StepUpOptions, 'sender' | 'limits' | 'passwordConcurrency'> = {},
): Promise<BenchApp> {
  const stepUp = createStepUp({
    authenticate: jwtAuthenticator({ secret: JWT_SECRET, algorithms: ['HS256'] }),
    users: { findById: (id) => users.get(id) ?? null },
    store,
    secret: CODE_SECRET,
    limits: UNLIMITED,
    ...extra,
  });
  const app = express();
  app.use('/v', stepUp.router);
  const ok = (req: express.Request, res: express.Response) => void res.json({ verificationId: req.verification?.id });
  app.get(GUARD_PATHS.reusable, stepUp.requireVerification(), ok);
  app.post(GUARD_PATHS.singleUse, stepUp.requireVerification({ singleUse: true }), ok);
  app.get('/reusable/transfer', stepUp.requireVerification({ action: actionOfRequest }), ok);
  app.post('/single-use/transfer', stepUp.requireVerification({ singleUse: true, action: actionOfRequest }), ok);

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

export interface GuardJobOptions {
  readonly singleUse: boolean;
  /** The action-bound route of that kind. */
  readonly actionBound?: boolean;
  /** One record id per request, or one for all. */
  readonly ids: readonly string[] | string;
  readonly count: number;
  /** The bearer token of every request. */
  readonly token: string;
  /** Requests in flight at most; default min(20, count). */
  readonly concurrency?: number;
}

/** A load job of `count` requests at a guarded route of `app`, the record id in `Verification-Id`. */
export function guardJob(app: BenchApp, options: GuardJobOptions): LoadJob {
  const path = options.singleUse
    ? options.actionBound === true ? GUARD_PATHS.singleUseAction : GUARD_PATHS.singleUse
    : options.actionBound === true ? GUARD_PATHS.reusableAction : GUARD_PATHS.reusable;
  return {
    port: app.port,
    method: options.singleUse ? 'POST' : 'GET',
    path,
    headers: { authorization: `Bearer ${options.token}` },
    idHeader: 'verification-id',
    ids: options.ids,
    count: options.count,
    concurrency: options.concurrency ?? Math.min(20, options.count),
  };
}
