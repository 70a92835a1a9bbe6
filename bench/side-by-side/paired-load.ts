import autocannon from 'autocannon';
import { answerJobs, isBenchChild, JobChild } from '../child';
import { percentile, round } from '../stats';
import type { Target } from './protocol';
import { requestsWithIds, staticRequests } from './requests';

/**
 * The load generator of the paired phase (bench/side-by-side/paired.ts): autocannon in its own
 * process, keeping `connections` requests in flight to one server from `startAt` until the end of
 * a window given in wall-clock time (Date.now(), the same clock in every process of the machine),
 * and counting the answers that arrive inside the window. Two of these, started together on two
 * servers, count their answers over the same seconds.
 */
export interface PairedLoadJob {
  readonly target: Target;
  readonly connections: number;
  /** Date.now() at which to open the connections and start sending. */
  readonly startAt: number;
  /** The window the answers are counted in, [from, to), Date.now() values after startAt. */
  readonly windowFrom: number;
  readonly windowTo: number;
  /**
   * For a target with one id per request (single use): the ids each connection has, in order
   * (target.ids holds connections × this many). A connection that used them all before the
   * window ended fails the job: sending an id again would measure refusals.
   */
  readonly idsPerConnection: number;
  /**
   * Build every request just before it is sent (requestsWithIds) instead of once per connection:
   * required for a target with one id per request, and used for both sides of its pair, so the two
   * load generators do the same work per request.
   */
  readonly buildEachRequest: boolean;
}

export interface PairedLoadResult {
  /** How long after `startAt` the load began: autocannon started (the two jobs of a pair must start together). */
  readonly lateMs: number;
  /** How long after `startAt` the first answer came: a load generator slow to send its first requests starts late too. */
  readonly firstAnswerMs: number;
  /** 200 answers that arrived inside the window. */
  readonly answered: number;
  /** 200 answers of the whole job (for the server's CPU per request over the job). */
  readonly answeredInJob: number;
  readonly p50Ms: number;
  readonly p99Ms: number;
  /** Every answer of the job, in or out of the window, by status ("error" for a failed request). */
  readonly statuses: Readonly<Record<string, number>>;
}

/** The parent's handle on a paired-phase load generator. */
export class PairedLoad extends JobChild<PairedLoadJob, PairedLoadResult> {
  static start(): PairedLoad {
    return new PairedLoad(__filename, 'paired load generator');
  }
}

/** Enough room in the latency buffer for a server answering 200,000 requests a second. */
const MAX_ANSWERS_PER_SECOND = 200_000;

async function runJob(job: PairedLoadJob): Promise<PairedLoadResult> {
  const { target, connections, windowFrom, windowTo } = job;
  const perConnection = typeof target.ids === 'string' ? null : job.idsPerConnection;
  if (perConnection !== null && !job.buildEachRequest) throw new Error('a target with one id per request needs buildEachRequest');
  if (perConnection !== null && target.ids.length < connections * perConnection) throw new Error(`${target.ids.length} ids for ${connections} connections`);
  const latencies = new Float64Array(Math.ceil(((windowTo - windowFrom) / 1000) * MAX_ANSWERS_PER_SECOND));
  const statuses: Record<string, number> = {};
  const sentBy = new Map<autocannon.Client, number>();
  let answered = 0;
  let exhausted = false;
  let firstAnswerAt: number | undefined;
  let nextId = 0;
  const setupClient = (client: autocannon.Client) => {
    const { ids } = target;
    if (typeof ids === 'string') return void client.setRequests(job.buildEachRequest ? requestsWithIds(target, ids) : staticRequests({ ...target, ids }));
    client.setRequests(requestsWithIds(target, ids.slice(nextId, nextId + job.idsPerConnection)));
    nextId += job.idsPerConnection;
  };
  await new Promise((resolve) => setTimeout(resolve, Math.max(0, job.startAt - Date.now())));
  const lateMs = Date.now() - job.startAt;
  // Past the window by a little, so the window's last answers are not cut by closing connections
  // (autocannon ends at its first one-second tick after that: the load goes on a little longer).
  // (At least a tenth of a second: a job that started too late is refused by the parent, from lateMs.)
  const durationSeconds = Math.max(0.1, (windowTo - Date.now() + 250) / 1000);
  await new Promise<void>((resolve, reject) => {
    const instance = autocannon(
      {
        url: `http://127.0.0.1:${target.port}`,
        connections,
        duration: durationSeconds,
        // A single-use connection stops at its last id instead of starting its list again.
        ...(perConnection !== null ? { maxConnectionRequests: perConnection } : {}),
        setupClient,
      },
      (error) => (error ? reject(error instanceof Error ? error : new Error(String(error))) : resolve()),
    );
    instance.on('response', (client, statusCode, _bytes, responseTime) => {
      const now = Date.now();
      firstAnswerAt ??= now;
      statuses[statusCode] = (statuses[statusCode] ?? 0) + 1;
      if (perConnection !== null) {
        const sent = (sentBy.get(client) ?? 0) + 1;
        sentBy.set(client, sent);
        if (sent === perConnection && now < windowTo) exhausted = true;
      }
      if (now >= windowFrom && now < windowTo && statusCode === 200 && answered < latencies.length) {
        latencies[answered] = responseTime;
        answered += 1;
      }
    });
    instance.on('reqError', () => {
      statuses.error = (statuses.error ?? 0) + 1;
    });
  });
  if (exhausted) throw new Error(`a connection used its ${perConnection} ids before the window ended: the server needs more records for the paired phase`);
  const measured = latencies.subarray(0, answered);
  return { lateMs, firstAnswerMs: (firstAnswerAt ?? Date.now()) - job.startAt, answered, answeredInJob: statuses['200'] ?? 0, p50Ms: round(percentile(measured, 50), 3), p99Ms: round(percentile(measured, 99), 3), statuses };
}

if (isBenchChild()) answerJobs(runJob);
