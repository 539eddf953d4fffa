/**
 * Internal: an AbortSignal that follows two others, without `AbortSignal.any` (which leaks listeners
 * on long-lived signals in Node 20). Both are watched through the shared listener of
 * `abort-watch.ts`, so a caller's signal handed to many `use()` calls at once holds one listener.
 * @module
 */
import { unwatchAbort, watchAbort, type AbortWatcher } from './abort-watch.js';

/**
 * A signal that aborts with either input; `unlink` stops following them once it is no longer needed.
 *
 * @example
 * ```ts
 * const link = linkSignals(callerSignal, lease.signal);
 * try { await fn(link.signal); } finally { link.unlink(); }
 * ```
 */
export function linkSignals(a: AbortSignal, b: AbortSignal): { signal: AbortSignal; unlink: () => void } {
  const controller = new AbortController();
  const watcher: AbortWatcher = {
    giveUp: (reason) => {
      unlink();
      controller.abort(reason);
    },
  };
  const unlink = (): void => {
    unwatchAbort(a, watcher);
    unwatchAbort(b, watcher);
  };
  if (a.aborted) controller.abort(a.reason);
  else if (b.aborted) controller.abort(b.reason);
  else {
    watchAbort(a, watcher);
    watchAbort(b, watcher);
  }
  return { signal: controller.signal, unlink };
}
