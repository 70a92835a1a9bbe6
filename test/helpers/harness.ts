import { randomBytes } from 'node:crypto';
import bcrypt from 'bcrypt';
import express from 'express';
import jwt from 'jsonwebtoken';
import Redis from 'ioredis';
import {
  createStepUp,
  jwtAuthenticator,
  MemoryStore,
  RedisStore,
  type CodeMessage,
  type RateLimits,
  type StepUp,
  type StepUpOptions,
  type StepUpUser,
  type StoredPasskey,
  type VerificationStore,
} from '../../lib/index';

export const JWT_SECRET = randomBytes(32).toString('hex');
/** The code HMAC secret: the same for every harness, as for every instance of one app. */
const SHARED_SECRET = randomBytes(32);
export const PASSWORDS = { usr_alice: 'alice-password-123', usr_bob: 'bob-password-456' } as const;

export function tokenFor(userId: string, options: jwt.SignOptions = {}): string {
  return jwt.sign({ sub: userId }, JWT_SECRET, { algorithm: 'HS256', expiresIn: 300, ...options });
}

export const bearer = (userId: string) => `Bearer ${tokenFor(userId)}`;

let cachedUsers: Map<string, StepUpUser> | undefined;

/** alice and bob with passwords, email and phone; carol without a password. bcrypt cost 10, as a real app. */
export async function testUsers(): Promise<Map<string, StepUpUser>> {
  cachedUsers ??= new Map<string, StepUpUser>([
    ['usr_alice', { id: 'usr_alice', passwordHash: await bcrypt.hash(PASSWORDS.usr_alice, 10), email: 'alice@example.com', phone: '+14155550100' }],
    ['usr_bob', { id: 'usr_bob', passwordHash: await bcrypt.hash(PASSWORDS.usr_bob, 10), email: 'bob@example.com', phone: '+14155550101' }],
    ['usr_carol', { id: 'usr_carol', passwordHash: null, email: 'carol@example.com', phone: null }],
  ]);
  return cachedUsers;
}

/**
 * Limits so high that tests of other behaviour never meet them; the limits
 * themselves are tested with their defaults or small windows in rate-limits.test.ts.
 */
export const UNLIMITED: RateLimits = {
  perIp: false,
  passwordFailures: { limit: 1_000_000, windowSeconds: 3600 },
  codeResendCooldownSeconds: 0.001,
  codesPerIdentifier: { limit: 1_000_000, windowSeconds: 3600 },
  codesPerUser: { limit: 1_000_000, windowSeconds: 3600 },
  codesPerNewIdentifier: { limit: 1_000_000, windowSeconds: 3600 },
  codeFailuresPerUser: { limit: 1_000_000, windowSeconds: 3600 },
};

export type StoreKind = 'memory' | 'redis';
export const STORE_KINDS: StoreKind[] = ['memory', 'redis'];

/** A client on the test run's private Redis (never 6379), failing fast like the README recommends. */
export async function testRedisClient(): Promise<Redis> {
  const client = new Redis(process.env.TEST_REDIS_URL as string, {
    enableOfflineQueue: false,
    maxRetriesPerRequest: 1,
    commandTimeout: 500,
    lazyConnect: true,
  });
  await client.connect();
  return client;
}

export interface Harness {
  app: express.Express;
  stepUp: StepUp;
  /** The users' passkeys, as the app's user port keeps them (used with the `passkeys` option). */
  passkeys: Map<string, StoredPasskey[]>;
  /** The users' sealed TOTP secrets, as the app's user port keeps them (used with the `totp` option). */
  totpSecrets: Map<string, string>;
  store: VerificationStore;
  sent: CodeMessage[];
  redis: Redis | undefined;
  prefix: string;
  close(): Promise<void>;
}

/**
 * A small app with the router at /v and guarded routes of every kind, on the
 * chosen store. Codes are captured by a recording sender.
 */
export async function harness(
  kind: StoreKind,
  options: Partial<StepUpOptions> = {},
  shared: { prefix?: string } = {},
): Promise<Harness> {
  const users = await testUsers();
  const sent: CodeMessage[] = [];
  // Two harnesses given the same prefix share records and counters, like two instances of one app.
  const prefix = shared.prefix ?? `h:${randomBytes(6).toString('hex')}:`;
  const redis = kind === 'redis' ? await testRedisClient() : undefined;
  const store = redis ? new RedisStore({ client: redis, prefix }) : new MemoryStore(options.now ? { now: options.now } : {});
  const passkeys = new Map<string, StoredPasskey[]>();
  const totpSecrets = new Map<string, string>();
  const stepUp = createStepUp({
    authenticate: jwtAuthenticator({ secret: JWT_SECRET, algorithms: ['HS256'] }),
    users: {
      findById: (id) => {
        const user = users.get(id);
        return user === undefined ? null : { ...user, totpSecret: totpSecrets.get(id) ?? null };
      },
      listPasskeys: (id) => passkeys.get(id) ?? [],
      savePasskey: (id, passkey) => void passkeys.set(id, [...(passkeys.get(id) ?? []), passkey]),
      updatePasskeyCounter: (id, credentialId, counter) =>
        void passkeys.set(id, (passkeys.get(id) ?? []).map((p) => (p.id === credentialId ? { ...p, counter } : p))),
      saveTotpSecret: (id, sealedSecret) => void totpSecrets.set(id, sealedSecret),
    },
    store,
    secret: SHARED_SECRET,
    sender: { send: async (message) => void sent.push(message) },
    limits: UNLIMITED,
    ...options,
  });
  const app = express();
  app.use('/v', stepUp.router);
  const ok = (req: express.Request, res: express.Response) => res.json({ verification: req.verification });
  app.get('/reusable', stepUp.requireVerification(), ok);
  app.post('/single', stepUp.requireVerification({ singleUse: true }), ok);
  app.get('/password-only', stepUp.requireVerification({ methods: ['password'] }), ok);
  app.get('/codes-only', stepUp.requireVerification({ methods: ['email', 'phone'] }), ok);
  app.get('/fresh', stepUp.requireVerification({ maxAge: 60 }), ok);
  app.get('/custom-header', stepUp.requireVerification({ header: 'logto-verification-id' }), ok);
  app.post('/bind-email', express.json(), stepUp.requireVerification(), stepUp.requireNewIdentifier({ type: 'email' }), (req, res) =>
    res.json({ bound: req.newIdentifier }),
  );
  return { app, stepUp, passkeys, totpSecrets, store, sent, redis, prefix, close: async () => void (await redis?.quit()) };
}

/**
 * A harness per store kind for the whole describe block, whose clock tests can move forward
 * (`clock.offset = 601_000`) to age records without sleeping; the offset is reset after each test.
 */
export function clockedHarness(kind: StoreKind): { readonly h: Harness; readonly clock: { offset: number } } {
  const clock = { offset: 0 };
  const holder = {} as { h: Harness };
  beforeAll(async () => {
    holder.h = await harness(kind, { now: () => Date.now() + clock.offset });
  });
  afterAll(() => holder.h.close());
  afterEach(() => {
    clock.offset = 0;
  });
  return {
    get h() {
      return holder.h;
    },
    clock,
  };
}

/** Every key under `pattern` with its TTL (ms) and all it holds as one string, whatever its type. */
export async function dumpKeys(redis: Redis, pattern: string): Promise<Array<{ key: string; pttl: number; text: string }>> {
  const keys = await redis.keys(pattern);
  const dumped = await Promise.all(
    keys.map(async (key) => {
      const type = await redis.type(key);
      const text = type === 'hash' ? Object.entries(await redis.hgetall(key)).flat().join(' ') : String(await redis.get(key));
      return { key, pttl: await redis.pttl(key), text };
    }),
  );
  // -2: the key expired since KEYS listed it (short test windows); -1 (no TTL) is kept and fails the tests.
  return dumped.filter(({ pttl }) => pttl !== -2);
}
