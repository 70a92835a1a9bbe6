/**
 * The part of an ioredis client that the Redis stores (records and counters) call, as a structural type.
 *
 * The stores take the app's own client, so they must not import ioredis's
 * classes: `Redis | Cluster` from the library's copy of ioredis would refuse the
 * app's client as soon as the app has another major (ioredis 6's `Redis` is
 * generic, `Redis<"legacy">`, and not assignable to ioredis 5's `Redis`), and
 * ioredis would have to be a dependency even for apps on the MemoryStore.
 * ioredis 5 and 6 `Redis` and `Cluster` instances (default reply mapping)
 * satisfy this interface; the consumer tests compile the README's Redis
 * snippet against both majors.
 *
 * Only the methods the stores use are listed; keep it that way, so that any
 * client satisfying it is one the stores work with.
 */

/** An ioredis `Redis` or `Cluster` (ioredis 5 or 6), or anything with the same methods and replies. */
export interface RedisClient {
  /** ioredis's Lua command definition: EVALSHA, with EVAL as fallback on NOSCRIPT. */
  defineCommand(name: string, definition: { lua: string; numberOfKeys?: number; readOnly?: boolean }): void;
  ping(): Promise<string>;
  del(key: string): Promise<number>;
}
