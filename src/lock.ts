/**
 * Lock: a fair (FIFO, no barging) cancellable mutual-exclusion lock.
 * @module
 */
import { InvalidStateError } from './errors.js';
import { checkWaitOptions, describeValue } from './options.js';
import type { WaitOptions } from './options.js';
import { lateAbortWins, timedOutMessage, WaiterQueue } from './waiter.js';
import type { WaiterHost } from './waiter.js';

// Shared by every uncontended acquire: the fast path allocates nothing.
const ACQUIRED: Promise<void> = Promise.resolve();

/**
 * A mutual-exclusion lock with asyncio semantics. Waiters get the lock in FIFO order; `release()`
 * hands it straight to the oldest waiter, so a caller arriving later can never take it first.
 * The lock is not owned by a task: any code may release it (as asyncio.Lock, unlike threading.RLock).
 *
 * An abort that lands after a waiter was handed the lock but before it resumed still wins: the waiter
 * rejects with the reason and hands the lock on.
 *
 * @example
 * ```ts
 * const lock = new Lock();
 * await lock.use(async () => {
 *   const balance = await readBalance();
 *   await writeBalance(balance + 10); // no other holder interleaves here
 * }, { timeout: 1000 });
 * ```
 */
export class Lock {
  #locked = false;
  readonly #waiters = new WaiterQueue<void>();
  readonly #host: WaiterHost<void> = {
    timeoutMessage: (ms) =>
      timedOutMessage(
        'Lock.acquire()',
        ms,
        `${this.#locked ? 'locked' : 'unlocked'}, ${this.#waiters.length} waiting`,
      ),
  };
  // A waiter aborted after it was handed the lock hands it on.
  readonly #handOn = (): void => this.release();

  /** True while somebody holds the lock. */
  locked(): boolean {
    return this.#locked;
  }

  /** Number of callers waiting in `acquire()`. */
  get waiting(): number {
    return this.#waiters.length;
  }

  /**
   * Takes the lock, waiting in FIFO order while it is held.
   *
   * @param opts `signal` aborts the wait (rejects with `signal.reason`); `timeout` in ms
   *   (`0` = only if free at once) rejects with `TimeoutError`. @default no timeout
   * @throws {TypeError | RangeError} synchronously on a bad option.
   *
   * @example
   * ```ts
   * await lock.acquire({ signal });
   * try { await critical(); } finally { lock.release(); }
   * ```
   */
  acquire(opts?: WaitOptions): Promise<void> {
    const refused = checkWaitOptions(opts);
    if (refused !== undefined) return refused;
    if (!this.#locked && this.#waiters.length === 0) {
      this.#locked = true;
      return ACQUIRED;
    }
    const signal = opts?.signal;
    const woken = this.#waiters.wait(this.#host, signal, opts?.timeout ?? Infinity);
    return signal === undefined ? woken : lateAbortWins(woken, signal, this.#handOn);
  }

  /**
   * Releases the lock, handing it to the oldest waiter if there is one.
   *
   * @throws {InvalidStateError} when the lock is not held.
   *
   * @example
   * ```ts
   * lock.release();
   * ```
   */
  release(): void {
    if (!this.#locked) throw new InvalidStateError('Lock.release() called on an unlocked lock');
    if (!this.#waiters.wakeFirst(undefined)) this.#locked = false;
  }

  /**
   * Runs `fn` holding the lock and releases it however `fn` ends.
   *
   * @param opts As for {@link Lock.acquire}; they bound the wait for the lock, not `fn`.
   *
   * @example
   * ```ts
   * const next = await lock.use(() => counter++);
   * ```
   */
  use<R>(fn: () => R | PromiseLike<R>, opts?: WaitOptions): Promise<R> {
    if (typeof fn !== 'function') throw new TypeError(`fn must be a function, got ${describeValue(fn)}`);
    return this.#acquireThenRun(this.acquire(opts), fn);
  }

  async #acquireThenRun<R>(acquired: Promise<void>, fn: () => R | PromiseLike<R>): Promise<R> {
    await acquired;
    try {
      return await fn();
    } finally {
      this.release();
    }
  }
}
