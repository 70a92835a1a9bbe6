/**
 * Settles like `operation`, or rejects with `onTimeout()` after `ms`. The timer
 * is always cleared, and a late rejection of `operation` is swallowed so it can
 * never surface as an unhandled rejection.
 */
export async function withTimeout<T>(operation: Promise<T>, ms: number, onTimeout: () => Error): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(onTimeout()), ms);
  });
  try {
    return await Promise.race([operation, timeout]);
  } finally {
    clearTimeout(timer);
    operation.catch(() => undefined);
  }
}
