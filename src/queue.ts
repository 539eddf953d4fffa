/**
 * Queue: an async FIFO queue with asyncio (Python 3.13) semantics, including shutdown.
 * @module
 */
import { InvalidStateError, QueueEmptyError, QueueFullError, QueueShutDownError } from './errors.js';
import { checkInteger, checkWaitOptions } from './options.js';
import type { WaitOptions } from './options.js';
import { Fifo } from './internal/fifo.js';
import { QueueIterator } from './queue-iterator.js';
import { lateAbortWins, timedOutMessage, WaiterQueue } from './waiter.js';
import type { WaiterHost } from './waiter.js';

const DONE: Promise<void> = Promise.resolve();

/**
 * Options of {@link Queue}.
 *
 * @example
 * ```ts
 * const jobs = new Queue<Job>({ maxsize: 100 } satisfies QueueOptions);
 * ```
 */
export interface QueueOptions {
  /** Most items the queue holds; `put()` waits while it is full. `0` means unbounded. @default 0 */
  maxsize?: number | undefined;
}

/**
 * An async queue with asyncio semantics (Python 3.13, `shutdown()` included), fair in both directions:
 * getters and putters are served in FIFO order and nobody can overtake a queued waiter. An item put
 * while getters wait goes straight to the oldest getter; a slot freed while putters wait goes straight
 * to the oldest putter. A getter aborted after it was handed an item puts it back at the front.
 *
 * Subclasses ({@link PriorityQueue}, {@link LifoQueue}) change only the storage order.
 *
 * @example
 * ```ts
 * const jobs = new Queue<Job>({ maxsize: 100 });
 * const worker = (async () => {
 *   for await (const job of jobs) { await run(job); jobs.taskDone(); } // ends after shutdown + drain
 * })();
 * await jobs.put(job, { timeout: 1000 }); // back-pressure: waits while 100 are queued
 * jobs.shutdown();
 * await worker;
 * ```
 */
export class Queue<T> implements AsyncIterable<T> {
  readonly #maxsize: number;
  readonly #items = new Fifo<T>();
  #unfinished = 0;
  #shutdown = false;
  #immediate = false;
  // Slots handed to woken putters that have not resumed yet: they count as taken, and while there are
  // any, a new put queues behind them so that items enter in the order their put() calls came.
  #reserved = 0;
  readonly #getters = new WaiterQueue<T>();
  readonly #putters = new WaiterQueue<void>();
  readonly #joiners = new WaiterQueue<void>();
  readonly #getHost: WaiterHost<T> = {
    timeoutMessage: (ms) => this.#timeoutMessage('get', ms, this.#getters.length),
  };
  readonly #putHost: WaiterHost<void> = {
    timeoutMessage: (ms) => this.#timeoutMessage('put', ms, this.#putters.length),
  };
  readonly #joinHost: WaiterHost<void> = {
    timeoutMessage: (ms) =>
      timedOutMessage(`${this.constructor.name}.join()`, ms, `${this.#unfinished} unfinished tasks`),
  };
  // A getter aborted after it was handed an item gives it back.
  readonly #giveBackItem = (item: T): void => this.#giveBack(item);

  /**
   * @param opts See {@link QueueOptions}.
   * @throws {RangeError} when `maxsize` is negative or not an integer.
   */
  constructor(opts?: QueueOptions) {
    this.#maxsize = checkInteger(opts?.maxsize, 'maxsize', 0, 0);
  }

  /** Number of items in the queue. */
  get size(): number {
    return this._size();
  }

  /** Most items the queue holds (`0` = unbounded). */
  get maxsize(): number {
    return this.#maxsize;
  }

  /** True when the queue holds no item. */
  empty(): boolean {
    return this._size() === 0;
  }

  /** True when `put()` would have to wait. */
  full(): boolean {
    return this.#maxsize > 0 && this._size() + this.#reserved >= this.#maxsize;
  }

  /**
   * Puts an item, waiting (FIFO) while the queue is full.
   *
   * @param opts `signal` aborts the wait; `timeout` in ms (`0` = only if there is room at once)
   *   rejects with `TimeoutError`. @default no timeout
   * @throws {TypeError | RangeError} synchronously on a bad option; rejects with `QueueShutDownError`
   *   once the queue is shut down.
   *
   * @example
   * ```ts
   * await queue.put({ id: 1 }, { signal });
   * ```
   */
  put(item: T, opts?: WaitOptions): Promise<void> {
    const refused = checkWaitOptions(opts);
    if (refused !== undefined) return refused;
    if (this.#shutdown) return Promise.reject(new QueueShutDownError('Queue.put() on a shut-down queue'));
    if (!this.#putMustWait()) {
      this.#accept(item);
      return DONE;
    }
    const signal = opts?.signal;
    const woken = this.#putters.wait(this.#putHost, signal, opts?.timeout ?? Infinity);
    return this.#putWhenWoken(woken, item, signal);
  }

  /**
   * Puts an item if there is room at once.
   *
   * @throws {QueueFullError} when the queue is full; {@link QueueShutDownError} once shut down.
   *
   * @example
   * ```ts
   * try { queue.putNowait(event); } catch (e) { if (e instanceof QueueFullError) dropped++; }
   * ```
   */
  putNowait(item: T): void {
    if (this.#shutdown) throw new QueueShutDownError('Queue.putNowait() on a shut-down queue');
    if (this.#putMustWait()) {
      throw new QueueFullError(`Queue is full (${this._size()} of ${this.#maxsize} items)`);
    }
    this.#accept(item);
  }

  /**
   * Removes and returns the next item, waiting (FIFO) while the queue is empty.
   *
   * @param opts `signal` aborts the wait; `timeout` in ms (`0` = only if an item is there at once)
   *   rejects with `TimeoutError`. @default no timeout
   * @throws {TypeError | RangeError} synchronously on a bad option; rejects with `QueueShutDownError`
   *   when the queue is shut down and empty.
   *
   * @example
   * ```ts
   * const job = await queue.get({ timeout: 5000 });
   * ```
   */
  get(opts?: WaitOptions): Promise<T> {
    const refused = checkWaitOptions(opts);
    if (refused !== undefined) return refused;
    if (this._size() > 0) return Promise.resolve(this.#take());
    if (this.#shutdown)
      return Promise.reject(new QueueShutDownError('Queue.get() on a shut-down, empty queue'));
    const signal = opts?.signal;
    const woken = this.#getters.wait(this.#getHost, signal, opts?.timeout ?? Infinity);
    // Handed an item, then aborted before resuming: the abort wins and the item goes back first in line.
    return signal === undefined ? woken : lateAbortWins(woken, signal, this.#giveBackItem);
  }

  /**
   * Removes and returns the next item if there is one.
   *
   * @throws {QueueEmptyError} when empty; {@link QueueShutDownError} when shut down and empty.
   *
   * @example
   * ```ts
   * while (!queue.empty()) batch.push(queue.getNowait());
   * ```
   */
  getNowait(): T {
    if (this._size() > 0) return this.#take();
    if (this.#shutdown) throw new QueueShutDownError('Queue.getNowait() on a shut-down, empty queue');
    throw new QueueEmptyError();
  }

  /**
   * Marks one item taken with `get()` as processed, for `join()`.
   *
   * @throws {InvalidStateError} when called more often than items were put.
   *
   * @example
   * ```ts
   * const job = await queue.get(); try { await run(job); } finally { queue.taskDone(); }
   * ```
   */
  taskDone(): void {
    if (this.#unfinished <= 0)
      throw new InvalidStateError('Queue.taskDone() called more times than items were put');
    if (--this.#unfinished === 0) this.#joiners.wakeAll(undefined);
  }

  /**
   * Waits until every item put has been marked with `taskDone()`.
   *
   * @param opts `signal` aborts the wait; `timeout` in ms rejects with `TimeoutError`. @default no timeout
   *
   * @example
   * ```ts
   * await queue.join({ timeout: 30_000 });
   * ```
   */
  join(opts?: WaitOptions): Promise<void> {
    const refused = checkWaitOptions(opts);
    if (refused !== undefined) return refused;
    if (this.#unfinished === 0) return DONE;
    const signal = opts?.signal;
    const woken = this.#joiners.wait(this.#joinHost, signal, opts?.timeout ?? Infinity);
    // An abort after the wake-up still wins (DESIGN §2); nothing was handed over, so nothing moves on.
    return signal === undefined ? woken : lateAbortWins(woken, signal);
  }

  /**
   * Shuts the queue down (Python 3.13): `put` rejects from now on, blocked putters and getters reject
   * with `QueueShutDownError`, and `get` does too once the queue is drained. With `immediate`, the
   * queued items are discarded at once (each counted as done for `join()`).
   *
   * @param immediate Discard the queued items instead of letting getters drain them. @default false
   *
   * @example
   * ```ts
   * queue.shutdown(); // consumers finish what is queued, then their `for await` ends
   * ```
   */
  shutdown(immediate = false): void {
    this.#shutdown = true;
    if (immediate) {
      this.#immediate = true;
      while (this._size() > 0) {
        this._get();
        if (this.#unfinished > 0) this.#unfinished--;
      }
      if (this.#unfinished === 0) this.#joiners.wakeAll(undefined);
    }
    this.#getters.failAll(new QueueShutDownError('Queue was shut down while get() waited'));
    this.#putters.failAll(new QueueShutDownError('Queue was shut down while put() waited'));
  }

  /**
   * Iterates with `get()` until the queue is shut down and drained. Leaving the loop early loses no
   * item: a `get()` still pending is withdrawn. Iteration does not call `taskDone()`.
   *
   * @example
   * ```ts
   * for await (const msg of queue) handle(msg);
   * ```
   */
  [Symbol.asyncIterator](): AsyncIterableIterator<T> {
    return new QueueIterator<T>(this);
  }

  /** Storage hook: number of stored items. */
  protected _size(): number {
    return this.#items.length;
  }

  /** Storage hook: stores an item. */
  protected _put(item: T): void {
    this.#items.push(item);
  }

  /** Storage hook: removes the next item (only called when `_size() > 0`). */
  protected _get(): T {
    return this.#items.shift();
  }

  /** Storage hook: stores an item given back by an aborted getter so that it comes out next. */
  protected _putFront(item: T): void {
    this.#items.unshift(item);
  }

  #accept(item: T): void {
    this.#unfinished++;
    // Getters only wait on an empty queue, so handing over directly keeps FIFO order.
    if (!this.#getters.wakeFirst(item)) this._put(item);
  }

  #putMustWait(): boolean {
    return this.#reserved > 0 || this.#putters.length > 0 || this.full();
  }

  #take(): T {
    const item = this._get();
    this.#wakePutter();
    return item;
  }

  #wakePutter(): void {
    while (this.#putters.length > 0 && !this.full()) {
      this.#reserved++;
      this.#putters.wakeFirst(undefined);
    }
  }

  async #putWhenWoken(woken: Promise<void>, item: T, signal: AbortSignal | undefined): Promise<void> {
    await woken;
    this.#reserved--;
    if (signal?.aborted) {
      // Handed a slot, then aborted before resuming: the abort wins and the slot moves on.
      this.#wakePutter();
      throw signal.reason;
    }
    if (this.#shutdown) throw new QueueShutDownError('Queue was shut down while put() waited');
    this.#accept(item);
    this.#wakePutter();
  }

  #giveBack(item: T): void {
    if (this.#immediate) {
      // `shutdown(true)` discarded everything queued; this item is discarded the same way.
      if (this.#unfinished > 0 && --this.#unfinished === 0) this.#joiners.wakeAll(undefined);
    } else if (!this.#getters.wakeFirst(item)) {
      this._putFront(item);
    }
  }

  #timeoutMessage(op: string, ms: number, waiting: number): string {
    const size = this.#maxsize > 0 ? `${this._size()} of ${this.#maxsize}` : `${this._size()}`;
    return timedOutMessage(`${this.constructor.name}.${op}()`, ms, `${size} items, ${waiting} waiting`);
  }
}
