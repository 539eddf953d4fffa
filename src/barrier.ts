/**
 * Barrier: lets a fixed number of parties wait for each other, cycle after cycle.
 * @module
 */
import { BrokenBarrierError, TimeoutError } from './errors.js';
import { checkInteger, checkWaitOptions } from './options.js';
import type { WaitOptions } from './options.js';
import { lateAbortWins, timedOutMessage, WaiterQueue } from './waiter.js';
import type { WaiterHost } from './waiter.js';

/**
 * A cyclic barrier with threading.Barrier / asyncio.Barrier semantics. Each `wait()` resolves with the
 * caller's arrival index (`0` for the first to arrive, `parties - 1` for the one that opens it) once
 * `parties` callers have arrived; the barrier then starts its next cycle at once.
 *
 * A waiter that is aborted or times out breaks the barrier: it rejects with its own reason (or
 * `TimeoutError`) and every other waiter with `BrokenBarrierError`, as do later calls until `reset()`.
 *
 * @example
 * ```ts
 * const barrier = new Barrier(3);
 * await Promise.all(workers.map(async (w) => {
 *   await w.load();
 *   const index = await barrier.wait({ timeout: 10_000 }); // all three are loaded past this line
 *   if (index === 0) log('all loaded');
 * }));
 * ```
 */
export class Barrier {
  readonly #parties: number;
  #broken = false;
  readonly #waiters = new WaiterQueue<number>();
  readonly #host: WaiterHost<number> = {
    timeoutMessage: (ms) =>
      timedOutMessage('Barrier.wait()', ms, `${this.#waiters.length} of ${this.#parties} parties waiting`),
    waiterGaveUp: () => this.#break(),
  };

  /**
   * @param parties Number of callers that must arrive before the barrier opens (an integer ≥ 1).
   * @throws {RangeError} when `parties` is below 1 or not an integer.
   */
  constructor(parties: number) {
    if (parties === undefined) throw new TypeError('parties must be an integer ≥ 1, got undefined');
    this.#parties = checkInteger(parties, 'parties', 1, 1);
  }

  /** Number of callers needed to open the barrier. */
  get parties(): number {
    return this.#parties;
  }

  /** Number of callers waiting in the current cycle. */
  get waiting(): number {
    return this.#waiters.length;
  }

  /** True after `abort()` or a waiter gave up, until `reset()`. */
  get broken(): boolean {
    return this.#broken;
  }

  /**
   * Waits until `parties` callers have arrived and resolves with this caller's arrival index.
   *
   * @param opts `signal` aborts the wait and breaks the barrier; `timeout` in ms (`0` = only if this
   *   caller is the last to arrive) rejects with `TimeoutError` and breaks it. @default no timeout
   * @throws {TypeError | RangeError} synchronously on a bad option; rejects with `BrokenBarrierError`
   *   when the barrier is or becomes broken.
   *
   * @example
   * ```ts
   * const index = await barrier.wait({ signal });
   * ```
   */
  wait(opts?: WaitOptions): Promise<number> {
    const refused = checkWaitOptions(opts);
    if (refused !== undefined) return refused;
    if (this.#broken) return Promise.reject(new BrokenBarrierError('Barrier.wait() on a broken barrier'));
    const index = this.#waiters.length;
    if (index + 1 === this.#parties) {
      // The last arrival opens the barrier; every waiter gets the index it arrived with.
      for (let w = this.#waiters.shift(); w; w = this.#waiters.shift()) w.wake(w.data as number);
      return Promise.resolve(index);
    }
    const signal = opts?.signal;
    const timeout = opts?.timeout ?? Infinity;
    if (timeout === 0) {
      const error = new TimeoutError(this.#host.timeoutMessage(0));
      this.#break();
      return Promise.reject(error);
    }
    const passed = this.#waiters.wait(this.#host, signal, timeout, index);
    // After the barrier opened the cycle is complete for everyone else: a late abort only decides
    // this caller's fate, there is nothing to hand on.
    return signal === undefined ? passed : lateAbortWins(passed, signal);
  }

  /**
   * Returns the barrier to its initial, unbroken state; callers waiting now reject with
   * `BrokenBarrierError`.
   *
   * @example
   * ```ts
   * if (barrier.broken) barrier.reset();
   * ```
   */
  reset(): void {
    this.#waiters.failAll(new BrokenBarrierError('Barrier was reset while waiting'));
    this.#broken = false;
  }

  /**
   * Breaks the barrier: waiting and future callers reject with `BrokenBarrierError` until `reset()`.
   *
   * @example
   * ```ts
   * signal.addEventListener('abort', () => barrier.abort());
   * ```
   */
  abort(): void {
    this.#broken = true;
    this.#waiters.failAll(new BrokenBarrierError('Barrier was aborted'));
  }

  #break(): void {
    this.#broken = true;
    this.#waiters.failAll(new BrokenBarrierError('Barrier is broken: a waiter was aborted or timed out'));
  }
}
