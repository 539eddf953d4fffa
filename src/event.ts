/**
 * Event: a flag that tasks can wait on until it is set.
 * @module
 */
import { checkWaitOptions } from './options.js';
import type { WaitOptions } from './options.js';
import { lateAbortWins, timedOutMessage, WaiterQueue } from './waiter.js';
import type { WaiterHost } from './waiter.js';

const TRUE: Promise<true> = Promise.resolve(true);

/**
 * An event with asyncio semantics: `set()` wakes every waiter and lets later `wait()` calls through
 * until `clear()`. Waiters are cancellable and time-limited; an abort that lands after `set()` woke a
 * waiter but before it resumed still wins (the waiter rejects with the reason).
 *
 * @example
 * ```ts
 * const ready = new Event();
 * void warmUp().then(() => ready.set());
 * await ready.wait({ timeout: 5000 }); // resolves true once set
 * ```
 */
export class Event {
  #set = false;
  readonly #waiters = new WaiterQueue<true>();
  readonly #host: WaiterHost<true> = {
    timeoutMessage: (ms) => timedOutMessage('Event.wait()', ms, `not set, ${this.#waiters.length} waiting`),
  };

  /** True while the event is set. */
  isSet(): boolean {
    return this.#set;
  }

  /** Number of callers waiting in `wait()`. */
  get waiting(): number {
    return this.#waiters.length;
  }

  /**
   * Sets the event and wakes every waiter.
   *
   * @example
   * ```ts
   * shutdownRequested.set();
   * ```
   */
  set(): void {
    if (this.#set) return;
    this.#set = true;
    this.#waiters.wakeAll(true);
  }

  /**
   * Clears the event: later `wait()` calls block until the next `set()`.
   *
   * @example
   * ```ts
   * if (paused.isSet()) paused.clear();
   * ```
   */
  clear(): void {
    this.#set = false;
  }

  /**
   * Resolves `true` once the event is set (at once if it already is).
   *
   * @param opts `signal` aborts the wait (rejects with `signal.reason`); `timeout` in ms
   *   (`0` = only if already set) rejects with `TimeoutError`. @default no timeout
   * @throws {TypeError | RangeError} synchronously on a bad option.
   *
   * @example
   * ```ts
   * await ready.wait({ signal });
   * ```
   */
  wait(opts?: WaitOptions): Promise<true> {
    const refused = checkWaitOptions(opts);
    if (refused !== undefined) return refused;
    if (this.#set) return TRUE;
    const signal = opts?.signal;
    const woken = this.#waiters.wait(this.#host, signal, opts?.timeout ?? Infinity);
    // An abort after the wake-up still wins (DESIGN §2); nothing was handed over, so nothing moves on.
    return signal === undefined ? woken : lateAbortWins(woken, signal);
  }
}
