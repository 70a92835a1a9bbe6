import { randomBytes } from 'node:crypto';
import { RedisStore } from 'connect-redis';
import express from 'express';
import session from 'express-session';
import { createClient } from 'redis';
import type { ServerSpec, Target } from '../protocol';
import { BENCH_USER } from '../keys';
import { BENCH_RECORD_SECONDS } from '../records';
import { listen } from './listen';

declare module 'express-session' {
  interface SessionData {
    userId: string;
    /** When the user last re-entered their password (ms since the epoch): "sudo mode". */
    sudoAt: number;
  }
}

/** As long as the guard rows' records count (apps often take 5 minutes; the run measures for longer). */
const SUDO_MS = BENCH_RECORD_SECONDS * 1000;

/**
 * The peer: how apps commonly do "sudo mode" without a library for it. express-session with
 * connect-redis (node-redis, as connect-redis 9 requires) keeps the user's session in Redis with
 * the time of their last re-authentication; the guarded route checks it is recent. Per request:
 * one GET (load the session) and, since the session is not modified, one EXPIRE (touch).
 */
export async function startPeer(_spec: Extract<ServerSpec, { kind: 'peer' }>, redisUrl: string): Promise<Target> {
  const client = createClient({ url: redisUrl });
  await client.connect();

  const app = express();
  app.disable('x-powered-by');
  app.use(
    session({
      store: new RedisStore({ client, prefix: 'bench:peer:' }),
      secret: randomBytes(32).toString('hex'),
      resave: false,
      saveUninitialized: false,
      cookie: { httpOnly: true, sameSite: 'strict', maxAge: SUDO_MS },
    }),
  );
  // Stands for the app's sign-in plus password re-entry: puts the user and the sudo time in the session.
  app.post('/sign-in', (req, res) => {
    req.session.userId = BENCH_USER;
    req.session.sudoAt = Date.now();
    res.status(204).end();
  });
  app.get('/sudo', (req, res) => {
    const { userId, sudoAt } = req.session;
    if (userId === undefined) return void res.status(401).end();
    if (sudoAt === undefined || Date.now() - sudoAt > SUDO_MS) return void res.status(403).end();
    res.json({ userId });
  });
  const { port } = await listen(app);

  const signedIn = await fetch(`http://127.0.0.1:${port}/sign-in`, { method: 'POST' });
  const cookie = signedIn.headers.get('set-cookie')?.split(';')[0];
  if (signedIn.status !== 204 || cookie === undefined) throw new Error(`peer: sign-in answered ${signedIn.status} without a session cookie`);
  return { port, method: 'GET', path: '/sudo', headers: { cookie }, idHeader: null, ids: '' };
}
