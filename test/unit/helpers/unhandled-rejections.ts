// Catches unhandled rejections across real macrotasks, even while fake timers are installed
// (node:timers' setImmediate is not the global one vitest fakes).
import { setImmediate as realSetImmediate } from 'node:timers';
import { expect } from 'vitest';

/** Resolves after two real macrotasks: enough for Node to report any unhandled rejection. */
export async function realTicks(n = 2): Promise<void> {
  for (let i = 0; i < n; i++) await new Promise<void>((resolve) => realSetImmediate(resolve));
}

/** Runs `fn`, lets Node check for unhandled rejections, and fails if any was raised. */
export async function expectNoUnhandledRejection(fn: () => unknown): Promise<void> {
  const seen: unknown[] = [];
  const onUnhandled = (reason: unknown): void => {
    seen.push(reason);
  };
  process.on('unhandledRejection', onUnhandled);
  try {
    await fn();
    await realTicks();
  } finally {
    process.off('unhandledRejection', onUnhandled);
  }
  expect(seen).toEqual([]);
}

/** Counts the 'abort' listeners added to and removed from `signal`. */
export function trackListeners(signal: AbortSignal): { active(): number } {
  const live = new Set<unknown>();
  const add = signal.addEventListener.bind(signal);
  const remove = signal.removeEventListener.bind(signal);
  signal.addEventListener = (...args: Parameters<typeof add>): void => {
    if (args[0] === 'abort') live.add(args[1]);
    add(...args);
  };
  signal.removeEventListener = (...args: Parameters<typeof remove>): void => {
    if (args[0] === 'abort') live.delete(args[1]);
    remove(...args);
  };
  return { active: () => live.size };
}

/** A promise with its settle functions exposed. */
export function deferred<T = void>(): {
  promise: Promise<T>;
  resolve: (value: T) => void;
  reject: (reason: unknown) => void;
} {
  let resolve!: (value: T) => void;
  let reject!: (reason: unknown) => void;
  const promise = new Promise<T>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}
