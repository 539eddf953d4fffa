// Catches unhandled rejections and listener leaks across real macrotasks, even while fake timers
// are installed (flush() runs on node:timers' setImmediate, which vitest does not fake).
import { expect } from 'vitest';
import { flush } from '../../support/async.js';

/** Real macrotasks after which Node has reported any unhandled rejection or warning. */
const REPORTED = 2;

/** Runs `fn`, lets Node check for unhandled rejections, and fails if any was raised. */
export async function expectNoUnhandledRejection(fn: () => unknown): Promise<void> {
  const seen: unknown[] = [];
  const onUnhandled = (reason: unknown): void => {
    seen.push(reason);
  };
  process.on('unhandledRejection', onUnhandled);
  try {
    await fn();
    await flush(REPORTED);
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
    await flush(REPORTED);
  } finally {
    process.off('warning', onWarning);
  }
  return warnings.filter((w) => w.name === 'MaxListenersExceededWarning');
}
