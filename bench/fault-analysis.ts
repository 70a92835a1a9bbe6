import type { Samples } from './steady-load';
import { median, round } from './stats';

/** When a fault happened, as the bench saw it (wall-clock ms, the same clock as the samples). */
export interface FaultTimeline {
  /** The fault was injected (kill sent, command sent). */
  readonly injectedMs: number;
  /** From here nothing can check a record: the server has exited, or the pause is in force. */
  readonly outageStartMs: number;
  /** Until here nothing could check a record either (the last time the bench saw the outage still in force). */
  readonly unverifiableUntilMs: number;
  /** Redis answers again (restarted server answers PING, pause over, replica promoted). */
  readonly backMs: number;
  /**
   * `lost`: the data is gone (restart of a server that keeps nothing), so no request that started
   * during the outage can be checked, however late it is answered. `kept`: the data survives
   * (pause, failover), so a request answered after Redis is back was checked; only 2xx answered
   * inside the outage are unverifiable. `none`: no outage to speak of (SCRIPT FLUSH, planned failover).
   */
  readonly data: 'lost' | 'kept' | 'none';
}

export interface Limits {
  /** Slowest acceptable failing answer (the store's timeoutMs plus scheduling slack). */
  readonly maxFailingMs: number;
  /** Back to this share of the baseline 2xx rate… */
  readonly recoveryShare: number;
  /** …within this many ms of Redis answering again. */
  readonly maxRecoveryMs: number;
  /** False: the recovery is measured and shown, not asserted. */
  readonly assertRecovery: boolean;
  /** For faults without an outage: at most this many 5xx (the requests in flight). */
  readonly max5xx: number | null;
}

export interface ScenarioAnalysis {
  /** Median 2xx answers per second over 500 ms windows of the 3 s before the fault. */
  readonly baselinePerSecond: number;
  /** The same over the last 2 s of the run, once things have settled. */
  readonly settledPerSecond: number;
  /**
   * The recovery target: the share of the lower of the two. On a machine shared with other work the
   * rate drifts by tens of percent within seconds, whatever the fault; the lower one keeps a slower
   * spell of the machine from passing for a slow recovery (a lasting loss still shows as settled ≪ before).
   */
  readonly recoveryTargetPerSecond: number;
  /**
   * Single-use records answered 503 whose retry (same id) was then refused as used: consumed although
   * the client was told to retry (the command reached Redis and ran after the store gave up on it).
   * Only where the data survives the fault (null otherwise: after a restart every old record is gone).
   */
  readonly unavailableThenConsumed: number | null;
  /** Answers of requests started from the fault to 2 s after Redis was back, by status (0: no HTTP answer). */
  readonly answersDuringFault: Record<string, number>;
  /** 5xx answers and failed requests over the whole run. */
  readonly failing: number;
  /** Failing answers other than 503 `verification.unavailable` (another 5xx, a reset connection). */
  readonly failingNotUnavailable: number;
  /** Slowest failing answer, ms (null without any). */
  readonly maxFailingMs: number | null;
  /** 2xx answers no Redis could have checked (see FaultTimeline.data); null when there was no outage. */
  readonly okDuringOutage: number | null;
  /** Answers other than 200, 403 `verification.invalid` and 503 `verification.unavailable`. */
  readonly unexpected: Record<string, number>;
  /** From Redis back to the end of the first 500 ms window at ≥ the recovery share of the baseline (null: not within the run). */
  readonly recoveryMs: number | null;
  /** From Redis back to the first 2xx answer (null: none). */
  readonly firstOkMs: number | null;
  /** Single-use requests sent with an id already used because the pool had run dry. */
  readonly staleIds: number;
  readonly outageMs: number;
  /** 2xx answers per second in consecutive 500 ms windows, from 3 s before the fault to the end of the run (the fault's window first marked by `faultIndex`). */
  readonly okPerSecond: { readonly faultIndex: number; readonly backIndex: number; readonly rates: number[] };
}

const WINDOW_MS = 500;
const STEP_MS = 50;
export const BASELINE_MS = 3000;
const SETTLED_MS = 2000;

const ok = (status: number) => status >= 200 && status < 300;
const failingStatus = (status: number) => status === 0 || status >= 500;
const label = (status: number, code: string | null) => (code === null ? String(status) : `${status} ${code}`);

/** 2xx answers per second in [from, from + WINDOW_MS), counted by answer time; `ends` sorted. */
function rateAt(ends: Float64Array, from: number): number {
  const lower = lowerBound(ends, from);
  const upper = lowerBound(ends, from + WINDOW_MS);
  return (upper - lower) / (WINDOW_MS / 1000);
}

function lowerBound(sorted: Float64Array, value: number): number {
  let low = 0;
  let high = sorted.length;
  while (low < high) {
    const mid = (low + high) >>> 1;
    if ((sorted[mid] as number) < value) low = mid + 1;
    else high = mid;
  }
  return low;
}

/** What the answers of one scenario say about the rules (no verdict: see verdictOf). */
export function analyze(samples: Samples, timeline: FaultTimeline, limits: Limits): ScenarioAnalysis {
  const okEnds = Float64Array.from(samples.endMs.filter((_, i) => ok(samples.status[i] as number))).sort();
  const baselineRates: number[] = [];
  for (let from = timeline.injectedMs - BASELINE_MS; from + WINDOW_MS <= timeline.injectedMs; from += WINDOW_MS) baselineRates.push(rateAt(okEnds, from));
  const baselinePerSecond = median(baselineRates);

  const answersDuringFault: Record<string, number> = {};
  const unexpected: Record<string, number> = {};
  let failing = 0;
  let failingNotUnavailable = 0;
  let maxFailingMs: number | null = null;
  let okDuringOutage = 0;
  let staleIds = 0;
  /** Per single-use id: was it answered 503, then refused as used (403) on a retry, and never passed? */
  const fates = new Map<string, { unavailable: boolean; refusedAfter: boolean; passed: boolean }>();
  const lastMs = samples.endMs.reduce((latest, end) => Math.max(latest, end), 0);
  for (let i = 0; i < samples.status.length; i += 1) {
    const status = samples.status[i] as number;
    const code = samples.code[i] ?? null;
    const start = samples.startMs[i] as number;
    const end = samples.endMs[i] as number;
    if (samples.stale[i] === true) staleIds += 1;
    if (samples.route[i] === 'singleUse' && samples.stale[i] !== true) {
      const id = samples.id[i] as string;
      const fate = fates.get(id) ?? { unavailable: false, refusedAfter: false, passed: false };
      if (status === 503) fate.unavailable = true;
      else if (status === 403 && fate.unavailable) fate.refusedAfter = true;
      else if (ok(status)) fate.passed = true;
      fates.set(id, fate);
    }
    if (start >= timeline.injectedMs && start <= timeline.backMs + 2000) {
      const key = String(status);
      answersDuringFault[key] = (answersDuringFault[key] ?? 0) + 1;
    }
    if (failingStatus(status)) {
      failing += 1;
      if (status !== 503 || code !== 'verification.unavailable') failingNotUnavailable += 1;
      maxFailingMs = Math.max(maxFailingMs ?? 0, end - start);
    }
    const expected = status === 200 || (status === 403 && code === 'verification.invalid') || (status === 503 && code === 'verification.unavailable');
    if (!expected) {
      const key = label(status, code);
      unexpected[key] = (unexpected[key] ?? 0) + 1;
    }
    if (ok(status)) {
      if (timeline.data === 'lost' && start >= timeline.outageStartMs && start < timeline.backMs) okDuringOutage += 1;
      if (timeline.data === 'kept' && start >= timeline.outageStartMs && end <= timeline.unverifiableUntilMs) okDuringOutage += 1;
    }
  }

  const settledRates: number[] = [];
  for (let from = lastMs - SETTLED_MS; from + WINDOW_MS <= lastMs; from += WINDOW_MS) settledRates.push(rateAt(okEnds, from));
  const settledPerSecond = median(settledRates);
  let recoveryMs: number | null = null;
  const target = limits.recoveryShare * Math.min(baselinePerSecond, settledPerSecond);
  for (let from = timeline.backMs; from + WINDOW_MS <= lastMs; from += STEP_MS) {
    if (rateAt(okEnds, from) >= target) {
      recoveryMs = from + WINDOW_MS - timeline.backMs;
      break;
    }
  }

  const rates: number[] = [];
  const firstWindow = timeline.injectedMs - BASELINE_MS;
  for (let from = firstWindow; from + WINDOW_MS <= lastMs; from += WINDOW_MS) rates.push(rateAt(okEnds, from));
  const okPerSecond = {
    faultIndex: BASELINE_MS / WINDOW_MS,
    backIndex: Math.floor((timeline.backMs - firstWindow) / WINDOW_MS),
    rates,
  };
  const firstOk = okEnds[lowerBound(okEnds, timeline.backMs)];
  const unavailableThenConsumed = [...fates.values()].filter((f) => f.unavailable && f.refusedAfter && !f.passed).length;
  return {
    baselinePerSecond: round(baselinePerSecond, 0),
    settledPerSecond: round(settledPerSecond, 0),
    recoveryTargetPerSecond: round(target, 0),
    unavailableThenConsumed: timeline.data === 'kept' ? unavailableThenConsumed : null,
    firstOkMs: firstOk === undefined ? null : round(firstOk - timeline.backMs, 0),
    answersDuringFault,
    failing,
    failingNotUnavailable,
    maxFailingMs: maxFailingMs === null ? null : round(maxFailingMs, 1),
    okDuringOutage: timeline.data === 'none' ? null : okDuringOutage,
    unexpected,
    recoveryMs: recoveryMs === null ? null : round(recoveryMs, 0),
    staleIds,
    outageMs: round(timeline.backMs - timeline.outageStartMs, 0),
    okPerSecond,
  };
}

export interface ProcessHealth {
  /** How the app process ended unasked, or null. */
  readonly crash: string | null;
  readonly unhandledRejections: number;
  readonly uncaughtExceptions: number;
}

/** Every rule a scenario breaks, in words (empty: it passes). */
export function brokenRules(analysis: ScenarioAnalysis, health: ProcessHealth, limits: Limits, replayedPasses: number | null): string[] {
  const broken: string[] = [];
  if (health.crash !== null) broken.push(`the app process crashed (${health.crash})`);
  if (health.unhandledRejections > 0) broken.push(`${health.unhandledRejections} unhandled rejection(s)`);
  if (health.uncaughtExceptions > 0) broken.push(`${health.uncaughtExceptions} uncaught exception(s)`);
  if (analysis.okDuringOutage !== null && analysis.okDuringOutage > 0) broken.push(`${analysis.okDuringOutage} 2xx answer(s) for records no Redis could check`);
  if (analysis.failingNotUnavailable > 0) broken.push(`${analysis.failingNotUnavailable} failing answer(s) other than 503 verification.unavailable`);
  if (Object.keys(analysis.unexpected).length > 0) broken.push(`unexpected answers: ${JSON.stringify(analysis.unexpected)}`);
  if (analysis.maxFailingMs !== null && analysis.maxFailingMs > limits.maxFailingMs) broken.push(`a failing answer took ${analysis.maxFailingMs} ms (limit ${limits.maxFailingMs})`);
  if (limits.max5xx !== null && analysis.failing > limits.max5xx) broken.push(`${analysis.failing} failing answers (at most ${limits.max5xx}: the requests in flight)`);
  if (limits.assertRecovery && (analysis.recoveryMs === null || analysis.recoveryMs > limits.maxRecoveryMs)) {
    broken.push(`not back to ${limits.recoveryShare * 100} % of the rate before (or settled, if lower) within ${limits.maxRecoveryMs} ms (${analysis.recoveryMs ?? 'never'})`);
  }
  if (replayedPasses !== null && replayedPasses > 0) broken.push(`${replayedPasses} consumed single-use record(s) passed again after the fault`);
  return broken;
}
