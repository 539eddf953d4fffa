/**
 * A signal that aborts at a deadline (with connkit's `TimeoutError`) or when the caller's signal
 * aborts — for multi-step operations that must finish their own cleanup before they reject,
 * which `waitFor` (rejecting at once at the deadline) does not wait for.
 */
import { TimeoutError } from '../../../src/index.js';
import type { WaitOptions } from '../../../src/index.js';

/** A deadline signal; `clear()` stops its timer. */
export interface Deadline {
  signal: AbortSignal;
  clear(): void;
}

/**
 * Combines `opts.signal` with a timer of `opts.timeout ?? fallbackMs` ms.
 *
 * @example
 * ```ts
 * const deadline = startDeadline(opts, 60_000, 'node restart');
 * try { await steps(deadline.signal); } finally { deadline.clear(); }
 * ```
 */
export function startDeadline(opts: WaitOptions, fallbackMs: number, what: string): Deadline {
  const ms = opts.timeout ?? fallbackMs;
  const controller = new AbortController();
  const timer = setTimeout(() => controller.abort(new TimeoutError(`${what} timed out after ${ms} ms`)), ms);
  const signal = opts.signal ? AbortSignal.any([opts.signal, controller.signal]) : controller.signal;
  return { signal, clear: () => clearTimeout(timer) };
}
