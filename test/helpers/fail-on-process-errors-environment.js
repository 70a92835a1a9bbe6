const { TestEnvironment } = require('jest-environment-node');

/**
 * The Node test environment, made to fail a test file whenever the test process sees an
 * `unhandledRejection` or an `uncaughtException` while the file runs: in an Express 4 app
 * either one ends the whole process (one request without a token did, before asyncHandler).
 *
 * Why an environment and not a setup file: inside a test file `process` is Jest's copy of it,
 * whose `on('unhandledRejection')` never fires, so a setup file's listener would watch
 * nothing. The environment runs beside Jest, on the real process.
 *
 * While the tests run, jest-circus takes those two events over: it reports each one to the
 * environment as an `error` event (and a rejection that gets a handler later as
 * `error_handled`), and fails the test that was running. Before and after that, this
 * environment's own listeners on the real process record them. When the run finishes, any
 * recorded error Jest has not put on a test or on the file is added to the file's errors; one
 * seen after that fails the file from teardown. So the file fails whatever Jest's own
 * handling of them becomes.
 */
class FailOnProcessErrorsEnvironment extends TestEnvironment {
  /** What went wrong, keyed by the rejected promise (so a late handler can take it back) or a fresh key. */
  processErrors = new Map();

  onUncaughtException = (error) => this.processErrors.set(Symbol('uncaughtException'), { kind: 'uncaughtException', error });
  onUnhandledRejection = (error, promise) => this.processErrors.set(promise, { kind: 'unhandledRejection', error });
  onRejectionHandled = (promise) => this.processErrors.delete(promise);

  async setup() {
    await super.setup();
    process.on('uncaughtException', this.onUncaughtException);
    process.on('unhandledRejection', this.onUnhandledRejection);
    process.on('rejectionHandled', this.onRejectionHandled);
  }

  handleTestEvent(event, state) {
    if (event.name === 'error') {
      if (event.promise) this.onUnhandledRejection(event.error, event.promise);
      else this.onUncaughtException(event.error);
    } else if (event.name === 'error_handled') {
      this.onRejectionHandled(event.promise);
    } else if (event.name === 'run_finish') {
      const known = errorsJestHolds(state);
      for (const { kind, error } of this.processErrors.values()) {
        if (!known.has(error)) state.unhandledErrors.push(new Error(`${kind} in the test process: ${describe(error)}`));
      }
      this.processErrors.clear();
    }
  }

  async teardown() {
    process.removeListener('uncaughtException', this.onUncaughtException);
    process.removeListener('unhandledRejection', this.onUnhandledRejection);
    process.removeListener('rejectionHandled', this.onRejectionHandled);
    await super.teardown();
    if (this.processErrors.size > 0) {
      const lines = [...this.processErrors.values()].map(({ kind, error }) => `  ${kind}: ${describe(error)}`);
      this.processErrors.clear();
      throw new Error(
        `The test process saw ${lines.length} unhandled rejection(s) or uncaught exception(s) after this file's tests ` +
          `(each one would end an Express 4 app):\n${lines.join('\n')}`,
      );
    }
  }
}

/** Every error jest-circus has already put on a test, on the file, or set aside for them. */
function errorsJestHolds(state) {
  const known = new Set();
  const add = (entry) => known.add(Array.isArray(entry) ? entry[0] : entry);
  for (const entry of state.unhandledErrors) add(entry);
  for (const error of state.unhandledRejectionErrorByPromise?.values() ?? []) add(error);
  const visit = (block) => {
    for (const child of block.children) {
      if (child.type === 'describeBlock') visit(child);
      else {
        for (const entry of child.errors) add(entry);
        for (const error of child.unhandledRejectionErrorByPromise?.values() ?? []) add(error);
      }
    }
  };
  visit(state.rootDescribeBlock);
  return known;
}

function describe(error) {
  return error && typeof error.stack === 'string' ? error.stack : String(error);
}

module.exports = FailOnProcessErrorsEnvironment;
