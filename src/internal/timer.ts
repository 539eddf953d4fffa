/**
 * Internal: the kit's one clock and the timer that understands every duration the API accepts.
 * `setTimeout` fires at once for `Infinity` and for anything above 2^31-1 ms (~24.8 days) — with a
 * warning, "Timeout duration was set to 1" — so every timer in connkit goes through here, re-arming
 * in steps towards its deadline instead.
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
 * The kit's one clock: milliseconds on a monotonic scale (`performance.now()`, which wall-clock
 * changes do not move and vitest's fake timers do). Every deadline in connkit is on this scale.
 *
 * @example
 * ```ts
 * const deadline = now() + 5_000;
 * ```
 */
export function now(): number {
  return performance.now();
}

/**
 * Calls `cb` at `deadline` (on the {@link now} scale; never for `Infinity`); returns a function
 * that cancels the timer. `unref`: the timer does not keep the process alive.
 *
 * @example
 * ```ts
 * const cancel = startTimerAt(now() + 30 * 86_400_000, () => expire()); // 30 days: re-armed in steps
 * cancel();
 * ```
 */
export function startTimerAt(deadline: number, cb: () => void, unref = false): () => void {
  if (deadline === Infinity) return noop;
  let handle: NodeJS.Timeout | undefined;
  const arm = (): void => {
    const left = deadline - now();
    handle = left > MAX_TIMEOUT ? setTimeout(arm, MAX_TIMEOUT) : setTimeout(cb, Math.max(0, left));
    if (unref) handle.unref();
  };
  arm();
  return () => clearTimeout(handle);
}

/**
 * Calls `cb` after `ms` (any duration ≥ 0; never for `Infinity`); returns a function that cancels
 * the timer. `unref`: the timer does not keep the process alive.
 *
 * @example
 * ```ts
 * const cancel = startTimer(30 * 86_400_000, () => expire()); // 30 days: re-armed in steps
 * cancel();
 * ```
 */
export function startTimer(ms: number, cb: () => void, unref = false): () => void {
  if (ms === Infinity) return noop;
  if (ms <= MAX_TIMEOUT) {
    // The common case: one setTimeout, no closure for re-arming.
    const handle = setTimeout(cb, ms);
    if (unref) handle.unref();
    return () => clearTimeout(handle);
  }
  return startTimerAt(now() + ms, cb, unref);
}

/**
 * Resolves after `ms` without any way to abort it (cleanup grace periods, `settleWithin`); the
 * timer never keeps the process alive.
 *
 * @example
 * ```ts
 * await Promise.race([client.end(), delay(5_000)]);
 * ```
 */
export function delay(ms: number): Promise<void> {
  return new Promise<void>((resolve) => void startTimer(ms, resolve, true));
}

function noop(): void {}
