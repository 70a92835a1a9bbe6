import { performance } from 'node:perf_hooks';
import autocannon from 'autocannon';
import { answerJobs, isBenchChild, JobChild } from '../child';
import type { LoadResult } from '../load-client';
import { percentile, round } from '../stats';
import type { Target } from './protocol';
import { requestsWithIds, staticRequests } from './requests';

/**
 * The load generator of the side-by-side bench: autocannon in its own Node process. autocannon
 * writes each request from a buffer built once (a single-use row's, with its own id, just before it
 * is sent: about 4 µs each) and parses answers with a light parser: against the
 * floor it spent about 40% less CPU per request than node's http client (bench/load-client.ts),
 * 36–58 µs vs 54–96 µs, and on two shared cores that CPU is taken from the server under test.
 * Its CPU is measured and reported with every row.
 */
export interface LoadJob {
  readonly target: Target;
  /** Requests in all (exactly: autocannon's `amount`). */
  readonly count: number;
  /** Connections kept open, one request in flight on each (no pipelining). */
  readonly connections: number;
  /** Seconds before a request counts as an error. Default 10 (a server under valgrind needs more). */
  readonly timeoutSeconds?: number;
}

export interface SideLoadResult extends LoadResult {
  /** CPU time of the load generator during the run, as a share of one core (1 = one core busy). */
  readonly loadCpu: number;
  /** Connection errors and timeouts (autocannon's `errors`). */
  readonly errors: number;
}

/** The parent's handle on the load-generator process. */
export class AutocannonLoad extends JobChild<LoadJob, SideLoadResult> {
  static start(): AutocannonLoad {
    return new AutocannonLoad(__filename, 'load generator');
  }
}

async function runJob(job: LoadJob): Promise<SideLoadResult> {
  const { target, count, connections } = job;
  if (typeof target.ids !== 'string' && target.ids.length < count) throw new Error(`${target.ids.length} ids for ${count} requests`);
  const latencies = new Float64Array(count);
  const statuses: Record<string, number> = {};
  let answered = 0;
  // One id for every request: a connection's request is built once. One id per request: each
  // connection gets its own consecutive slice of ids, as long as its share of `count` (autocannon
  // gives connection i floor(count / connections) requests, plus one for the first count % connections),
  // and builds each request as it sends it (requestsWithIds): no id is sent twice.
  let nextId = 0;
  const setupClient = (client: autocannon.Client) => {
    const { ids } = target;
    if (typeof ids === 'string') return void client.setRequests(staticRequests({ ...target, ids }));
    const share = (client as unknown as { opts: { responseMax: number } }).opts.responseMax;
    client.setRequests(requestsWithIds(target, ids.slice(nextId, nextId + share)));
    nextId += share;
  };

  // autocannon reports its end only at its next one-second tick: the run is timed here instead, from
  // the moment the first request was sent (its answer's arrival less its latency) to the last answer,
  // and this resolves as soon as every answer is in (each connection closes after its last answer).
  let cpuBefore = process.cpuUsage();
  let firstSent = Number.POSITIVE_INFINITY;
  let lastAnswer = 0;
  let errors = 0;
  await new Promise<void>((resolve, reject) => {
    const instance = autocannon({ url: `http://127.0.0.1:${target.port}`, connections, amount: count, setupClient, timeout: job.timeoutSeconds ?? 10 }, (error) =>
      error ? reject(error instanceof Error ? error : new Error(String(error))) : resolve(),
    );
    cpuBefore = process.cpuUsage(); // after the connections' requests were built
    instance.on('response', (_client, statusCode, _bytes, responseTime) => {
      const now = performance.now();
      firstSent = Math.min(firstSent, now - responseTime);
      lastAnswer = now;
      if (answered < count) latencies[answered] = responseTime;
      answered += 1;
      statuses[statusCode] = (statuses[statusCode] ?? 0) + 1;
      if (answered === count) resolve();
    });
    instance.on('reqError', () => {
      errors += 1;
    });
  });
  const elapsedMs = lastAnswer - firstSent;
  const cpu = process.cpuUsage(cpuBefore);
  if (errors > 0) statuses.error = errors;
  const measured = latencies.subarray(0, Math.min(answered, count));
  return {
    count: answered,
    elapsedMs: round(elapsedMs, 1),
    requestsPerSecond: round(answered / (elapsedMs / 1000), 0),
    p50Ms: round(percentile(measured, 50), 3),
    p99Ms: round(percentile(measured, 99), 3),
    maxMs: round(percentile(measured, 100), 3),
    statuses,
    loadCpu: round((cpu.user + cpu.system) / 1000 / elapsedMs, 3),
    errors,
  };
}

if (isBenchChild()) answerJobs(runJob);
