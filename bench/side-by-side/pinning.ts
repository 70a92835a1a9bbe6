import { execFileSync } from 'node:child_process';

/**
 * CPU affinity for the paired phase, through `taskset` (util-linux; Node has no affinity API).
 * The paired phase puts the two servers it compares on one CPU and everything else (load
 * generators, redis-server, the bench itself) on the others.
 */
export interface CpuSplit {
  /** The CPU the measured servers share (a taskset list, e.g. "0"). */
  readonly servers: string;
  /** The other CPUs this process may run on (e.g. "1" or "1,2,3"). */
  readonly rest: string;
  /** Every CPU this process may run on: what is restored after the phase. */
  readonly all: string;
}

/** The CPUs `pid` may run on, as taskset lists them ("0-3", "0,2"), expanded. */
function affinityOf(pid: number): number[] {
  const out = execFileSync('taskset', ['-c', '-p', String(pid)], { encoding: 'utf8' });
  const list = /:\s*([\d,-]+)\s*$/.exec(out)?.[1];
  if (list === undefined) throw new Error(`taskset printed no CPU list: ${out.trim()}`);
  return list.split(',').flatMap((part) => {
    const [from, to = from] = part.split('-').map(Number) as [number, number?];
    return Array.from({ length: (to as number) - from + 1 }, (_, i) => from + i);
  });
}

/** The split of this process's CPUs, or why there is none (taskset missing, a single CPU). */
export function cpuSplit(): CpuSplit | { readonly unavailable: string } {
  let cpus: number[];
  try {
    cpus = affinityOf(process.pid);
  } catch (error) {
    return { unavailable: `taskset (util-linux) did not run: ${error instanceof Error ? error.message.split('\n')[0] : String(error)}` };
  }
  const [first, ...rest] = cpus;
  if (first === undefined || rest.length === 0) return { unavailable: `this process may run on ${cpus.length} CPU(s); the paired phase needs 2` };
  return { servers: String(first), rest: rest.join(','), all: cpus.join(',') };
}

/** Lets every thread of `pid` run only on `cpus` (threads it starts later inherit it). */
export function pin(pid: number, cpus: string): void {
  execFileSync('taskset', ['-a', '-c', '-p', cpus, String(pid)], { stdio: 'ignore' });
}
