// Small async helpers shared by the core primitive tests.

/** Lets every pending microtask (and promise chain) run: resolves on the next macrotask. */
export const flush = (): Promise<void> => new Promise<void>((resolve) => setImmediate(resolve));

/** Follows a promise's outcome synchronously, so a test can assert it is still pending. */
export function track<T>(promise: Promise<T>): {
  status: 'pending' | 'fulfilled' | 'rejected';
  value?: T;
  reason?: unknown;
} {
  const state: { status: 'pending' | 'fulfilled' | 'rejected'; value?: T; reason?: unknown } = {
    status: 'pending',
  };
  promise.then(
    (value) => Object.assign(state, { status: 'fulfilled', value }),
    (reason: unknown) => Object.assign(state, { status: 'rejected', reason }),
  );
  return state;
}

/** A task function that waits for its signal and then rejects with the reason (a well-behaved op). */
export function untilAborted(signal: AbortSignal): Promise<never> {
  return new Promise((_, reject) => signal.addEventListener('abort', () => reject(signal.reason)));
}
