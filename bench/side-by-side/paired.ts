import { median, round } from '../stats';
import { PairedLoad, type PairedLoadJob, type PairedLoadResult } from './paired-load';
import { cpuSplit, pin } from './pinning';
import type { Target } from './protocol';
import type { PairReference, Row } from './rows';
import type { ServerChild } from './server-child';

/**
 * The paired phase of the side-by-side bench: a row and its reference under load at the same
 * time, each from its own autocannon process, both servers pinned to one CPU and everything else
 * (the load generators, redis-server, the bench) to the others.
 *
 * Why: measured one after the other, two servers' req/s compare the machine's state at two
 * moments as much as the servers. On this bench's 2-core machine the floor's rounds spread
 * 2,273–6,152 req/s in one run, and two servers running the same code came out 0.49–1.74× each
 * other round by round. Sharing one CPU in the same seconds, two busy servers get equal CPU time
 * from the scheduler, so the ratio of their answers is the inverse ratio of what a request costs
 * each (its own CPU, and its waits on the shared Redis), and whatever slows the machine slows both.
 * The floor's second server (A/A) measures what is left: 0.99–1.02× in the experiment that led here.
 * Each server's CPU time over its job is recorded too: its share of the CPU says whether the two
 * did get the same, and its CPU per request is measured in the same regime as the ratio (a server on
 * half a CPU, with more requests waiting per event-loop turn, batches more than one with a CPU of its own).
 */
export interface PairedSettings {
  readonly rounds: number;
  /** The window the answers are counted in, per pair and round. */
  readonly windowMs: number;
  /** From the first request to the window's start: connections open and both servers busy (and warm again after waiting their turn). */
  readonly leadMs: number;
  /** Connections per server (one request in flight on each). */
  readonly connections: number;
  /** Records a single-use server's connection has per run (it fails the run if it uses them all before the window ends). */
  readonly idsPerConnection: number;
}

/** A server the side-by-side bench started, as the paired phase uses it. */
export interface PairedServer {
  readonly row: Row;
  readonly server: ServerChild;
  /** Hands out the next `count` ids of a single-use row (each once), or the one id of the others. */
  readonly ids: (count: number) => Target['ids'];
}

export interface PairedRow {
  readonly name: string;
  readonly reference: PairReference;
  readonly referenceName: string;
  /** Median over the rounds of (this row's answers ÷ the reference's answers in the same window). */
  readonly ratio: number;
  readonly ratioRange: readonly [number, number];
  readonly roundRatios: readonly number[];
  /** Medians over the rounds, in the window (each server had about half of one CPU). */
  readonly requestsPerSecond: number;
  readonly referenceRequestsPerSecond: number;
  readonly p99Ms: number;
  readonly referenceP99Ms: number;
  /** Medians over the rounds of each server's CPU over its job (first request to last answer), in cores (0.5: half of the shared CPU). */
  readonly cpuShare: number;
  readonly referenceCpuShare: number;
  /** Medians over the rounds of each server's CPU time per 200 answer over its job, µs. */
  readonly cpuUsPerRequest: number;
  readonly referenceCpuUsPerRequest: number;
  /** Median over the rounds of (this row's p99 ÷ the reference's p99 in the same window), and their range. */
  readonly p99Ratio: number;
  readonly p99RatioRange: readonly [number, number];
  /** Each round's p99 (ms) of this row and of the reference, in round order. */
  readonly roundP99Ms: readonly (readonly [number, number])[];
}

export type PairedResult = { readonly settings: PairedSettings; readonly rows: readonly PairedRow[] } & (
  | { readonly cpus: { readonly servers: string; readonly rest: string } }
  | { readonly skipped: string }
);

export interface PairedOptions {
  readonly settings: PairedSettings;
  readonly servers: readonly PairedServer[];
  /** The server a row is measured against for a reference; undefined when there is none. */
  readonly referenceOf: (row: Row, reference: PairReference) => PairedServer | undefined;
  /** Processes besides the servers to keep off the servers' CPU (redis-server, an idle load generator). */
  readonly otherPids: readonly number[];
  readonly progress: (line: string) => void;
}

/** One server's side of a pair's run: what its load generator counted, and the server's CPU over the job (µs). */
interface Side extends PairedLoadResult {
  readonly cpuMicros: number;
  readonly jobMs: number;
}

interface Pair {
  readonly measured: PairedServer;
  readonly reference: PairedServer;
  readonly as: PairReference;
  readonly rounds: { readonly row: Side; readonly reference: Side }[];
}

/** Time for the two jobs' messages to reach their processes before the common start. */
const START_DELAY_MS = 200;
/**
 * How late a side's load may start, or its first answer come, after the common start (at most
 * half the lead): the first answers come 20–40 ms after it here, and a side that starts later
 * has the CPU to itself for a while.
 */
const MAX_LATE_MS = 250;

function expectAllOk(result: PairedLoadResult, row: Row, round: number, leadMs: number): void {
  const others = Object.entries(result.statuses).filter(([status]) => status !== '200');
  if (others.length > 0) throw new Error(`${row.name}, paired round ${round}: expected only 200s, got ${JSON.stringify(result.statuses)}`);
  if (result.answered === 0) throw new Error(`${row.name}, paired round ${round}: no answer in the window`);
  // A job that started late would have the server to itself for a while: the pair would not be fair.
  const allowed = Math.min(leadMs / 2, MAX_LATE_MS);
  if (result.lateMs > allowed) throw new Error(`${row.name}, paired round ${round}: its load started ${result.lateMs} ms late`);
  if (result.firstAnswerMs > allowed) throw new Error(`${row.name}, paired round ${round}: its first answer came ${result.firstAnswerMs} ms after the start`);
}

/** Runs `job` on `load` and reads the server's CPU time around it. */
async function side(load: PairedLoad, server: ServerChild, job: PairedLoadJob): Promise<Side> {
  const before = await server.cpuMicros();
  const result = await load.run(job);
  const endedAt = Date.now();
  return { ...result, cpuMicros: (await server.cpuMicros()) - before, jobMs: endedAt - job.startAt };
}

/** Sets every pid's CPUs back, each on its own (a server that exited makes taskset fail for it alone). */
function restore(pids: readonly number[], cpus: string): void {
  for (const pid of pids) {
    try {
      pin(pid, cpus);
    } catch {
      // gone: nothing to restore
    }
  }
}

export async function runPaired({ settings, servers, referenceOf, otherPids, progress }: PairedOptions): Promise<PairedResult> {
  const split = cpuSplit();
  if ('unavailable' in split) return { settings, rows: [], skipped: split.unavailable };
  const pairs: Pair[] = servers.flatMap((measured) =>
    (measured.row.pairedWith ?? []).map((as) => {
      const reference = referenceOf(measured.row, as);
      if (reference === undefined) throw new Error(`${measured.row.name}: no ${as} to pair it with`);
      return { measured, reference, as, rounds: [] };
    }),
  );
  const loads = [PairedLoad.start(), PairedLoad.start()] as const;
  try {
    for (const { server } of servers) pin(server.pid, split.servers);
    for (const pid of [...otherPids, process.pid, ...loads.map((load) => load.pid)]) pin(pid, split.rest);
    const job = (m: PairedServer, startAt: number, buildEachRequest: boolean): PairedLoadJob => ({
      target: { ...m.server.target, ids: m.ids(settings.connections * settings.idsPerConnection) },
      connections: settings.connections,
      startAt,
      windowFrom: startAt + settings.leadMs,
      windowTo: startAt + settings.leadMs + settings.windowMs,
      idsPerConnection: settings.idsPerConnection,
      buildEachRequest,
    });
    // Both load generators up, autocannon loaded: a short unmeasured run each, on a server with one id for every request.
    const warm = servers.find(({ server }) => typeof server.target.ids === 'string');
    if (warm !== undefined) {
      const now = Date.now();
      await Promise.all(loads.map((load) => load.run({ target: warm.server.target, connections: 5, startAt: now, windowFrom: now, windowTo: now + 300, idsPerConnection: 1, buildEachRequest: false })));
    }
    for (let r = 0; r < settings.rounds; r += 1) {
      progress(`paired round ${r + 1} of ${settings.rounds}: ${pairs.length} pairs on CPU ${split.servers}, load and Redis on CPU ${split.rest}`);
      for (let k = 0; k < pairs.length; k += 1) {
        const pair = pairs[(k + r) % pairs.length] as Pair;
        const startAt = Date.now() + START_DELAY_MS;
        // The load generators swap servers every round (an even number of rounds), in case one of them is slower.
        const [first, second] = r % 2 === 0 ? loads : ([loads[1], loads[0]] as const);
        // A single-use row's requests are built one by one; its reference's are then too (the same work for both load generators).
        const buildEachRequest = pair.measured.row.singleUse || pair.reference.row.singleUse;
        const [row, reference] = await Promise.all([
          side(first, pair.measured.server, job(pair.measured, startAt, buildEachRequest)),
          side(second, pair.reference.server, job(pair.reference, startAt, buildEachRequest)),
        ]);
        expectAllOk(row, pair.measured.row, r + 1, settings.leadMs);
        expectAllOk(reference, pair.reference.row, r + 1, settings.leadMs);
        pair.rounds.push({ row, reference });
      }
    }
  } finally {
    try {
      restore(
        servers.map(({ server }) => server.pid),
        split.all,
      );
      restore([...otherPids, process.pid], split.all);
    } finally {
      await Promise.all(loads.map((load) => load.close().catch(() => undefined)));
    }
  }
  const perSecond = (answered: number) => (answered / settings.windowMs) * 1000;
  const share = (x: Side) => x.cpuMicros / 1000 / x.jobMs;
  const perRequest = (x: Side) => x.cpuMicros / x.answeredInJob;
  const rows = pairs.map(({ measured, reference, as, rounds }): PairedRow => {
    const ratios = rounds.map((x) => x.row.answered / x.reference.answered);
    const p99Ratios = rounds.map((x) => x.row.p99Ms / x.reference.p99Ms);
    return {
      name: measured.row.name,
      reference: as,
      referenceName: reference.row.name,
      ratio: round(median(ratios), 3),
      ratioRange: [round(Math.min(...ratios), 3), round(Math.max(...ratios), 3)],
      roundRatios: ratios.map((x) => round(x, 3)),
      requestsPerSecond: round(median(rounds.map((x) => perSecond(x.row.answered))), 0),
      referenceRequestsPerSecond: round(median(rounds.map((x) => perSecond(x.reference.answered))), 0),
      cpuShare: round(median(rounds.map((x) => share(x.row))), 3),
      referenceCpuShare: round(median(rounds.map((x) => share(x.reference))), 3),
      cpuUsPerRequest: round(median(rounds.map((x) => perRequest(x.row))), 1),
      referenceCpuUsPerRequest: round(median(rounds.map((x) => perRequest(x.reference))), 1),
      p99Ms: round(median(rounds.map((x) => x.row.p99Ms)), 2),
      referenceP99Ms: round(median(rounds.map((x) => x.reference.p99Ms)), 2),
      p99Ratio: round(median(p99Ratios), 2),
      p99RatioRange: [round(Math.min(...p99Ratios), 2), round(Math.max(...p99Ratios), 2)],
      roundP99Ms: rounds.map((x) => [round(x.row.p99Ms, 1), round(x.reference.p99Ms, 1)] as const),
    };
  });
  return { settings, rows, cpus: { servers: split.servers, rest: split.rest } };
}
