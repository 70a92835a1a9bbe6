import http from 'node:http';
import type { ChildProcess } from 'node:child_process';
import { exitOf, forkBenchModule, isBenchChild } from './child';
import { GUARD_PATHS } from './app';

/**
 * Steady load on the two guarded routes of bench/app.ts, in its own process, until told to stop:
 * a fixed number of requests in flight on GET /reusable (one record id for all) and on
 * POST /single-use (a fresh record id per request, from a pool the parent refills; after a 503 or a
 * failed request the same id is sent again, as a client retries with the record it holds). Unlike
 * bench/load-client.ts, which runs a fixed count and reports aggregates, it keeps every answer
 * with its start and end time, so the parent can line answers up with the faults it injects.
 */

export type Route = 'reusable' | 'singleUse';

export interface SteadyLoadConfig {
  readonly port: number;
  /** The bearer token of every request. */
  readonly token: string;
  /** Requests in flight at all times, per route. */
  readonly concurrency: Readonly<Record<Route, number>>;
}

/** Every answer of one run, column by column (index i is one request). */
export interface Samples {
  readonly route: Route[];
  /** Wall-clock milliseconds (performance.timeOrigin + performance.now()) when the request was sent and answered. */
  readonly startMs: number[];
  readonly endMs: number[];
  /** HTTP status, 0 when the request failed (connection refused or reset). */
  readonly status: number[];
  /** The `code` of a JSON error body (null for 2xx, or a body without one). */
  readonly code: (string | null)[];
  /** The record id sent. */
  readonly id: string[];
  /** True when the single-use pool was empty and an id already used was sent again. */
  readonly stale: boolean[];
  /** True when the id was sent again after a 503 or a failed request (a client's retry). */
  readonly retry: boolean[];
}

type ToChild =
  | { readonly type: 'start'; readonly config: SteadyLoadConfig; readonly reusableId: string; readonly singleUseIds: readonly string[] }
  | { readonly type: 'reusable'; readonly id: string }
  | { readonly type: 'singleUse'; readonly ids: readonly string[]; readonly reset: boolean }
  | { readonly type: 'stop' };
type FromChild = { readonly type: 'need' } | { readonly type: 'samples'; readonly samples: Samples } | { readonly type: 'error'; readonly error: string };

/** Fewer fresh single-use ids than this left: ask the parent for more. */
export const POOL_LOW_WATER = 4_000;

export const wallClockMs = (): number => performance.timeOrigin + performance.now();

/** The parent's handle on the steady-load process. */
export class SteadyLoad {
  readonly #child: ChildProcess;
  readonly #exited: Promise<void>;

  private constructor(child: ChildProcess, onNeed: () => void) {
    this.#child = child;
    this.#exited = exitOf(child);
    this.#exited.catch(() => undefined); // reported by stop()
    child.on('message', (message: FromChild) => {
      if (message.type === 'need') onNeed();
    });
  }

  /** Starts the load; `onNeed` is called when the single-use pool runs low (answer with addSingleUse). */
  static start(config: SteadyLoadConfig, reusableId: string, singleUseIds: readonly string[], onNeed: () => void): SteadyLoad {
    const load = new SteadyLoad(forkBenchModule(__filename), onNeed);
    load.#send({ type: 'start', config, reusableId, singleUseIds });
    return load;
  }

  setReusable(id: string): void {
    this.#send({ type: 'reusable', id });
  }

  /** Adds fresh single-use ids; with `reset`, the ids left in the pool are dropped first. */
  addSingleUse(ids: readonly string[], reset = false): void {
    this.#send({ type: 'singleUse', ids, reset });
  }

  /** Stops sending, waits for the requests in flight, and returns every answer. */
  async stop(): Promise<Samples> {
    const samples = await new Promise<Samples>((resolve, reject) => {
      const onExit = () => reject(new Error('the steady-load process exited without its samples'));
      this.#child.once('exit', onExit);
      const onMessage = (message: FromChild) => {
        if (message.type === 'need') return;
        this.#child.removeListener('exit', onExit);
        this.#child.removeListener('message', onMessage);
        if (message.type === 'error') reject(new Error(`steady load: ${message.error}`));
        else resolve(message.samples);
      };
      this.#child.on('message', onMessage);
      this.#send({ type: 'stop' });
    });
    if (this.#child.connected) this.#child.disconnect();
    await this.#exited;
    return samples;
  }

  #send(message: ToChild): void {
    if (this.#child.connected) this.#child.send(message);
  }
}

interface Answer {
  readonly status: number;
  readonly code: string | null;
}

function send(agent: http.Agent, config: SteadyLoadConfig, route: Route, id: string): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = http.request(
      {
        host: '127.0.0.1',
        port: config.port,
        method: route === 'reusable' ? 'GET' : 'POST',
        path: route === 'reusable' ? GUARD_PATHS.reusable : GUARD_PATHS.singleUse,
        agent,
        headers: { authorization: `Bearer ${config.token}`, 'verification-id': id, 'content-length': '0' },
      },
      (res) => {
        const status = res.statusCode ?? 0;
        if (status < 300) {
          res.resume();
          res.once('end', () => resolve({ status, code: null }));
        } else {
          // Error bodies are small JSON ({ code, message, ... }): read them to tell 503 verification.unavailable from any other 5xx.
          const chunks: Buffer[] = [];
          res.on('data', (chunk: Buffer) => chunks.push(chunk));
          res.once('end', () => {
            let code: string | null = null;
            try {
              const body = JSON.parse(Buffer.concat(chunks).toString('utf8')) as { code?: unknown };
              code = typeof body.code === 'string' ? body.code : null;
            } catch {
              code = null;
            }
            resolve({ status, code });
          });
        }
        res.once('error', reject);
      },
    );
    req.once('error', reject);
    req.end();
  });
}

function runChild(): void {
  const samples: Samples = { route: [], startMs: [], endMs: [], status: [], code: [], id: [], stale: [], retry: [] };
  let config: SteadyLoadConfig | undefined;
  let reusableId = '';
  let pool: string[] = [];
  let next = 0;
  let lastSingleUse = '';
  let asked = false;
  let running = false;
  const workers: Promise<void>[] = [];

  const nextSingleUse = (): { id: string; stale: boolean } => {
    if (pool.length - next < POOL_LOW_WATER && !asked) {
      asked = true;
      process.send?.({ type: 'need' } satisfies FromChild);
    }
    if (next < pool.length) {
      lastSingleUse = pool[next] as string;
      next += 1;
      return { id: lastSingleUse, stale: false };
    }
    return { id: lastSingleUse, stale: true };
  };

  const worker = async (route: Route, agent: http.Agent) => {
    let retryId: string | null = null;
    while (running && config !== undefined) {
      const retry: boolean = route === 'singleUse' && retryId !== null;
      const { id, stale }: { id: string; stale: boolean } =
        route === 'reusable' ? { id: reusableId, stale: false } : retryId !== null ? { id: retryId, stale: false } : nextSingleUse();
      const startMs = wallClockMs();
      let answer: Answer;
      try {
        answer = await send(agent, config, route, id);
      } catch {
        answer = { status: 0, code: null };
      }
      samples.route.push(route);
      samples.startMs.push(startMs);
      samples.endMs.push(wallClockMs());
      samples.status.push(answer.status);
      samples.code.push(answer.code);
      samples.id.push(id);
      samples.stale.push(stale);
      samples.retry.push(retry);
      retryId = answer.status === 0 || answer.status === 503 ? id : null;
      // A refused connection answers at once: do not spin on it.
      if (answer.status === 0) await new Promise((resolve) => setTimeout(resolve, 10));
    }
  };

  process.on('message', (message: ToChild) => {
    switch (message.type) {
      case 'start': {
        config = message.config;
        reusableId = message.reusableId;
        pool = [...message.singleUseIds];
        running = true;
        for (const route of ['reusable', 'singleUse'] as const) {
          const concurrency = message.config.concurrency[route];
          const agent = new http.Agent({ keepAlive: true, maxSockets: concurrency });
          for (let i = 0; i < concurrency; i += 1) workers.push(worker(route, agent));
        }
        break;
      }
      case 'reusable':
        reusableId = message.id;
        break;
      case 'singleUse':
        if (message.reset) {
          pool = [];
          next = 0;
        }
        pool.push(...message.ids);
        // Drop what was used, so the pool does not grow for the whole run.
        if (next > 50_000) {
          pool = pool.slice(next);
          next = 0;
        }
        asked = false;
        break;
      case 'stop':
        running = false;
        Promise.all(workers).then(
          () => process.send?.({ type: 'samples', samples } satisfies FromChild),
          (error: unknown) => process.send?.({ type: 'error', error: String(error) } satisfies FromChild),
        );
        break;
    }
  });
  process.once('disconnect', () => process.exit(0));
}

if (isBenchChild()) runChild();
