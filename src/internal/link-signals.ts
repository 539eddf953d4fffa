/**
 * Internal: an AbortSignal that follows two others, without `AbortSignal.any` (which leaks listeners
 * on long-lived signals in Node 20).
 * @module
 */

/**
 * A signal that aborts with either input; `unlink` removes the listeners once it is no longer needed.
 *
 * @example
 * ```ts
 * const link = linkSignals(callerSignal, lease.signal);
 * try { await fn(link.signal); } finally { link.unlink(); }
 * ```
 */
export function linkSignals(a: AbortSignal, b: AbortSignal): { signal: AbortSignal; unlink: () => void } {
  const controller = new AbortController();
  const onA = (): void => controller.abort(a.reason);
  const onB = (): void => controller.abort(b.reason);
  if (a.aborted) onA();
  else if (b.aborted) onB();
  a.addEventListener('abort', onA, { once: true });
  b.addEventListener('abort', onB, { once: true });
  return {
    signal: controller.signal,
    unlink: () => {
      a.removeEventListener('abort', onA);
      b.removeEventListener('abort', onB);
    },
  };
}
