import { randomBytes } from 'node:crypto';
import type Redis from 'ioredis';
import request from 'supertest';
import { createExampleApp } from '../../example-app/app';
import { readConfig } from '../../example-app/config';
import { RedisStore, type CodeMessage, type RateLimits } from '../../lib/index';
import { testRedisClient, UNLIMITED, type StoreKind } from './harness';

export const ALICE = { id: 'usr_alice', email: 'alice@example.com', phone: '+14155550100', password: 'correct-horse-battery-staple' };
export const BOB = { id: 'usr_bob', email: 'bob@example.com', phone: '+14155550101', password: 'bob-very-secret-pass' };

/** The example app as `npm start` builds it, on the chosen store, with codes captured instead of sent (unless realSenders). */
export async function startExample(
  kind: StoreKind,
  env: NodeJS.ProcessEnv = {},
  options: { realSenders?: boolean; limits?: RateLimits; log?: (line: string) => void } = {},
) {
  const config = readConfig(
    { JWT_SECRET: randomBytes(32).toString('hex'), VERIFICATION_SECRET: randomBytes(32).toString('hex'), ...env },
    () => undefined,
  );
  const sent: CodeMessage[] = [];
  const lines: string[] = [];
  let redis: Redis | undefined;
  let store: RedisStore | undefined;
  if (kind === 'redis') {
    redis = await testRedisClient();
    store = new RedisStore({ client: redis, prefix: `ex:${randomBytes(6).toString('hex')}:` });
  }
  const { app, users } = await createExampleApp({
    config,
    ...(store ? { store } : {}),
    // By default codes are captured; with realSenders the env chooses SendGrid/Twilio/console as in production.
    ...(options.realSenders ? {} : { sender: { send: async (message: CodeMessage) => void sent.push(message) } }),
    log: (line) => {
      lines.push(line);
      options.log?.(line);
    },
    // The demo's real limits would stop these quick back-to-back flows; they are tested on their own.
    limits: options.limits ?? UNLIMITED,
  });
  const signIn = async (user: { email: string; password: string }): Promise<string> => {
    const res = await request(app).post('/api/sign-in').send({ email: user.email, password: user.password });
    if (res.status !== 200) throw new Error(`sign-in failed: ${res.status}`);
    return `Bearer ${res.body.access_token as string}`;
  };
  /** The code in the last message sent to `to`. */
  const lastCodeTo = (to: string): string => {
    const message = [...sent].reverse().find((m) => m.to === to);
    if (!message) throw new Error(`no code sent to ${to}`);
    return message.code;
  };
  return { app, config, sent, lines, redis, store, users, signIn, lastCodeTo, close: async () => void (await redis?.quit()) };
}
