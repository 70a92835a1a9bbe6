import { connect, createServer, type Socket } from 'node:net';
import { sleep } from './records';

/**
 * No command for this long after the last one: the app waits for a reply. Generous, for a loaded
 * machine: a pause of the app's process between two commands it sends without waiting for a reply
 * (a garbage collection in a busy test worker) longer than this would count as one more round trip.
 * 60 ms was once too short in a CI run (3 counted for 2). Longer cannot merge two real round trips:
 * the app cannot send what depends on a reply before the replies are let go.
 */
const QUIET_MS = 300;

/** What one request cost in Redis round trips, counted by a SteppingRedisProxy. */
export interface SteppedRequest<T> {
  readonly result: T;
  /** Round trips the answer waited for: batches of commands sent before any of their replies came back. */
  readonly roundTrips: number;
  /** Batches sent with or after the answer, which it did not wait for (e.g. a failure budget's slot given back). */
  readonly afterAnswer: number;
}

/**
 * A TCP proxy in front of a Redis server that passes commands at once but holds every reply until
 * it lets them all go, so that the round trips of one request can be counted exactly, however
 * fast or slow the machine: commands reach the server, the app gets no reply, so all it can send
 * meanwhile is what does not depend on one (one round trip). When no command has come for
 * QUIET_MS, the replies are let go, and the app's next commands are the next round trip. A request
 * whose answer arrives with nothing held is over; batches the proxy held when the answer was
 * already there were not waited for.
 */
export class SteppingRedisProxy {
  readonly #server = createServer((client) => this.#accept(client));
  readonly #sockets = new Set<Socket>();
  /** Replies held back, with the connection each goes to. */
  #held: Array<{ to: Socket; chunk: Buffer }> = [];
  #commandsSinceRelease = 0;
  #lastCommandAt = 0;
  #stepping = false;

  private constructor(readonly redis: URL) {}

  /** A proxy to the Redis at `redisUrl` (redis://host:port). */
  static async start(redisUrl: string): Promise<SteppingRedisProxy> {
    const proxy = new SteppingRedisProxy(new URL(redisUrl));
    await new Promise<void>((resolve) => proxy.#server.listen(0, '127.0.0.1', resolve));
    return proxy;
  }

  get url(): string {
    return `redis://127.0.0.1:${(this.#server.address() as { port: number }).port}`;
  }

  /**
   * Runs `request` with replies held, and counts its round trips. Outside of this, replies pass at
   * once (connecting, warming up).
   */
  async count<T>(request: () => PromiseLike<T>): Promise<SteppedRequest<T>> {
    this.#stepping = true;
    this.#commandsSinceRelease = 0;
    this.#lastCommandAt = Date.now();
    let answered = false;
    const pending = Promise.resolve(request()).finally(() => {
      answered = true;
    });
    let roundTrips = 0;
    let afterAnswer = 0;
    try {
      for (;;) {
        while (Date.now() - this.#lastCommandAt < QUIET_MS) await sleep(5);
        if (this.#commandsSinceRelease > 0) {
          if (answered) afterAnswer += 1;
          else roundTrips += 1;
          this.#release();
          continue;
        }
        if (answered) break;
        // A reply that came after its round trip's replies were let go (a slow server): it is part of that round trip.
        this.#release();
        await sleep(5);
      }
    } finally {
      this.#stepping = false;
      this.#release();
    }
    return { result: await pending, roundTrips, afterAnswer };
  }

  async close(): Promise<void> {
    for (const socket of this.#sockets) socket.destroy();
    await new Promise<void>((resolve) => this.#server.close(() => resolve()));
  }

  #accept(client: Socket): void {
    const upstream = connect(Number(this.redis.port || 6379), this.redis.hostname);
    this.#sockets.add(client).add(upstream);
    client.on('data', (chunk) => {
      this.#commandsSinceRelease += 1;
      this.#lastCommandAt = Date.now();
      upstream.write(chunk);
    });
    upstream.on('data', (chunk) => {
      if (this.#stepping) this.#held.push({ to: client, chunk });
      else client.write(chunk);
    });
    const end = () => {
      client.destroy();
      upstream.destroy();
    };
    client.on('close', end).on('error', end);
    upstream.on('close', end).on('error', end);
  }

  #release(): void {
    const held = this.#held;
    this.#held = [];
    this.#commandsSinceRelease = 0;
    for (const { to, chunk } of held) if (to.writable) to.write(chunk);
  }
}
