import { MemoryStore, RedisStore, type VerificationStore } from '../lib/index';
import { connectClient } from './redis-server';

export type StoreKind = 'memory' | 'redis';

/** A store of the given kind, with a prefix of its own on the shared private Redis. */
export async function openStore(kind: StoreKind, redisUrl: string, prefix: string): Promise<{ store: VerificationStore; close(): Promise<void> }> {
  if (kind === 'memory') return { store: new MemoryStore({ maxRecords: 1_000_000 }), close: async () => undefined };
  const client = await connectClient(redisUrl);
  return { store: new RedisStore({ client, prefix }), close: async () => void (await client.quit()) };
}
