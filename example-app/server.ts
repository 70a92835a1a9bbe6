import Redis from 'ioredis';
import { RedisStore } from '../lib/index';
import { createExampleApp } from './app';
import { answerClientErrorsAsJson } from './client-errors';
import { readConfig } from './config';
import { REDIS_OPTIONS } from './redis-options';

async function main(): Promise<void> {
  const config = readConfig(process.env);
  let store: RedisStore | undefined;
  let redis: Redis | undefined;
  if (config.redisUrl) {
    redis = new Redis(config.redisUrl, { ...REDIS_OPTIONS, lazyConnect: true });
    // Requests fail closed (503) while Redis is away; log the outage once per error kind, not per retry.
    let lastError = '';
    redis.on('error', (error: NodeJS.ErrnoException) => {
      const kind = error.code ?? error.name;
      if (kind !== lastError) console.error(JSON.stringify({ level: 'error', msg: 'redis unavailable', code: kind }));
      lastError = kind;
    });
    redis.on('ready', () => {
      lastError = '';
    });
    await redis.connect();
    store = new RedisStore({ client: redis });
  }
  const { app, flushLog } = await createExampleApp({ config, ...(store ? { store } : {}) });
  const server = app.listen(config.port, () => {
    console.log(`example app on http://localhost:${config.port} (store: ${store ? 'redis' : 'memory'})`);
  });
  answerClientErrorsAsJson(server);
  const stop = () => {
    server.close();
    redis?.disconnect();
    flushLog();
  };
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
}

main().catch((error: unknown) => {
  console.error(`example app failed to start: ${error instanceof Error ? error.message : String(error)}`);
  process.exit(1);
});
