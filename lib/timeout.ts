/**
 * Settles like `operation`, or rejects with `onTimeout()` after `ms`. The timer
 * is always cleared, and a late rejection of `operation` is swallowed so it can
 * never surface as an unhandled rejection.
 */
export function withTimeout<T>(operation: Promise<T>, ms: number, onTimeout: () => Error): Promise<T> {
  // One promise and one timer per call (no Promise.race, no async wrapper): this runs on the
  // guard's path for every store call.
  return new Promise<T>((resolve, reject) => {
    const timer = setTimeout(() => reject(onTimeout()), ms);
    operation.then(
      (value) => {
        clearTimeout(timer);
        resolve(value);
      },
      (error: unknown) => {
        // A late rejection after the timeout is swallowed here: it never surfaces as unhandled.
        clearTimeout(timer);
        reject(error);
      },
    );
  });
}
