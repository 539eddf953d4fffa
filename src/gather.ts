/**
 * {@link gather}: run several operations concurrently, results in input order (`asyncio.gather`).
 * @module
 */
import { CancelledError } from './errors.js';
import { checkSignal, describeValue } from './options.js';
import { unwatchAbort, watchAbort } from './internal/abort-watch.js';
import type { AbortWatcher } from './internal/abort-watch.js';

/**
 * What {@link gather} accepts: a promise (or any value), or a function started with a signal.
 * @example
 * ```ts
 * const items: GatherItem<number>[] = [Promise.resolve(1), (signal) => count(signal)];
 * ```
 */
export type GatherItem<T = unknown> = PromiseLike<T> | T | ((signal: AbortSignal) => PromiseLike<T> | T);

/**
 * The value an item yields: a function's awaited return value, or the awaited promise.
 * @example
 * ```ts
 * type N = GatherValue<(signal: AbortSignal) => Promise<number>>; // number
 * ```
 */
export type GatherValue<I> = I extends (signal: AbortSignal) => infer R ? Awaited<R> : Awaited<I>;

/**
 * Options of {@link gather}.
 * @example
 * ```ts
 * await gather(jobs, { returnExceptions: true, signal } satisfies GatherOptions);
 * ```
 */
export interface GatherOptions {
  /**
   * Put each failure in its place in the result array instead of rejecting on the first one.
   * @default false
   */
  returnExceptions?: boolean | undefined;
  /** Aborting it aborts every function item's signal and rejects with `signal.reason`. */
  signal?: AbortSignal | undefined;
}

/**
 * Waits for every item and resolves with their values in input order, like `asyncio.gather`.
 * Function items are called at once with a signal that gather aborts when it gives up.
 *
 * Without `returnExceptions` the first failure rejects at once and aborts the signals of the
 * function items still running (with a `CancelledError` whose `cause` is that failure); later
 * failures are absorbed (no unhandled rejection). With `returnExceptions`, each rejection value
 * takes its item's place (typed `Error`, though a non-Error rejection is placed as it is).
 * `opts.signal` aborting aborts every function item and rejects with the reason; if it is already
 * aborted, no function item is called.
 *
 * @example
 * ```ts
 * const [user, orders] = await gather([
 *   (signal) => db.one(sql`select * from users where id = ${id}`, [], { signal }),
 *   (signal) => db.rows(sql`select * from orders where user_id = ${id}`, [], { signal }),
 * ]);
 * const settled = await gather([p1, p2], { returnExceptions: true }); // [value | Error, value | Error]
 * ```
 */
export function gather<I extends readonly unknown[] | []>(
  items: I,
  opts: GatherOptions & { returnExceptions: true },
): Promise<{ -readonly [K in keyof I]: GatherValue<I[K]> | Error }>;
export function gather<I extends readonly unknown[] | []>(
  items: I,
  opts?: GatherOptions,
): Promise<{ -readonly [K in keyof I]: GatherValue<I[K]> }>;
export function gather(items: Iterable<unknown>, opts?: GatherOptions): Promise<unknown[]> {
  if (items == null || typeof (items as Partial<Iterable<unknown>>)[Symbol.iterator] !== 'function') {
    throw new TypeError(`gather() items must be an iterable, got ${describeValue(items)}`);
  }
  const list = [...items];
  const signal = checkSignal(opts?.signal);
  const returnExceptions = opts?.returnExceptions === true;
  if (signal?.aborted) {
    for (const item of list) if (isThenable(item)) Promise.resolve(item).catch(noop);
    return Promise.reject(signal.reason);
  }
  return new Promise<unknown[]>((resolve, reject) => {
    // Only function items need a signal, and an AbortSignal costs more than the rest of gather.
    let controller: AbortController | undefined;
    const results = new Array<unknown>(list.length);
    let remaining = list.length;
    let settled = false;
    const finish = (ok: boolean, value: unknown, abortReason?: unknown): void => {
      if (settled) return;
      settled = true;
      if (signal !== undefined) unwatchAbort(signal, watcher);
      if (abortReason !== undefined) controller?.abort(abortReason);
      if (ok) resolve(value as unknown[]);
      else reject(value);
    };
    const watcher: AbortWatcher = { giveUp: (reason) => finish(false, reason, reason) };
    if (signal !== undefined) watchAbort(signal, watcher);
    if (remaining === 0) finish(true, results);
    list.forEach((item, index) => {
      const onValue = (value: unknown): void => {
        results[index] = value;
        if (--remaining === 0) finish(true, results);
      };
      const onError = (error: unknown): void => {
        if (returnExceptions) onValue(error);
        else
          finish(false, error, new CancelledError('gather() aborted: another item failed', { cause: error }));
      };
      if (settled && typeof item === 'function') return; // gave up already: start nothing new
      let started: unknown;
      try {
        started =
          typeof item === 'function'
            ? (item as (s: AbortSignal) => unknown)((controller ??= new AbortController()).signal)
            : item;
      } catch (err) {
        onError(err);
        return;
      }
      Promise.resolve(started).then(onValue, onError);
    });
  });
}

function isThenable(value: unknown): value is PromiseLike<unknown> {
  return (
    value !== null &&
    (typeof value === 'object' || typeof value === 'function') &&
    typeof (value as { then?: unknown }).then === 'function'
  );
}

function noop(): void {}
