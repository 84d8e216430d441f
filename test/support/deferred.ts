/**
 * Promises a test settles by hand, so that it waits on the event it means
 * (a stream reaching its hold, a connect being let through), never on time.
 */

/** A promise and the function that resolves it. */
export function deferred(): { promise: Promise<void>; resolve: () => void } {
  let resolve!: () => void;
  const promise = new Promise<void>((r) => (resolve = r));
  return { promise, resolve };
}

/** Its promise resolves once `tick` has been called `n` times (e.g. once per stream reaching its hold). */
export function countdown(n: number): { promise: Promise<void>; tick: () => void } {
  const done = deferred();
  let left = n;
  if (left <= 0) done.resolve();
  return { promise: done.promise, tick: () => void (--left === 0 && done.resolve()) };
}
