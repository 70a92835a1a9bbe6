import express from 'express';
import jwt from 'jsonwebtoken';
import { connectClient } from '../../redis-server';
import type { ServerSpec, Target } from '../protocol';
import { keyObjectOf } from '../keys';
import { BENCH_RECORD_SECONDS, benchRecord } from '../records';
import { listen } from './listen';

const PREFIX = 'bench:floor:';

/**
 * The floor: the least any step-up check can do. Verify the bearer JWT with a prepared KeyObject
 * (jsonwebtoken, one algorithm), one Redis GET of a JSON string, JSON.parse, compare its user with
 * the token's, answer 200. No expiry, method, age, session or revocation check, no error format:
 * a reference to measure the guard against, not something to deploy. With `autoPipelining`, its
 * ioredis client batches the commands of one tick into one write (the reference for guards that do too).
 */
export async function startFloor(spec: Extract<ServerSpec, { kind: 'floor' }>, redisUrl: string): Promise<Target> {
  const redis = await connectClient(redisUrl, { autoPipelining: spec.autoPipelining === true });
  const key = keyObjectOf(spec.key);
  const verifyOptions: jwt.VerifyOptions = { algorithms: [spec.key.alg] };
  const record = benchRecord();
  await redis.set(`${PREFIX}${record.id}`, JSON.stringify(record), 'EX', BENCH_RECORD_SECONDS);

  const app = express();
  app.disable('x-powered-by');
  app.get('/floor', async (req, res) => {
    const header = req.headers.authorization;
    const id = req.headers['verification-id'];
    if (header === undefined || !header.startsWith('Bearer ') || typeof id !== 'string') return void res.status(401).end();
    let subject: unknown;
    try {
      subject = (jwt.verify(header.slice(7), key, verifyOptions) as jwt.JwtPayload).sub;
    } catch {
      return void res.status(401).end();
    }
    const raw = await redis.get(`${PREFIX}${id}`);
    const found = raw === null ? null : (JSON.parse(raw) as { userId?: unknown });
    if (found === null || found.userId !== subject) return void res.status(403).end();
    res.json({ verificationId: id });
  });
  const { port } = await listen(app);
  return {
    port,
    method: 'GET',
    path: '/floor',
    headers: { authorization: `Bearer ${spec.token}` },
    idHeader: 'verification-id',
    ids: record.id,
  };
}
