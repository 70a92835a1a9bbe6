import http from 'node:http';
import { performance } from 'node:perf_hooks';
import { answerJobs, isBenchChild, JobChild } from './child';
import { percentile, round } from './stats';

/**
 * An HTTP load generator in its own process (so it does not share the server's
 * event loop): `count` requests, at most `concurrency` in flight, over keep-alive
 * sockets of node's http Agent.
 */
export interface LoadJob {
  readonly port: number;
  readonly method: 'GET' | 'POST';
  readonly path: string;
  readonly headers: Readonly<Record<string, string>>;
  /** Header that carries a record id, and the ids: one per request, or one id for all. */
  readonly idHeader: string;
  readonly ids: readonly string[] | string;
  readonly count: number;
  readonly concurrency: number;
  /** A JSON body per request (POST), when the route takes one. */
  readonly bodies?: readonly string[];
  /** A JSON body sent with every request (POST), when `bodies` is not given. */
  readonly body?: string;
  /** After a 503 with Retry-After, that worker waits as long before its next request (a well-behaved client). */
  readonly honorRetryAfter?: boolean;
}

export interface LoadResult {
  readonly count: number;
  readonly elapsedMs: number;
  readonly requestsPerSecond: number;
  readonly p50Ms: number;
  readonly p99Ms: number;
  readonly maxMs: number;
  /** Responses by HTTP status ("error" for a failed request). */
  readonly statuses: Readonly<Record<string, number>>;
}

/** The parent's handle on the load-generator process. */
export class LoadClient extends JobChild<LoadJob, LoadResult> {
  static start(): LoadClient {
    return new LoadClient(__filename, 'load generator');
  }

  /**
   * Ends the running job early: no new request is sent and Retry-After waits are cut short; the
   * requests in flight finish, and run() resolves with the requests sent so far.
   */
  stop(): void {
    this.send({ stop: true });
  }
}

function request(agent: http.Agent, job: LoadJob, id: string, body = ''): Promise<{ status: number; retryAfterMs: number }> {
  return new Promise((resolve, reject) => {
    const req = http.request(
      {
        host: '127.0.0.1',
        port: job.port,
        method: job.method,
        path: job.path,
        agent,
        headers: {
          ...job.headers,
          [job.idHeader]: id,
          'content-length': String(Buffer.byteLength(body)),
          ...(body !== '' ? { 'content-type': 'application/json' } : {}),
        },
      },
      (res) => {
        res.resume();
        const retryAfter = Number(res.headers['retry-after']);
        res.once('end', () => resolve({ status: res.statusCode ?? 0, retryAfterMs: Number.isFinite(retryAfter) ? retryAfter * 1000 : 0 }));
        res.once('error', reject);
      },
    );
    req.once('error', reject);
    req.end(body);
  });
}

/** Ends the running job (a stop message, LoadClient.stop). */
let stopRunningJob: (() => void) | undefined;

async function runJob(job: LoadJob): Promise<LoadResult> {
  if (typeof job.ids !== 'string' && job.ids.length < job.count) throw new Error('fewer ids than requests');
  const agent = new http.Agent({ keepAlive: true, maxSockets: job.concurrency });
  const latencies = new Float64Array(job.count);
  const statuses: Record<string, number> = {};
  let stopped = false;
  const stopSignal = new Promise<void>((resolve) => {
    stopRunningJob = () => {
      stopped = true;
      resolve();
    };
  });
  let next = 0;
  let sent = 0;
  const worker = async () => {
    for (let i = next++; i < job.count && !stopped; i = next++) {
      sent += 1;
      const id = typeof job.ids === 'string' ? job.ids : (job.ids[i] as string);
      const started = performance.now();
      let status: string;
      let waitMs = 0;
      try {
        const answer = await request(agent, job, id, job.bodies?.[i] ?? job.body ?? '');
        status = String(answer.status);
        if (job.honorRetryAfter === true && answer.status === 503) waitMs = answer.retryAfterMs;
      } catch {
        status = 'error';
      }
      latencies[i] = performance.now() - started;
      statuses[status] = (statuses[status] ?? 0) + 1;
      if (waitMs > 0) {
        let timer: NodeJS.Timeout | undefined;
        await Promise.race([new Promise((resolve) => (timer = setTimeout(resolve, waitMs))), stopSignal]);
        clearTimeout(timer);
      }
    }
  };
  const started = performance.now();
  await Promise.all(Array.from({ length: job.concurrency }, worker));
  const elapsedMs = performance.now() - started;
  agent.destroy();
  stopRunningJob = undefined;
  // A stopped job sent fewer than `count` requests: the figures are those of the ones sent.
  // (indices are taken in order and checked at once, so those sent are 0 … sent − 1)
  const count = sent;
  const latenciesSent = latencies.subarray(0, count);
  return {
    count,
    elapsedMs: round(elapsedMs, 1),
    requestsPerSecond: round(count / (elapsedMs / 1000), 0),
    p50Ms: round(percentile(latenciesSent, 50), 3),
    p99Ms: round(percentile(latenciesSent, 99), 3),
    maxMs: round(percentile(latenciesSent, 100), 3),
    statuses,
  };
}

if (isBenchChild()) {
  answerJobs(runJob, (message) => {
    if ('stop' in message) stopRunningJob?.();
  });
}
