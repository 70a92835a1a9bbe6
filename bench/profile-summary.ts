/**
 * `npx tsx bench/profile-summary.ts <file.cpuprofile> [top] [skip-seconds]`: the self time of a V8
 * CPU profile (written by `node --cpu-prof`, e.g. with BENCH_CPU_PROF, see bench/run.ts) by
 * function and by package, as shares of the busy (not idle) time, leaving out the first
 * `skip-seconds` (the server's start-up: module loading). Written here because it is a few lines
 * over the profile's documented JSON (nodes with call frames, samples, time deltas) and needs no viewer.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { printTable, round } from './stats';

interface ProfileNode {
  readonly id: number;
  readonly callFrame: { readonly functionName: string; readonly url: string; readonly lineNumber: number };
}

interface CpuProfile {
  readonly nodes: readonly ProfileNode[];
  readonly samples: readonly number[];
  readonly timeDeltas: readonly number[];
}

/** Where a frame's code comes from: a package under node_modules, the build (dist), node itself, or V8 (GC, idle, program). */
function packageOf(url: string, functionName: string): string {
  if (url === '') return functionName.startsWith('(') ? functionName : `(native) ${functionName}`;
  const modules = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(url);
  if (modules) return modules[1] as string;
  if (url.startsWith('node:')) return 'node internals';
  if (url.includes('/dist/')) return 'express-step-up (dist)';
  return path.relative(process.cwd(), url.replace(/^file:\/\//, '')) || url;
}

function main(): void {
  const [file, topArg, skipArg] = process.argv.slice(2);
  if (file === undefined) throw new Error('usage: tsx bench/profile-summary.ts <file.cpuprofile> [top] [skip-seconds]');
  const top = Number(topArg ?? 25);
  const skipMicros = Number(skipArg ?? 0) * 1e6;
  const profile = JSON.parse(readFileSync(file, 'utf8')) as CpuProfile;
  const byId = new Map(profile.nodes.map((node) => [node.id, node]));
  const byFunction = new Map<string, number>();
  const byPackage = new Map<string, number>();
  let total = 0;
  let elapsed = 0;
  profile.samples.forEach((id, i) => {
    const node = byId.get(id);
    const delta = profile.timeDeltas[i] ?? 0;
    elapsed += delta;
    if (node === undefined || elapsed < skipMicros) return;
    const { functionName, url, lineNumber } = node.callFrame;
    total += delta;
    const where = url === '' ? '' : ` ${packageOf(url, functionName)}:${lineNumber + 1}`;
    const fn = `${functionName || '(anonymous)'}${where}`;
    byFunction.set(fn, (byFunction.get(fn) ?? 0) + delta);
    const pkg = packageOf(url, functionName);
    byPackage.set(pkg, (byPackage.get(pkg) ?? 0) + delta);
  });
  const busy = total - (byPackage.get('(idle)') ?? 0) - (byPackage.get('(program)') ?? 0);
  const rows = (map: Map<string, number>) =>
    [...map.entries()]
      .sort((a, b) => b[1] - a[1])
      .filter(([name]) => name !== '(idle)' && name !== '(program)')
      .slice(0, top)
      .map(([name, micros]) => [name, round(micros / 1000, 0), round((100 * micros) / busy, 1)]);
  console.log(`${file}: ${round(total / 1e6, 1)} s sampled after the first ${skipMicros / 1e6} s, ${round(busy / 1e6, 1)} s busy (not idle, not "program")`);
  printTable(`Self time by function (top ${top})`, ['function', 'ms', '% of busy'], rows(byFunction));
  printTable(`Self time by package (top ${top})`, ['package', 'ms', '% of busy'], rows(byPackage));
}

main();
