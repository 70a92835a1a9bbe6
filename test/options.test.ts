import express from 'express';
import Redis from 'ioredis';
import request from 'supertest';
import {
  consoleSender,
  createStepUp,
  jwtAuthenticator,
  MemoryStore,
  oidcAuthenticator,
  RedisStore,
  redisCounters,
  sendgridSender,
  senderByChannel,
  StepUpConfigError,
  twilioSender,
  type StepUpOptions,
  type StepUpWarning,
} from '../lib/index';
import { bearer, harness, JWT_SECRET } from './helpers/harness';

const base: StepUpOptions = {
  authenticate: jwtAuthenticator({ secret: JWT_SECRET, algorithms: ['HS256'] }),
  users: { findById: () => null },
  secret: 'k'.repeat(32),
  onWarning: () => undefined,
};

/** The config error `make` throws, checked to be coded and to name the key and the suggestion. */
function expectUnknown(make: () => unknown, key: string, suggestion?: string): void {
  let thrown: unknown;
  try {
    make();
  } catch (error) {
    thrown = error;
  }
  expect(thrown).toBeInstanceOf(StepUpConfigError);
  expect(thrown).toBeInstanceOf(TypeError);
  expect((thrown as StepUpConfigError).code).toBe('ERR_STEP_UP_UNKNOWN_OPTION');
  expect((thrown as Error).message).toContain(`\`${key}\``);
  if (suggestion) expect((thrown as Error).message).toContain(`did you mean \`${suggestion}\``);
}

describe('strict options: a misspelt option fails at startup with a coded error', () => {
  const stepUp = createStepUp(base);

  test.each([
    ['createStepUp', () => createStepUp({ ...base, recordTTLSeconds: 60 } as never), 'recordTTLSeconds', 'recordTtlSeconds'],
    ['createStepUp limits', () => createStepUp({ ...base, limits: { passwordFailure: { limit: 1, windowSeconds: 1 } } } as never), 'passwordFailure', 'passwordFailures'],
    ['createStepUp limits.sms', () => createStepUp({ ...base, limits: { sms: { allowedCountries: ['1'] } } } as never), 'allowedCountries', undefined],
    ['a limit window', () => createStepUp({ ...base, limits: { perIp: { limit: 1, window: 60 } } } as never), 'window', 'windowSeconds'],
    ['requireVerification', () => stepUp.requireVerification({ singleuse: true } as never), 'singleuse', 'singleUse'],
    ['requireVerification', () => stepUp.requireVerification({ maxage: 60 } as never), 'maxage', 'maxAge'],
    ['requireNewIdentifier', () => stepUp.requireNewIdentifier({ type: 'email', requireIdentiy: false } as never), 'requireIdentiy', 'requireIdentity'],
    ['MemoryStore', () => new MemoryStore({ maxRecord: 5 } as never), 'maxRecord', 'maxRecords'],
    ['RedisStore', () => new RedisStore({ client: new Redis({ lazyConnect: true }), prefx: 'a:' } as never), 'prefx', 'prefix'],
    ['redisCounters', () => redisCounters({ client: new Redis({ lazyConnect: true }), timeout: 5 } as never), 'timeout', 'timeoutMs'],
    ['jwtAuthenticator', () => jwtAuthenticator({ secret: JWT_SECRET, algorithms: ['HS256'], issuers: 'x' } as never), 'issuers', 'issuer'],
    ['oidcAuthenticator', () => oidcAuthenticator({ issuer: 'https://id.example', audience: 'api', jwks_uri: 'x' } as never), 'jwks_uri', 'jwksUri'],
    ['sendgridSender', () => sendgridSender({ apiKey: 'SG.x', from: 'a@example.com', timeout: 5 } as never), 'timeout', 'timeoutMs'],
    ['twilioSender', () => twilioSender({ accountSid: 'AC1', authToken: 't', from: '+14155550100', apiBaseURL: 'x' } as never), 'apiBaseURL', 'apiBaseUrl'],
    ['consoleSender', () => consoleSender({ writer: () => undefined } as never), 'writer', 'write'],
    ['senderByChannel', () => senderByChannel({ sms: consoleSender() } as never), 'sms', undefined],
  ])('%s', (_where, make, key, suggestion) => expectUnknown(make, key, suggestion));

  test('every configuration error has a documented code', () => {
    const codeOf = (make: () => unknown) => {
      try {
        make();
      } catch (error) {
        return (error as StepUpConfigError).code;
      }
      return undefined;
    };
    expect(codeOf(() => createStepUp({ ...base, authenticate: undefined } as never))).toBe('ERR_STEP_UP_MISSING_OPTION');
    expect(codeOf(() => createStepUp({ ...base, maxCodeAttempts: 0 }))).toBe('ERR_STEP_UP_INVALID_OPTION');
    for (const passwordConcurrency of [0, 1.5, -1, 2048, '2', Number.NaN]) {
      expect(codeOf(() => createStepUp({ ...base, passwordConcurrency: passwordConcurrency as number }))).toBe('ERR_STEP_UP_INVALID_OPTION');
    }
    expect(codeOf(() => createStepUp({ ...base, passwordConcurrency: 3 }))).toBeUndefined();
    // Lifetimes: at most 24 days (the Redis store keeps them in 32 bits of milliseconds).
    for (const name of ['recordTtlSeconds', 'codeTtlSeconds'] as const) {
      expect(codeOf(() => createStepUp({ ...base, [name]: 24 * 24 * 3600 + 1 }))).toBe('ERR_STEP_UP_INVALID_OPTION');
      expect(codeOf(() => createStepUp({ ...base, [name]: 24 * 24 * 3600 }))).toBeUndefined();
    }
    expect(codeOf(() => createStepUp({ ...base, secret: 'short' }))).toBe('ERR_STEP_UP_WEAK_SECRET');
    expect(codeOf(() => createStepUp({ ...base, secret: undefined, store: new RedisStore({ client: new Redis({ lazyConnect: true }) }) }))).toBe(
      'ERR_STEP_UP_SECRET_REQUIRED',
    );
    const custom = { create: jest.fn(), get: jest.fn(), checkForGuard: jest.fn(), checkCode: jest.fn(), redeem: jest.fn(), revokeAll: jest.fn(), ping: jest.fn(),
      putChallenge: jest.fn(), readChallenge: jest.fn(), deleteChallenge: jest.fn(), useTotpStep: jest.fn() };
    expect(codeOf(() => createStepUp({ ...base, store: custom }))).toBe('ERR_STEP_UP_COUNTERS_REQUIRED');
    expect(codeOf(() => jwtAuthenticator({ secret: JWT_SECRET, algorithms: ['none'] as never }))).toBe('ERR_STEP_UP_UNSAFE_ALGORITHM');
    expect(codeOf(() => stepUp.requireVerification({ methods: ['Fax!'] as never }))).toBe('ERR_STEP_UP_INVALID_OPTION');
  });
});

describe('warnings through onWarning', () => {
  const collect = () => {
    const warnings: StepUpWarning[] = [];
    return { warnings, onWarning: (warning: StepUpWarning) => void warnings.push(warning) };
  };

  test('no secret with the memory store: WARN_STEP_UP_RANDOM_SECRET', () => {
    const { warnings, onWarning } = collect();
    createStepUp({ ...base, secret: undefined, onWarning });
    expect(warnings.map((w) => w.code)).toEqual(['WARN_STEP_UP_RANDOM_SECRET']);
  });

  test('by default each code is printed once with console.warn', () => {
    const warn = jest.spyOn(console, 'warn').mockImplementation(() => undefined);
    try {
      const { onWarning: _drop, ...withoutListener } = base;
      createStepUp({ ...withoutListener, sender: consoleSender({ write: () => undefined }) });
      createStepUp({ ...withoutListener, secret: undefined });
      expect(warn).toHaveBeenCalledTimes(2);
      expect(String(warn.mock.calls[0]?.[0])).toMatch(/^\[express-step-up\] WARN_STEP_UP_CONSOLE_SENDER: /);
      expect(String(warn.mock.calls[1]?.[0])).toMatch(/^\[express-step-up\] WARN_STEP_UP_RANDOM_SECRET: /);
    } finally {
      warn.mockRestore();
    }
  });

  /** An app with the router and its per-IP limit, and what it warned. */
  async function proxied(trustProxy: unknown) {
    const { warnings, onWarning } = collect();
    const h = await harness('memory', { onWarning, limits: { perIp: { limit: 1000, windowSeconds: 60 } } });
    const app = express();
    if (trustProxy !== undefined) app.set('trust proxy', trustProxy);
    app.use(h.app);
    return { app, warnings, close: h.close };
  }

  test('X-Forwarded-For while trust proxy is off: warned once, coded', async () => {
    const { app, warnings, close } = await proxied(undefined);
    for (let i = 0; i < 3; i += 1) {
      await request(app).post('/v/password/verify').set('Authorization', bearer('usr_alice')).set('X-Forwarded-For', `203.0.113.${i}`).send({ password: 'x' });
    }
    expect(warnings.map((w) => w.code)).toEqual(['WARN_STEP_UP_XFF_WITHOUT_TRUST_PROXY']);
    await close();
  });

  test('trust proxy true: warned once, coded (any client can pick its IP)', async () => {
    const { app, warnings, close } = await proxied(true);
    await request(app).post('/v/password/verify').set('Authorization', bearer('usr_alice')).send({ password: 'x' });
    await request(app).post('/v/password/verify').set('Authorization', bearer('usr_alice')).send({ password: 'x' });
    expect(warnings.map((w) => w.code)).toEqual(['WARN_STEP_UP_PERMISSIVE_TRUST_PROXY']);
    await close();
  });

  test('trust proxy set to a hop count, with X-Forwarded-For: no warning', async () => {
    const { app, warnings, close } = await proxied(1);
    await request(app).post('/v/password/verify').set('Authorization', bearer('usr_alice')).set('X-Forwarded-For', '203.0.113.9').send({ password: 'x' });
    expect(warnings).toEqual([]);
    await close();
  });
});
