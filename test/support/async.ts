/**
 * The async helpers every test shares: wait for a condition, let pending work run, a promise with
 * its settle functions exposed, a promise's outcome followed synchronously, and the rejection of a
 * promise that must reject. One implementation each — tests import them from here.
 * @module
 */
import { setImmediate as realSetImmediate } from 'node:timers';
import { assert, vi } from 'vitest';

/**
 * Waits until `predicate` holds (vitest's `vi.waitUntil`, polling every 20 ms; an async predicate
 * is awaited before the next poll); rejects naming `what` when `ms` pass first or the predicate
 * throws. For tests on real services, where the condition, not the clock, says when the next step
 * may run.
 *
 * @example
 * ```ts
 * await until(() => consumer.stats().acked === 30, 10_000, '30 acks');
 * await until(async () => (await sleeping(url, app)).length === 0, 10_000, 'the statement to be gone');
 * ```
 */
export async function until(
  predicate: () => boolean | Promise<boolean>,
  ms = 10_000,
  what = 'the condition',
): Promise<void> {
  try {
    await vi.waitUntil(predicate, { timeout: ms, interval: 20 });
  } catch (err) {
    throw new Error(
      `waiting up to ${ms} ms for ${what}: ${err instanceof Error ? err.message : String(err)}`,
      {
        cause: err,
      },
    );
  }
}

/**
 * Lets pending work run: resolves after `turns` real event-loop turns (macrotasks), so every
 * queued promise chain has run by then. Uses node:timers' `setImmediate`, which vitest's fake
 * timers do not replace, so it works — and advances no fake clock — under `vi.useFakeTimers()`.
 *
 * @example
 * ```ts
 * const waiting = sem.acquire();
 * await flush();
 * expect(track(waiting).status).toBe('pending');
 * ```
 */
export async function flush(turns = 1): Promise<void> {
  for (let i = 0; i < turns; i++) await new Promise<void>((resolve) => realSetImmediate(resolve));
}

/**
 * A promise with its settle functions exposed (Node 20 has no `Promise.withResolvers`).
 *
 * @example
 * ```ts
 * const gate = deferred<number>();
 * const task = createTask(() => gate.promise);
 * gate.resolve(1);
 * ```
 */
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

/**
 * Follows a promise's outcome synchronously, so a test can assert it is still pending; handles its
 * rejection, so a promise that will reject can be tracked before the test awaits it.
 *
 * @example
 * ```ts
 * const state = track(lock.acquire({ timeout: 100 }));
 * await flush();
 * expect(state.status).toBe('pending');
 * await expect(state.promise).rejects.toBeInstanceOf(TimeoutError);
 * ```
 */
export function track<T>(promise: Promise<T>): {
  status: 'pending' | 'fulfilled' | 'rejected';
  value?: T;
  reason?: unknown;
  promise: Promise<T>;
} {
  const state: {
    status: 'pending' | 'fulfilled' | 'rejected';
    value?: T;
    reason?: unknown;
    promise: Promise<T>;
  } = { status: 'pending', promise };
  promise.then(
    (value) => Object.assign(state, { status: 'fulfilled', value }),
    (reason: unknown) => Object.assign(state, { status: 'rejected', reason }),
  );
  return state;
}

/**
 * A task function that waits for its signal and then rejects with the reason (a well-behaved op).
 *
 * @example
 * ```ts
 * const task = createTask((signal) => untilAborted(signal));
 * task.cancel();
 * ```
 */
export function untilAborted(signal: AbortSignal): Promise<never> {
  return new Promise((_, reject) => signal.addEventListener('abort', () => reject(signal.reason)));
}

/**
 * The reason `promise` rejects with; FAILS the test when it fulfils instead (unlike
 * `.catch((e) => e)`, which yields a value either way). For tests that inspect the error object
 * beyond one `expect(p).rejects` matcher. It handles the rejection at once, so it may be called
 * before the promise settles (e.g. before advancing fake timers) and awaited later.
 *
 * @example
 * ```ts
 * const err = await rejectionOf(db.query('select 1/0'));
 * expect(err).toBeInstanceOf(DatabaseError);
 * expect(err).toMatchObject({ sqlState: '22012' });
 * ```
 */
export async function rejectionOf(promise: Promise<unknown>): Promise<unknown> {
  let value: unknown;
  try {
    value = await promise;
  } catch (reason) {
    return reason;
  }
  assert.fail(`expected the promise to reject, but it fulfilled with ${show(value)}`);
}

function show(value: unknown): string {
  if (value instanceof Error) return `${value.name}: ${value.message}`;
  try {
    return JSON.stringify(value) ?? String(value);
  } catch {
    return String(value);
  }
}
