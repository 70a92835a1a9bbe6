import type { ChildProcess } from 'node:child_process';
import { exitOf, forkBenchModule, isBenchChild } from '../child';
import type { FromServer, ServerSpec, Target, ToServer } from './protocol';

/**
 * One server of the side-by-side bench in its own Node process: started from a ServerSpec, on the
 * bench's Redis. The parent asks it for its CPU time around each measured run.
 */
export class ServerChild {
  readonly #child: ChildProcess;
  readonly #exited: Promise<void>;

  #target: Target;

  private constructor(child: ChildProcess, target: Target) {
    this.#child = child;
    this.#target = target;
    this.#exited = exitOf(child);
    this.#exited.catch(() => undefined); // reported by close()
  }

  /**
   * Forks the child and waits until its server listens. `nodeFlags`, e.g. ['--cpu-prof'], go to its node;
   * `wrapper`, e.g. ['valgrind', '--tool=callgrind'], runs its node under that command.
   */
  static async start(spec: ServerSpec, redisUrl: string, nodeFlags: readonly string[] = [], wrapper: readonly string[] = []): Promise<ServerChild> {
    const child = forkBenchModule(__filename, nodeFlags, { stdout: spec.kind === 'example' ? 'ignore' : 'inherit', wrapper });
    const target = await ask(child, { start: spec, redisUrl }, 'ready').catch((error: unknown) => {
      // A child that failed to start leaves on disconnect, and then cannot keep the bench alive.
      if (child.connected) child.disconnect();
      throw error;
    });
    return new ServerChild(child, target);
  }

  /** The requests the server expects (see refresh()). */
  get target(): Target {
    return this.#target;
  }

  /** Asks the server for fresh credentials where its own expire within a run (the example app's); `target` is then the new one. */
  async refresh(): Promise<void> {
    this.#target = await ask(this.#child, { refresh: true }, 'ready');
  }

  /** The child's process id (a wrapper such as valgrind keeps it). */
  get pid(): number {
    return this.#child.pid as number;
  }

  /** The child's CPU time so far (user + system, µs), main thread and libuv pool together. */
  async cpuMicros(): Promise<number> {
    const usage = await ask(this.#child, { cpuUsage: true }, 'cpuUsage');
    return usage.user + usage.system;
  }

  /** Closes the IPC channel: the child exits by itself (writing its CPU profile when started with --cpu-prof). */
  async close(): Promise<void> {
    if (this.#child.connected) this.#child.disconnect();
    await this.#exited;
  }
}

interface Answers {
  readonly ready: Target;
  readonly cpuUsage: NodeJS.CpuUsage;
}

function ask<K extends keyof Answers>(child: ChildProcess, message: ToServer, key: K): Promise<Answers[K]> {
  return new Promise((resolve, reject) => {
    const onExit = (code: number | null) => reject(new Error(`bench server exited (${code}) before answering`));
    child.once('exit', onExit);
    child.once('message', (answer: FromServer) => {
      child.removeListener('exit', onExit);
      if ('error' in answer) reject(new Error(`bench server: ${answer.error}`));
      else if (key in answer) resolve((answer as unknown as Answers)[key]);
      else reject(new Error(`bench server: unexpected answer ${Object.keys(answer).join()}`));
    });
    child.send(message);
  });
}

/** The target to use from now on (the example app signs in and verifies again; the others keep theirs). Set once started. */
let refreshTarget: (() => Promise<Target>) | undefined;

async function startServer(spec: ServerSpec, redisUrl: string): Promise<Target> {
  const { target, refresh } = await startKind(spec, redisUrl);
  refreshTarget = refresh;
  return target;
}

type Started = { readonly target: Target; readonly refresh: () => Promise<Target> };
const kept = (target: Target): Started => ({ target, refresh: () => Promise.resolve(target) });

async function startKind(spec: ServerSpec, redisUrl: string): Promise<Started> {
  switch (spec.kind) {
    case 'floor':
      return kept(await (await import('./servers/floor')).startFloor(spec, redisUrl));
    case 'peer':
      return kept(await (await import('./servers/peer')).startPeer(spec, redisUrl));
    case 'guard':
      return kept(await (await import('./servers/guard')).startGuard(spec, redisUrl));
    case 'example':
      return (await import('./servers/example')).startExample(spec, redisUrl);
  }
}

if (isBenchChild()) {
  process.on('message', (message: ToServer) => {
    const reply = (answer: FromServer) => process.send?.(answer);
    if ('cpuUsage' in message) return void reply({ cpuUsage: process.cpuUsage() });
    if ('refresh' in message) {
      const fresh = refreshTarget !== undefined ? refreshTarget() : Promise.reject(new Error('refresh before the server started'));
      return void fresh.then(
        (ready) => reply({ ready }),
        (error: unknown) => reply({ error: error instanceof Error ? error.message : String(error) }),
      );
    }
    startServer(message.start, message.redisUrl).then(
      (ready) => reply({ ready }),
      (error: unknown) => reply({ error: error instanceof Error ? `${error.message}\n${error.stack ?? ''}` : String(error) }),
    );
  });
  // The servers keep their Redis connections open: leaving is by exit (process.exit runs the --cpu-prof writer).
  process.once('disconnect', () => process.exit(0));
}
