/**
 * Semaphore: a counter of permits with a fair (FIFO, no barging) cancellable wait.
 * @module
 */
import { TimeoutError } from './errors.js';
import { checkDuration, checkInteger, checkSignal, describeValue } from './options.js';
import type { WaitOptions } from './options.js';
import { Waiter, WaiterQueue } from './waiter.js';
import type { WaiterHost } from './waiter.js';

// Shared by every uncontended acquire: the fast path allocates nothing.
const ACQUIRED: Promise<void> = Promise.resolve();

/**
 * A semaphore with asyncio semantics: `acquire()` takes a permit or waits for one in FIFO order,
 * `release()` hands a permit straight to the oldest waiter (so `value` stays 0 while anyone waits).
 * A free permit can never be taken by a caller that arrived after a waiter (no barging).
 *
 * Every wait takes `{ signal, timeout }`. An abort that lands after the waiter was handed its permit
 * but before it resumed still wins: the waiter rejects with the reason and passes the permit on.
 *
 * @example
 * ```ts
 * const sem = new Semaphore(3);
 * // At most 3 downloads at a time; give up if no slot frees within 5 s.
 * const pages = await Promise.all(urls.map((url) => sem.use(() => fetch(url), { timeout: 5000 })));
 * ```
 */
export class Semaphore {
  #value: number;
  readonly #initial: number;
  readonly #waiters = new WaiterQueue<void>();
  readonly #host: WaiterHost<void>;

  /**
   * @param value Number of permits available at start (an integer ≥ 0). @default 1
   * @throws {RangeError} when `value` is negative or not an integer.
   */
  constructor(value = 1) {
    this.#value = checkInteger(value, 'Semaphore value', 1, 0);
    this.#initial = this.#value;
    this.#host = {
      timeoutMessage: (ms) =>
        `${this.constructor.name}.acquire() timed out after ${ms} ms ` +
        `(${this.#value} of ${this.#initial} free, ${this.#waiters.length} waiting)`,
    };
  }

  /** Permits free right now (0 while anyone waits). */
  get value(): number {
    return this.#value;
  }

  /** Number of callers waiting in `acquire()`. */
  get waiting(): number {
    return this.#waiters.length;
  }

  /** True when `acquire()` would have to wait. */
  locked(): boolean {
    return this.#value === 0 || this.#waiters.length > 0;
  }

  /**
   * Takes a permit if one is free and nobody waits; never waits.
   *
   * @example
   * ```ts
   * if (sem.tryAcquire()) { try { work(); } finally { sem.release(); } }
   * ```
   */
  tryAcquire(): boolean {
    if (this.#value > 0 && this.#waiters.length === 0) {
      this.#value--;
      return true;
    }
    return false;
  }

  /**
   * Takes a permit, waiting in FIFO order for one to be released.
   *
   * @param opts `signal` aborts the wait (rejects with `signal.reason`); `timeout` in ms
   *   (`0` = only if free at once) rejects with `TimeoutError`. @default no timeout
   * @throws {TypeError | RangeError} synchronously on a bad option.
   *
   * @example
   * ```ts
   * await sem.acquire({ signal, timeout: 1000 });
   * try { await work(); } finally { sem.release(); }
   * ```
   */
  acquire(opts?: WaitOptions): Promise<void> {
    if (opts === undefined) {
      if (this.#value > 0 && this.#waiters.length === 0) {
        this.#value--;
        return ACQUIRED;
      }
      return this.#wait(undefined, Infinity);
    }
    const signal = checkSignal(opts.signal);
    const timeout = checkDuration(opts.timeout, 'timeout', Infinity);
    if (signal?.aborted) return Promise.reject(signal.reason);
    if (this.#value > 0 && this.#waiters.length === 0) {
      this.#value--;
      return ACQUIRED;
    }
    return this.#wait(signal, timeout);
  }

  /**
   * Returns a permit: to the oldest waiter if there is one, else to the pool of free permits.
   *
   * @example
   * ```ts
   * sem.release();
   * ```
   */
  release(): void {
    if (!this.#waiters.wakeFirst(undefined)) this.#value++;
  }

  /**
   * Runs `fn` holding a permit, and releases it however `fn` ends.
   *
   * @param opts As for {@link Semaphore.acquire}; they bound the wait for the permit, not `fn`.
   *
   * @example
   * ```ts
   * const rows = await sem.use(() => db.query('select 1'), { timeout: 2000 });
   * ```
   */
  use<R>(fn: () => R | PromiseLike<R>, opts?: WaitOptions): Promise<R> {
    if (typeof fn !== 'function') throw new TypeError(`fn must be a function, got ${describeValue(fn)}`);
    if (opts === undefined && this.#value > 0 && this.#waiters.length === 0) {
      this.#value--;
      return this.#run(fn);
    }
    return this.#acquireThenRun(this.acquire(opts), fn);
  }

  async #run<R>(fn: () => R | PromiseLike<R>): Promise<R> {
    try {
      return await fn();
    } finally {
      this.release();
    }
  }

  async #acquireThenRun<R>(acquired: Promise<void>, fn: () => R | PromiseLike<R>): Promise<R> {
    await acquired;
    try {
      return await fn();
    } finally {
      this.release();
    }
  }

  #wait(signal: AbortSignal | undefined, timeout: number): Promise<void> {
    if (timeout === 0) return Promise.reject(new TimeoutError(this.#host.timeoutMessage(0)));
    const waiter = new Waiter<void>(this.#host, signal, timeout);
    this.#waiters.push(waiter);
    // Without a signal nothing can interrupt a woken waiter, so its promise is the answer as is.
    return signal === undefined ? waiter.promise : this.#settle(waiter.promise, signal);
  }

  async #settle(woken: Promise<void>, signal: AbortSignal): Promise<void> {
    await woken;
    // Aborted between being handed the permit and resuming: the abort wins, the permit moves on.
    if (signal.aborted) {
      this.release();
      throw signal.reason;
    }
  }
}
