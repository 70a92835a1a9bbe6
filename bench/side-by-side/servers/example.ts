import { randomBytes } from 'node:crypto';
import Redis from 'ioredis';
import path from 'node:path';
import type * as ExampleApp from '../../../example-app/app';
import type * as ClientErrors from '../../../example-app/client-errors';
import type * as Config from '../../../example-app/config';
import { RedisStore } from '../../../lib/index';
import { REDIS_OPTIONS } from '../../../example-app/redis-options';
import type { ServerSpec, Target } from '../protocol';
import { listen } from './listen';

/** A demo user of the example app (example-app/users.ts) and their password. */
const ALICE = { email: 'alice@example.com', password: 'correct-horse-battery-staple' };

async function postJson(port: number, path: string, body: unknown, headers: Record<string, string> = {}): Promise<{ status: number; json: Record<string, unknown> }> {
  const res = await fetch(`http://127.0.0.1:${port}${path}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body: JSON.stringify(body),
  });
  return { status: res.status, json: (await res.json()) as Record<string, unknown> };
}

/**
 * The example app as example-app/server.ts builds it for `npm start` with REDIS_URL set (the same
 * client options, a RedisStore with its default prefix), on the bench's Redis. Its audit events are
 * logged to stdout as there (pino's asynchronous destination); the bench starts this child with
 * stdout to /dev/null.
 * Alice signs in and re-enters her password over HTTP (a record bound to her session); the load is
 * then GET /api/payslips with her token and that record. The route accepts a record for 10 minutes
 * and the token lives 15, less than a whole bench run: `refresh` signs in and verifies again.
 */
export async function startExample(spec: Extract<ServerSpec, { kind: 'example' }>, redisUrl: string): Promise<{ target: Target; refresh: () => Promise<Target> }> {
  const dir = path.resolve(__dirname, '../../..', spec.appDir ?? 'example-app');
  const { createExampleApp } = (await import(path.join(dir, 'app'))) as typeof ExampleApp;
  const { answerClientErrorsAsJson } = (await import(path.join(dir, 'client-errors'))) as typeof ClientErrors;
  const { readConfig } = (await import(path.join(dir, 'config'))) as typeof Config;
  const config = readConfig({
    REDIS_URL: redisUrl,
    JWT_SECRET: randomBytes(48).toString('base64'),
    VERIFICATION_SECRET: randomBytes(48).toString('base64'),
  });
  // The client options of the current example app (an older copy in appDir may predate the file).
  const redis = new Redis(redisUrl, { ...REDIS_OPTIONS, lazyConnect: true });
  await redis.connect();
  const { app } = await createExampleApp({ config, store: new RedisStore({ client: redis }) });
  const { server, port } = await listen(app);
  answerClientErrorsAsJson(server);
  const refresh = () => signInAndVerify(port);
  return { target: await refresh(), refresh };
}

/** Alice signs in and re-enters her password: the target with her token and the new record. */
async function signInAndVerify(port: number): Promise<Target> {
  const signIn = await postJson(port, '/api/sign-in', ALICE);
  const token = signIn.json.access_token;
  if (signIn.status !== 200 || typeof token !== 'string') throw new Error(`example app: sign-in answered ${signIn.status}`);
  const authorization = `Bearer ${token}`;
  const verified = await postJson(port, '/api/verifications/password/verify', { password: ALICE.password }, { authorization });
  const recordId = verified.json.verificationRecordId;
  if (verified.status !== 201 || typeof recordId !== 'string') throw new Error(`example app: password verification answered ${verified.status}`);
  return { port, method: 'GET', path: '/api/payslips', headers: { authorization }, idHeader: 'verification-id', ids: recordId };
}
