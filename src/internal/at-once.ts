/**
 * Internal: a timeout where `0` means "only what can be had at once" (DESIGN §2), decided by program
 * order rather than by a race against a timer. `setTimeout(cb, 0)` fires after at least 1 ms and after
 * whatever I/O is ready first, so an operation would sometimes make it in time and sometimes not; here
 * a `0` timeout expires once the microtask queue has drained — after everything that settles "now"
 * (already settled promises and the chains they start), before any timer or I/O callback.
 * @module
 */
import { startTimer } from './timer.js';

/**
 * Calls `onTimeout` after `ms` (never for `Infinity`; for `0`, once pending microtasks have run);
 * returns a function that cancels it.
 *
 * @example
 * ```ts
 * const cancel = startTimeout(opts.timeout, () => reject(new TimeoutError('timed out')));
 * work.then(() => cancel());
 * ```
 */
export function startTimeout(ms: number, onTimeout: () => void): () => void {
  if (ms !== 0) return startTimer(ms, onTimeout);
  let live = true;
  // A microtask queued now runs after those already queued; the tick it schedules runs once the
  // microtask queue is empty again (Node runs next-tick callbacks between macrotask callbacks and
  // after the microtask queue drains), whatever context this is called from.
  queueMicrotask(() =>
    process.nextTick(() => {
      if (live) onTimeout();
    }),
  );
  return () => {
    live = false;
  };
}
