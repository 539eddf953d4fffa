// Shared steps of the model-based property tests (test/unit/primitives.property.test.ts).
import { getEventListeners } from 'node:events';
import { expect, vi } from 'vitest';

/** A modelled call: its own AbortController (if it was given a signal) and where it stands. */
export interface ModelCall {
  ac: AbortController | undefined;
  state: string;
}

/** Runs every pending microtask (promise chains here are a few links long). */
export async function quiet(): Promise<void> {
  for (let i = 0; i < 20; i++) await Promise.resolve();
}

/** The `{ signal, timeout }` a modelled call passes, leaving out what it was not given. */
export function waitOptions(
  ac: AbortController | undefined,
  timeout: number | undefined,
): { signal?: AbortSignal; timeout?: number } {
  const opts: { signal?: AbortSignal; timeout?: number } = {};
  if (ac) opts.signal = ac.signal;
  if (timeout !== undefined) opts.timeout = timeout;
  return opts;
}

/** Aborts the `i`-th (modulo) call still pending with a live signal; none such, nothing happens. */
export function abortOnePending(calls: readonly ModelCall[], i: number): void {
  const live = calls.filter((c) => c.ac && !c.ac.signal.aborted && c.state === 'pending');
  live[i % Math.max(1, live.length)]?.ac?.abort(new Error(`abort ${i}`));
}

/** Every settled call has taken its abort listener off its signal. */
export function expectNoAbortListeners(calls: readonly ModelCall[]): void {
  for (const c of calls)
    if (c.ac && c.state !== 'pending') expect(getEventListeners(c.ac.signal, 'abort')).toHaveLength(0);
}

/** The 'tick' and 'quiet' steps: let fake time or just microtasks pass, then check the invariants. */
export async function passTime(
  op: { t: 'tick'; ms: number } | { t: 'quiet' },
  check: () => void,
): Promise<void> {
  if (op.t === 'tick') await vi.advanceTimersByTimeAsync(op.ms);
  else await quiet();
  check();
}
