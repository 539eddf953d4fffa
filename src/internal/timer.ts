/**
 * Internal: a timer that understands every duration the API accepts. `setTimeout` fires at once
 * for `Infinity` and for anything above 2^31-1 ms (~24.8 days); this re-arms instead.
 * @module
 */

/**
 * Longest delay `setTimeout` honours, in ms.
 *
 * @example
 * ```ts
 * const step = Math.min(ms, MAX_TIMEOUT);
 * ```
 */
export const MAX_TIMEOUT = 2_147_483_647;

/**
 * Calls `cb` after `ms` (never for `Infinity`); returns a function that cancels the timer.
 *
 * @example
 * ```ts
 * const cancel = startTimer(30 * 86_400_000, () => expire()); // 30 days: re-armed in steps
 * cancel();
 * ```
 */
export function startTimer(ms: number, cb: () => void, unref = false): () => void {
  if (ms === Infinity) return noop;
  let handle: NodeJS.Timeout;
  const deadline = Date.now() + ms;
  const arm = (delay: number): void => {
    handle = setTimeout(() => {
      const left = deadline - Date.now();
      if (delay === MAX_TIMEOUT && left > 0) arm(Math.min(left, MAX_TIMEOUT));
      else cb();
    }, delay);
    if (unref) handle.unref();
  };
  arm(Math.min(ms, MAX_TIMEOUT));
  return () => clearTimeout(handle);
}

function noop(): void {}
