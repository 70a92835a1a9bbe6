import { randomBytes } from 'node:crypto';
import express from 'express';
import jwt from 'jsonwebtoken';
import type Redis from 'ioredis';
import { createStepUp, jwtAuthenticator, MemoryStore, RedisStore, type StepUp, type StepUpOptions, type StepUpUser } from '../../lib/index';
import { JWT_SECRET, testRedisClient, UNLIMITED, type StoreKind } from './harness';

export interface StepUpApp {
  readonly app: express.Express;
  readonly stepUp: StepUp;
  /** How many times the app's `users.findById` was called. */
  readonly lookups: { count: number };
  close(): Promise<void>;
}

/**
 * An app with the router at /v over the given users, on the chosen store, for tests that add their
 * own routes (`app.get(..., stepUp.requireVerification.strict(), ...)`) after it. `users.findById`
 * counts its calls. No sender unless the options give one.
 */
export async function stepUpApp(kind: StoreKind, users: readonly StepUpUser[], options: Partial<StepUpOptions> = {}): Promise<StepUpApp> {
  const byId = new Map(users.map((user) => [user.id, user]));
  const lookups = { count: 0 };
  const redis: Redis | undefined = kind === 'redis' ? await testRedisClient() : undefined;
  const store = redis ? new RedisStore({ client: redis, prefix: `a:${randomBytes(6).toString('hex')}:` }) : new MemoryStore(options.now ? { now: options.now } : {});
  const stepUp = createStepUp({
    authenticate: jwtAuthenticator({ secret: JWT_SECRET, algorithms: ['HS256'] }),
    users: {
      findById: (id) => {
        lookups.count += 1;
        return byId.get(id) ?? null;
      },
    },
    store,
    secret: randomBytes(32),
    limits: UNLIMITED,
    onWarning: () => undefined,
    ...options,
  });
  const app = express();
  app.use('/v', stepUp.router);
  return { app, stepUp, lookups, close: async () => void (await redis?.quit()) };
}

/** `Authorization` for a user, with a session id (`sid`) when given. */
export function authFor(userId: string, sessionId?: string): string {
  const claims = sessionId === undefined ? { sub: userId } : { sub: userId, sid: sessionId };
  return `Bearer ${jwt.sign(claims, JWT_SECRET, { algorithm: 'HS256', expiresIn: 300 })}`;
}

/** The handler of a guarded test route: answers what the guard set. */
export const echoVerification = (req: express.Request, res: express.Response): void => {
  res.json({ verification: req.verification });
};
