// Consumer (a): an ES module app in TypeScript (nodenext, strict, exactOptionalPropertyTypes) on
// Express 5 and ioredis 6, without the SendGrid and Twilio SDKs, with @simplewebauthn/server (passkeys). It serves the README's quick start
// (src/readme/quick-start.ts, compiled as written) and the same routes on a RedisStore, then prints
// the ports for ../run.ts, which drives the HTTP flow.
import type { AddressInfo } from 'node:net';
import bcrypt from 'bcrypt';
import express from 'express';
import { Cluster, Redis } from 'ioredis';
import { createStepUp, jwtAuthenticator, RedisStore, sendgridSender, twilioSender, type StepUpUser, type StoredPasskey } from 'express-step-up';
import { createApp } from './readme/quick-start.js';

const jwtSecret = required('JWT_SECRET');

/** The quick start's routes on a RedisStore over this app's ioredis 6 client. */
function redisApp(client: Redis): express.Express {
  const users = new Map<string, StepUpUser>([['usr_1', { id: 'usr_1', passwordHash: bcrypt.hashSync('a long passphrase', 10) }]]);
  const stepUp = createStepUp({
    authenticate: jwtAuthenticator({ secret: jwtSecret, algorithms: ['HS256'] }),
    users: { findById: (id) => users.get(id) ?? null },
    store: new RedisStore({ client, prefix: `consumer-esm-ts:${process.pid}:` }),
    secret: process.env.VERIFICATION_SECRET,
  });
  const app = express();
  app.use('/api/verifications', stepUp.router);
  app.use(express.json());
  app.post('/api/payouts', stepUp.requireVerification({ maxAge: 300, singleUse: true }), (req, res) => {
    res.status(201).json({ paidBy: req.verification?.userId, method: req.verification?.method });
  });
  return app;
}

/**
 * Passkeys and TOTP on a RedisStore: the optional peer @simplewebauthn/server is installed here
 * and loaded by the library's ES module build; a strict-preset route takes them.
 */
function factorsApp(client: Redis): express.Express {
  const users = new Map<string, StepUpUser>([['usr_1', { id: 'usr_1', passwordHash: bcrypt.hashSync('a long passphrase', 10) }]]);
  const passkeys = new Map<string, StoredPasskey[]>();
  const stepUp = createStepUp({
    authenticate: jwtAuthenticator({ secret: jwtSecret, algorithms: ['HS256'] }),
    users: {
      findById: (id) => users.get(id) ?? null,
      saveTotpSecret: (id, sealedSecret) => void users.set(id, { ...(users.get(id) ?? { id }), totpSecret: sealedSecret }),
      listPasskeys: (id) => passkeys.get(id) ?? [],
      savePasskey: (id, passkey) => void passkeys.set(id, [...(passkeys.get(id) ?? []), passkey]),
      updatePasskeyCounter: (id, credentialId, counter) =>
        void passkeys.set(id, (passkeys.get(id) ?? []).map((p) => (p.id === credentialId ? { ...p, counter } : p))),
    },
    store: new RedisStore({ client, prefix: `consumer-esm-ts-factors:${process.pid}:` }),
    secret: process.env.VERIFICATION_SECRET,
    totp: { issuer: 'Consumer Bank' },
    passkeys: { rpId: 'consumer.example', rpName: 'Consumer Bank', origin: 'https://consumer.example' },
  });
  const app = express();
  app.use('/api/verifications', stepUp.router);
  app.use(express.json());
  app.post('/api/strict-payouts', stepUp.requireVerification.strict(), (req, res) => {
    res.status(201).json({ paidBy: req.verification?.userId, method: req.verification?.method });
  });
  return app;
}

/** Type-level only, never called: ioredis 6's Cluster is a client RedisStore takes. */
export const clusterStore = (nodes: Array<{ host: string; port: number }>) => new RedisStore({ client: new Cluster(nodes) });

/** Neither SDK is installed here: each sender must refuse to be created, naming the package to install. */
function expectMissingSdk(create: () => unknown, packageName: string): void {
  try {
    create();
  } catch (error) {
    if (error instanceof TypeError && error.message.includes(`npm install ${packageName}`)) return;
    throw error;
  }
  throw new Error(`a sender was created without ${packageName} installed`);
}
expectMissingSdk(() => twilioSender({ accountSid: 'AC0123456789abcdef', authToken: 'not-a-real-token', from: '+14155550100' }), 'twilio');
expectMissingSdk(() => sendgridSender({ apiKey: 'SG.not-a-real-key', from: 'noreply@example.com' }), '@sendgrid/client');

// The README's client options.
const redis = new Redis(required('REDIS_URL'), {
  enableOfflineQueue: false,
  maxRetriesPerRequest: 1,
  commandTimeout: 500,
  retryStrategy: (times) => Math.min(times * 50, 500),
  enableAutoPipelining: true,
});
await new Promise((resolve, reject) => redis.once('ready', resolve).once('error', reject));

const ports = {
  'quick start (README, memory store)': await listen(createApp(jwtSecret)),
  'Redis store (ioredis 6)': await listen(redisApp(redis)),
  'factors (passkeys with @simplewebauthn/server, TOTP; Redis, ES module build)': await listen(factorsApp(redis)),
};
console.log(`CONSUMER_READY ${JSON.stringify(ports)}`);

function listen(app: express.Express): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = app.listen(0, '127.0.0.1', () => resolve((server.address() as AddressInfo).port)).once('error', reject);
  });
}

function required(name: string): string {
  const value = process.env[name];
  if (value === undefined || value === '') throw new Error(`${name} is not set (../run.ts sets it)`);
  return value;
}
