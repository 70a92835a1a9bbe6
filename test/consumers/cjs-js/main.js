// Consumer (b): a plain CommonJS app on Express 4 and ioredis 5, without the SendGrid and Twilio
// SDKs, with @simplewebauthn/server (passkeys). It serves the README's quick start, written in JavaScript, on the memory store and on a
// RedisStore over an ioredis 5 client, then prints the ports for ../run.ts, which drives the HTTP flow.
'use strict';
const bcrypt = require('bcrypt');
const express = require('express');
const { Redis } = require('ioredis');
const { createStepUp, jwtAuthenticator, RedisStore, sendgridSender, twilioSender } = require('express-step-up');

const jwtSecret = required('JWT_SECRET');
const users = new Map([
  ['usr_1', { id: 'usr_1', passwordHash: bcrypt.hashSync('a long passphrase', 10), email: 'ana@example.com', phone: '+14155550123' }],
]);

/** The README's quick start; with `store` and `secret` when given. */
function createApp(storeOptions) {
  const stepUp = createStepUp({
    authenticate: jwtAuthenticator({ secret: jwtSecret, algorithms: ['HS256'] }),
    users: { findById: (id) => users.get(id) ?? null },
    ...storeOptions,
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
 * and loaded by the library's CommonJS build; a strict-preset route takes them.
 */
function createFactorsApp(redisStore) {
  const factorUsers = new Map([['usr_1', { id: 'usr_1', passwordHash: bcrypt.hashSync('a long passphrase', 10) }]]);
  const passkeys = new Map();
  const stepUp = createStepUp({
    authenticate: jwtAuthenticator({ secret: jwtSecret, algorithms: ['HS256'] }),
    users: {
      findById: (id) => factorUsers.get(id) ?? null,
      saveTotpSecret: (id, sealedSecret) => void factorUsers.set(id, { ...factorUsers.get(id), totpSecret: sealedSecret }),
      listPasskeys: (id) => passkeys.get(id) ?? [],
      savePasskey: (id, passkey) => void passkeys.set(id, [...(passkeys.get(id) ?? []), passkey]),
      updatePasskeyCounter: (id, credentialId, counter) =>
        void passkeys.set(id, (passkeys.get(id) ?? []).map((p) => (p.id === credentialId ? { ...p, counter } : p))),
    },
    store: redisStore,
    secret: required('VERIFICATION_SECRET'),
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

/** Neither SDK is installed here: each sender must refuse to be created, naming the package to install. */
function expectMissingSdk(create, packageName) {
  try {
    create();
  } catch (error) {
    if (error instanceof TypeError && error.message.includes(`npm install ${packageName}`)) return;
    throw error;
  }
  throw new Error(`a sender was created without ${packageName} installed`);
}

function listen(app) {
  return new Promise((resolve, reject) => {
    const server = app.listen(0, '127.0.0.1', () => resolve(server.address().port)).once('error', reject);
  });
}

function required(name) {
  const value = process.env[name];
  if (!value) throw new Error(`${name} is not set (../run.ts sets it)`);
  return value;
}

async function main() {
  expectMissingSdk(() => twilioSender({ accountSid: 'AC0123456789abcdef', authToken: 'not-a-real-token', from: '+14155550100' }), 'twilio');
  expectMissingSdk(() => sendgridSender({ apiKey: 'SG.not-a-real-key', from: 'noreply@example.com' }), '@sendgrid/client');

  // The README's client options, on ioredis 5.
  const redis = new Redis(required('REDIS_URL'), {
    enableOfflineQueue: false,
    maxRetriesPerRequest: 1,
    commandTimeout: 500,
    retryStrategy: (times) => Math.min(times * 50, 500),
    enableAutoPipelining: true,
  });
  await new Promise((resolve, reject) => redis.once('ready', resolve).once('error', reject));
  const redisStore = new RedisStore({ client: redis, prefix: `consumer-cjs-js:${process.pid}:` });

  const ports = {
    'quick start (memory store, Express 4)': await listen(createApp({})),
    'Redis store (ioredis 5, Express 4)': await listen(createApp({ store: redisStore, secret: required('VERIFICATION_SECRET') })),
    'factors (passkeys with @simplewebauthn/server, TOTP; Redis, Express 4, CommonJS build)': await listen(
      createFactorsApp(new RedisStore({ client: redis, prefix: `consumer-cjs-js-factors:${process.pid}:` })),
    ),
  };
  console.log(`CONSUMER_READY ${JSON.stringify(ports)}`);
}

main().catch((error) => {
  console.error(error);
  process.exit(1);
});
