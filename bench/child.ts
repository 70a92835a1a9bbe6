import { fork, spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';

/** Marks a process started by forkBenchModule(), so a module knows to run its child side. */
export const CHILD_FLAG = '--bench-child';

export const isBenchChild = (): boolean => process.send !== undefined && process.argv.includes(CHILD_FLAG);

/**
 * Starts a bench/*.ts module in its own Node process (through tsx, with an IPC channel),
 * so that what it measures does not share an event loop or a heap with the rest.
 * `stdout: 'ignore'` sends the child's stdout to /dev/null (a server that logs every request).
 * `wrapper`, e.g. ['valgrind', '--tool=callgrind'], runs node under that command (same pid, same IPC channel).
 */
export function forkBenchModule(
  file: string,
  nodeFlags: readonly string[] = [],
  {
    stdout = 'inherit',
    env = {},
    wrapper = [],
  }: { stdout?: 'inherit' | 'ignore'; env?: Readonly<Record<string, string>>; wrapper?: readonly string[] } = {},
): ChildProcess {
  const options = {
    cwd: path.resolve(__dirname, '..'), // where `tsx` resolves
    env: { ...process.env, ...env },
    stdio: ['ignore', stdout, 'inherit', 'ipc'] as ('ignore' | 'inherit' | 'ipc')[],
  };
  const execArgv = [...nodeFlags, '--import', 'tsx'];
  const [command, ...wrapperArgs] = wrapper;
  if (command === undefined) return fork(file, [CHILD_FLAG], { ...options, execArgv });
  return spawn(command, [...wrapperArgs, process.execPath, ...execArgv, file, CHILD_FLAG], options);
}

/** Resolves when the child has exited (rejects if it exited with an error code). */
export function exitOf(child: ChildProcess): Promise<void> {
  return new Promise((resolve, reject) => {
    if (child.exitCode !== null || child.signalCode !== null) {
      return child.exitCode === 0 ? resolve() : reject(new Error(`bench child exited with ${child.exitCode ?? child.signalCode}`));
    }
    child.once('exit', (code, signal) =>
      code === 0 ? resolve() : reject(new Error(`bench child exited with ${code ?? signal}`)),
    );
  });
}

/** Starts a child that sends exactly one message (its result) and exits; returns that message. */
export async function runOnce<T>(file: string, nodeFlags: readonly string[] = [], env: Readonly<Record<string, string>> = {}): Promise<T> {
  const child = forkBenchModule(file, nodeFlags, { env });
  const exited = exitOf(child);
  const result = await new Promise<T>((resolve, reject) => {
    child.once('message', (message) => resolve(message as T));
    exited.then(() => reject(new Error(`${path.basename(file)} exited without a result`)), reject);
  });
  await exited;
  return result;
}

/**
 * The parent's handle on a child that runs jobs one at a time: it sends `{ job }` and the child
 * answers `{ result }` or `{ error }` (a child's side: `answerJobs`).
 */
export class JobChild<Job, Result> {
  readonly #child: ChildProcess;
  readonly #exited: Promise<void>;

  constructor(file: string, readonly what: string) {
    this.#child = forkBenchModule(file);
    this.#exited = exitOf(this.#child);
    this.#exited.catch(() => undefined); // reported by run() or close()
  }

  /** The child's process id. */
  get pid(): number {
    return this.#child.pid as number;
  }

  run(job: Job): Promise<Result> {
    return new Promise((resolve, reject) => {
      const onExit = () => reject(new Error(`the ${this.what} exited`));
      this.#child.once('exit', onExit);
      this.#child.once('message', (message: { readonly result: Result } | { readonly error: string }) => {
        this.#child.removeListener('exit', onExit);
        if ('error' in message) reject(new Error(`${this.what}: ${message.error}`));
        else resolve(message.result);
      });
      this.#child.send({ job });
    });
  }

  /** Sends the child a message of its own (not a job): see answerJobs' `onOther`. */
  protected send(message: object): void {
    this.#child.send(message);
  }

  async close(): Promise<void> {
    if (this.#child.connected) this.#child.disconnect();
    await this.#exited;
  }
}

/**
 * The child's side of JobChild: runs each job it is sent, answers with its result; leaves when the
 * parent does. Other messages (a subclass's own, sent with `send`) go to `onOther`.
 */
export function answerJobs<Job, Result>(run: (job: Job) => Promise<Result>, onOther?: (message: object) => void): void {
  process.on('message', (message: { readonly job: Job } | object) => {
    if (!('job' in message)) return void onOther?.(message);
    run(message.job).then(
      (result) => process.send?.({ result }),
      (error: unknown) => process.send?.({ error: error instanceof Error ? error.message : String(error) }),
    );
  });
  process.once('disconnect', () => process.exit(0));
}
