// Small async helpers shared by the core primitive tests.
import { realTicks } from './unhandled-rejections.js';

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

/**
 * Runs `fn` and returns the MaxListenersExceededWarnings Node emitted meanwhile (one listener per
 * wait on a shared signal would raise them past 10). Works under fake timers.
 */
export async function maxListenersWarnings(fn: () => Promise<void>): Promise<Error[]> {
  const warnings: Error[] = [];
  const onWarning = (w: Error): void => void warnings.push(w);
  process.on('warning', onWarning);
  try {
    await fn();
    await realTicks();
  } finally {
    process.off('warning', onWarning);
  }
  return warnings.filter((w) => w.name === 'MaxListenersExceededWarning');
}
