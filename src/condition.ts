/**
 * Condition: wait for a state change announced by another task, under a {@link Lock}.
 * @module
 */
import { InvalidStateError, TimeoutError } from './errors.js';
import { Lock } from './lock.js';
import { checkInteger, checkWaitOptions, describeValue } from './options.js';
import { now } from './internal/timer.js';
import type { WaitOptions } from './options.js';
import { timedOutMessage, WaiterQueue } from './waiter.js';
import type { WaiterHost } from './waiter.js';

/**
 * A condition variable with asyncio semantics. `wait()` must be called holding the lock; it releases
 * the lock, waits for a `notify()`, and re-acquires the lock before it returns — and also before it
 * throws, on abort or timeout, so the caller's `finally { release() }` is always right.
 *
 * A waiter that is notified and then aborted before it resumed — also while it waits to get the lock
 * back — re-acquires the lock, rejects with `signal.reason` and passes the notification on to the next
 * waiter, so no notification is lost. A `timeout` only bounds the wait for a notification: a waiter
 * notified in time resolves `true` however long it then waits for the lock.
 *
 * @example
 * ```ts
 * const cond = new Condition();
 * const items: string[] = [];
 * // consumer
 * const item = await cond.use(async () => {
 *   await cond.waitFor(() => items.length > 0, { timeout: 1000 });
 *   return items.shift();
 * });
 * // producer
 * await cond.use(() => { items.push('job'); cond.notify(); });
 * ```
 */
export class Condition {
  readonly #lock: Lock;
  readonly #waiters = new WaiterQueue<true>();
  readonly #host: WaiterHost<true> = {
    timeoutMessage: (ms) => timedOutMessage('Condition.wait()', ms, `${this.#waiters.length} waiting`),
  };

  /**
   * @param lock The lock to wait under; share one lock between several conditions on the same state.
   *   @default a new Lock
   * @throws {TypeError} when `lock` is not a Lock.
   */
  constructor(lock?: Lock) {
    if (lock !== undefined && !(lock instanceof Lock)) {
      throw new TypeError(`lock must be a Lock, got ${describeValue(lock)}`);
    }
    this.#lock = lock ?? new Lock();
  }

  /** True while the underlying lock is held. */
  locked(): boolean {
    return this.#lock.locked();
  }

  /** Number of callers waiting for a notification. */
  get waiting(): number {
    return this.#waiters.length;
  }

  /**
   * Acquires the underlying lock (see {@link Lock.acquire}).
   *
   * @example
   * ```ts
   * await cond.acquire({ timeout: 1000 });
   * try { cond.notifyAll(); } finally { cond.release(); }
   * ```
   */
  acquire(opts?: WaitOptions): Promise<void> {
    return this.#lock.acquire(opts);
  }

  /**
   * Releases the underlying lock (see {@link Lock.release}).
   *
   * @example
   * ```ts
   * cond.release();
   * ```
   */
  release(): void {
    this.#lock.release();
  }

  /**
   * Runs `fn` holding the underlying lock (see {@link Lock.use}).
   *
   * @example
   * ```ts
   * await cond.use(() => { ready = true; cond.notifyAll(); });
   * ```
   */
  use<R>(fn: () => R | PromiseLike<R>, opts?: WaitOptions): Promise<R> {
    return this.#lock.use(fn, opts);
  }

  /**
   * Releases the lock, waits for a notification, re-acquires the lock and resolves `true`.
   * The lock is re-acquired (without limit) before the call settles, even on abort or timeout.
   *
   * @param opts `signal` aborts the wait (rejects with `signal.reason`); `timeout` in ms bounds the
   *   wait for a notification, not the re-acquisition (`0` rejects at once). @default no timeout
   * @throws {TypeError | RangeError} synchronously on a bad option; rejects with `InvalidStateError`
   *   when the lock is not held.
   *
   * @example
   * ```ts
   * await cond.acquire();
   * try { while (!done) await cond.wait({ signal }); } finally { cond.release(); }
   * ```
   */
  wait(opts?: WaitOptions): Promise<true> {
    const refused = checkWaitOptions(opts);
    if (refused !== undefined) return refused;
    if (!this.#lock.locked()) {
      return Promise.reject(new InvalidStateError('Condition.wait() called without holding the lock'));
    }
    const timeout = opts?.timeout ?? Infinity;
    // A notification can never be had at once, so with timeout 0 we do not let go of the lock.
    if (timeout === 0) return Promise.reject(new TimeoutError(this.#host.timeoutMessage(0)));
    return this.#wait(opts?.signal, timeout);
  }

  /**
   * Waits until `predicate()` returns a truthy value and resolves with that value. The predicate is
   * checked first with the lock held, then after every notification.
   *
   * @param opts `signal` aborts; `timeout` in ms bounds the whole call (`0` = only if the predicate
   *   already holds). @default no timeout
   * @throws {TypeError | RangeError} synchronously on a bad argument; rejects with
   *   `InvalidStateError` when the lock is not held.
   *
   * @example
   * ```ts
   * const job = await cond.use(() => cond.waitFor(() => jobs.shift(), { timeout: 5000 }));
   * ```
   */
  waitFor<T>(predicate: () => T, opts?: WaitOptions): Promise<T> {
    if (typeof predicate !== 'function') {
      throw new TypeError(`predicate must be a function, got ${describeValue(predicate)}`);
    }
    const refused = checkWaitOptions(opts);
    if (refused !== undefined) return refused;
    if (!this.#lock.locked()) {
      return Promise.reject(new InvalidStateError('Condition.waitFor() called without holding the lock'));
    }
    return this.#waitFor(predicate, opts?.signal, opts?.timeout ?? Infinity);
  }

  /**
   * Wakes up to `n` waiters (oldest first). Each re-acquires the lock in turn after the caller releases it.
   *
   * @param n Number of waiters to wake (an integer ≥ 0). @default 1
   * @throws {InvalidStateError} when the lock is not held.
   *
   * @example
   * ```ts
   * await cond.use(() => { queue.push(job); cond.notify(); });
   * ```
   */
  notify(n = 1): void {
    checkInteger(n, 'n', 1, 0);
    if (!this.#lock.locked())
      throw new InvalidStateError('Condition.notify() called without holding the lock');
    for (let i = 0; i < n && this.#waiters.wakeFirst(true); i++);
  }

  /**
   * Wakes every waiter.
   *
   * @throws {InvalidStateError} when the lock is not held.
   *
   * @example
   * ```ts
   * await cond.use(() => { closed = true; cond.notifyAll(); });
   * ```
   */
  notifyAll(): void {
    if (!this.#lock.locked()) {
      throw new InvalidStateError('Condition.notifyAll() called without holding the lock');
    }
    this.#waiters.wakeAll(true);
  }

  async #wait(signal: AbortSignal | undefined, timeout: number): Promise<true> {
    const notified = this.#waiters.wait(this.#host, signal, timeout);
    this.#lock.release();
    let failure: { error: unknown } | undefined;
    try {
      await notified;
    } catch (error) {
      failure = { error };
    }
    // Whatever happened, the caller gets the lock back: it called us holding it.
    await this.#lock.acquire();
    if (failure !== undefined) throw failure.error;
    if (signal?.aborted) {
      // Notified, then aborted before resuming (even while getting the lock back): the abort wins, as
      // in asyncio (bpo-32841, gh-112202), and the notification moves on so that none is lost.
      this.#waiters.wakeFirst(true);
      throw signal.reason;
    }
    return true;
  }

  async #waitFor<T>(predicate: () => T, signal: AbortSignal | undefined, timeout: number): Promise<T> {
    const deadline = timeout === Infinity ? Infinity : now() + timeout;
    let result = predicate();
    while (!result) {
      const remaining = deadline === Infinity ? Infinity : deadline - now();
      try {
        if (remaining <= 0) throw new TimeoutError();
        await this.wait({ signal, timeout: remaining });
      } catch (err) {
        // Our own deadline only: an abort rejects with signal.reason as it is, even a TimeoutError.
        if (!(err instanceof TimeoutError) || (signal?.aborted === true && err === signal.reason)) throw err;
        throw new TimeoutError(
          timedOutMessage(
            'Condition.waitFor()',
            timeout,
            `predicate still false, ${this.#waiters.length} waiting`,
          ),
        );
      }
      result = predicate();
    }
    return result;
  }
}
