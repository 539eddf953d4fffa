/**
 * Semaphore: a counter of permits with a fair (FIFO, no barging) cancellable wait.
 * @module
 */
import { checkInteger, checkWaitOptions, describeValue } from './options.js';
import type { WaitOptions } from './options.js';
import { timedOutMessage, WaiterQueue } from './waiter.js';
import type { Waiter, WaiterHost } from './waiter.js';

// Shared by every uncontended acquire: the fast path allocates nothing.
const ACQUIRED: Promise<void> = Promise.resolve();
// Marks a waiting `acquire()` that has a signal (see `Semaphore#waiters`).
const ACQUIRE = Symbol('acquire');

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
  // A waiter's `data` says what to do once it has a permit: nothing (a plain `acquire()` without a
  // signal), ACQUIRE (an `acquire()` with a signal: check for a late abort) or the function `use()` runs.
  // Woken waiters with work to do resolve with themselves, so one shared callback (`#onWoken`) takes
  // over instead of a closure or a suspended async function per waiter: half the memory, less GC.
  readonly #waiters = new WaiterQueue<unknown>();
  readonly #host: WaiterHost<unknown>;
  readonly #onWoken: (woken: unknown) => unknown;

  /**
   * @param value Number of permits available at start (an integer ≥ 0). @default 1
   * @throws {RangeError} when `value` is negative or not an integer.
   */
  constructor(value = 1) {
    this.#value = checkInteger(value, 'Semaphore value', 1, 0);
    this.#initial = this.#value;
    this.#host = {
      timeoutMessage: (ms) =>
        timedOutMessage(
          `${this.constructor.name}.acquire()`,
          ms,
          `${this.#value} of ${this.#initial} free, ${this.#waiters.length} waiting`,
        ),
    };
    this.#onWoken = (woken) => {
      const waiter = woken as Waiter<unknown>;
      const signal = waiter.signal;
      // Aborted between being handed the permit and resuming: the abort wins, the permit moves on.
      if (signal?.aborted) {
        this.release();
        throw signal.reason;
      }
      const fn = waiter.data;
      return fn === ACQUIRE ? undefined : this.#run(fn as () => unknown);
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
    const refused = checkWaitOptions(opts);
    if (refused !== undefined) return refused;
    if (this.#value > 0 && this.#waiters.length === 0) {
      this.#value--;
      return ACQUIRED;
    }
    // Without a signal nothing can interrupt a woken waiter, so it needs no follow-up.
    return this.#enqueue(opts?.signal === undefined ? undefined : ACQUIRE, opts) as Promise<void>;
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
    const first = this.#waiters.peek();
    if (first === undefined) this.#value++;
    else first.wake(first.data === undefined ? undefined : first);
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
    const refused = checkWaitOptions(opts);
    if (refused !== undefined) return refused;
    if (this.#value > 0 && this.#waiters.length === 0) {
      this.#value--;
      return this.#run(fn);
    }
    return this.#enqueue(fn, opts) as Promise<R>;
  }

  async #run<R>(fn: () => R | PromiseLike<R>): Promise<R> {
    try {
      return await fn();
    } finally {
      this.release();
    }
  }

  #enqueue(data: unknown, opts: WaitOptions | undefined): Promise<unknown> {
    const woken = this.#waiters.wait(this.#host, opts?.signal, opts?.timeout ?? Infinity, data);
    return data === undefined ? woken : woken.then(this.#onWoken);
  }
}
