/**
 * Internal: the one waiting mechanism every primitive is built on.
 *
 * A {@link Waiter} is a pending promise bound to an optional AbortSignal and timeout, linked into
 * a {@link WaiterQueue} (an intrusive FIFO list, so leaving the middle of the queue on abort is O(1)
 * and leaves nothing behind). All waiters on one signal share a single abort listener (see
 * `internal/abort-watch.ts`), and timers use a shared function, so a pending waiter costs one object and one promise, not a handful of closures.
 * @module
 */
import { TimeoutError } from './errors.js';
import { unwatchAbort, watchAbort } from './internal/abort-watch.js';
import type { AbortWatcher } from './internal/abort-watch.js';
import { MAX_TIMEOUT, now } from './internal/timer.js';

/**
 * What a waiter's owner tells it: how to explain a timeout and what to do when a waiter gives up.
 *
 * @example
 * ```ts
 * const host: WaiterHost<void> = { timeoutMessage: (ms) => timedOutMessage('Gate.wait()', ms, 'closed') };
 * ```
 */
export interface WaiterHost<T = unknown> {
  /** Message of the `TimeoutError`, with the owner's state (e.g. `(2 held, 5 waiting)`). */
  timeoutMessage(ms: number): string;
  /** Called after an aborted or timed-out waiter has left its queue, before it rejects. */
  waiterGaveUp?(waiter: Waiter<T>, reason: unknown): void;
}

// eslint-disable-next-line @typescript-eslint/no-explicit-any -- the timer callback is shared by all waiter types
function onTimer(waiter: Waiter<any>): void {
  waiter.giveUp(new TimeoutError(waiter.host.timeoutMessage(waiter.timeout)));
}

/**
 * A pending wait: resolved by its owner with {@link Waiter.wake}, rejected by abort or timeout.
 *
 * @example
 * ```ts
 * const waiter = new Waiter<void>(host, signal, 1000);
 * queue.push(waiter);
 * await waiter.promise; // resolved by waiter.wake(), rejected on abort/timeout
 * ```
 */
export class Waiter<T> implements AbortWatcher {
  readonly promise: Promise<T>;
  readonly host: WaiterHost<T>;
  readonly signal: AbortSignal | undefined;
  readonly timeout: number;
  /** Free slot for the owner (the item a putter carries, the count a reader wants…). */
  data: unknown;
  prev: Waiter<T> | undefined = undefined;
  next: Waiter<T> | undefined = undefined;
  queue: WaiterQueue<T> | undefined = undefined;
  // Only `resolve` is kept (undefined once settled): a rejection resolves with a rejected promise, so
  // the `reject` function can be collected — it is a sizeable share of a pending waiter's memory.
  #resolve: ((value: T | PromiseLike<T>) => void) | undefined;
  #timer: NodeJS.Timeout | undefined = undefined;

  constructor(host: WaiterHost<T>, signal: AbortSignal | undefined, timeout: number) {
    this.host = host;
    this.signal = signal;
    this.timeout = timeout;
    let resolve!: (value: T | PromiseLike<T>) => void;
    this.promise = new Promise<T>((res) => (resolve = res));
    this.#resolve = resolve;
    if (signal !== undefined) watchAbort(signal, this);
    if (timeout !== Infinity) {
      this.#timer =
        timeout <= MAX_TIMEOUT ? setTimeout(onTimer, timeout, this) : Waiter.#armLong(this, now() + timeout);
    }
  }

  // setTimeout fires at once for delays above 2^31-1 ms (~24.8 days), so long timeouts go in steps
  // (checked against the kit's one clock).
  static #armLong<U>(waiter: Waiter<U>, deadline: number): NodeJS.Timeout {
    const left = deadline - now();
    return left > MAX_TIMEOUT
      ? setTimeout(() => (waiter.#timer = Waiter.#armLong(waiter, deadline)), MAX_TIMEOUT)
      : setTimeout(onTimer, Math.max(0, left), waiter);
  }

  /** Resolves the waiter (and unlinks it). Returns false if it had already settled. */
  wake(value: T): boolean {
    const resolve = this.#finish();
    if (resolve === undefined) return false;
    resolve(value);
    return true;
  }

  /** Rejects the waiter without telling the host (used by owners: shutdown, close, broken barrier). */
  fail(reason: unknown): boolean {
    const resolve = this.#finish();
    if (resolve === undefined) return false;
    resolve(Promise.reject(reason));
    return true;
  }

  /** Abort or timeout: unlink, let the host react, reject. */
  giveUp(reason: unknown): void {
    const resolve = this.#finish();
    if (resolve === undefined) return;
    this.host.waiterGaveUp?.(this, reason);
    resolve(Promise.reject(reason));
  }

  /** Marks the waiter settled and unlinks it everywhere; returns its resolver, or undefined if already settled. */
  #finish(): ((value: T | PromiseLike<T>) => void) | undefined {
    const resolve = this.#resolve;
    if (resolve === undefined) return undefined;
    this.#resolve = undefined;
    this.queue?.remove(this);
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    if (this.signal !== undefined) unwatchAbort(this.signal, this);
    return resolve;
  }
}

/**
 * Intrusive FIFO list of waiters with O(1) push, shift and removal from the middle.
 *
 * @example
 * ```ts
 * const waiters = new WaiterQueue<void>();
 * const woken = waiters.wait(host, signal, timeout);
 * waiters.wakeFirst(undefined);
 * ```
 */
export class WaiterQueue<T> {
  #head: Waiter<T> | undefined = undefined;
  #tail: Waiter<T> | undefined = undefined;
  #length = 0;

  get length(): number {
    return this.#length;
  }

  /** The oldest waiter, left in place. */
  peek(): Waiter<T> | undefined {
    return this.#head;
  }

  /**
   * Queues a new waiter (carrying `data`) and returns its promise. With `timeout` 0 — "only if
   * available at once", and the caller found nothing available — it rejects with the host's
   * `TimeoutError` instead and queues nothing.
   */
  wait(host: WaiterHost<T>, signal: AbortSignal | undefined, timeout: number, data?: unknown): Promise<T> {
    if (timeout === 0) return Promise.reject(new TimeoutError(host.timeoutMessage(0)));
    const waiter = new Waiter<T>(host, signal, timeout);
    waiter.data = data;
    this.push(waiter);
    return waiter.promise;
  }

  push(waiter: Waiter<T>): void {
    waiter.queue = this;
    waiter.prev = this.#tail;
    waiter.next = undefined;
    if (this.#tail) this.#tail.next = waiter;
    else this.#head = waiter;
    this.#tail = waiter;
    this.#length++;
  }

  /** Removes and returns the oldest waiter. */
  shift(): Waiter<T> | undefined {
    const head = this.#head;
    if (head) this.remove(head);
    return head;
  }

  remove(waiter: Waiter<T>): void {
    if (waiter.queue !== this) return;
    if (waiter.prev) waiter.prev.next = waiter.next;
    else this.#head = waiter.next;
    if (waiter.next) waiter.next.prev = waiter.prev;
    else this.#tail = waiter.prev;
    waiter.prev = waiter.next = waiter.queue = undefined;
    this.#length--;
  }

  /** Wakes the oldest waiter with `value`; false when nobody waits. */
  wakeFirst(value: T): boolean {
    const first = this.#head;
    return first ? first.wake(value) : false;
  }

  /** Rejects every waiter with `reason` and empties the queue. */
  failAll(reason: unknown): void {
    for (let w = this.#head; w; w = this.#head) w.fail(reason);
  }

  /** Wakes every waiter with `value` and empties the queue. */
  wakeAll(value: T): void {
    for (let w = this.#head; w; w = this.#head) w.wake(value);
  }
}

/**
 * The one shape of a wait's `TimeoutError` message (DESIGN §9): the call, the limit and the state
 * that explains it, e.g. `Lock.acquire() timed out after 50 ms (locked, 3 waiting)`.
 *
 * @example
 * ```ts
 * timedOutMessage('Lock.acquire()', 50, 'locked, 3 waiting');
 * // 'Lock.acquire() timed out after 50 ms (locked, 3 waiting)'
 * ```
 */
export function timedOutMessage(call: string, ms: number, state: string): string {
  return `${call} timed out after ${ms} ms (${state})`;
}

/**
 * Follows a woken waiter's promise: resolves with what it was handed, unless `signal` aborted between
 * the wake-up and the caller resuming. Then the abort wins (DESIGN §2): `handOn(value)` passes what
 * it was handed on (permit, lock, item…) and the call rejects with `signal.reason`.
 *
 * @example
 * ```ts
 * const woken = waiters.wait(host, signal, timeout);
 * return signal === undefined ? woken : lateAbortWins(woken, signal, () => this.release());
 * ```
 */
export async function lateAbortWins<T>(
  woken: Promise<T>,
  signal: AbortSignal,
  handOn?: (value: T) => void,
): Promise<T> {
  const value = await woken;
  if (signal.aborted) {
    handOn?.(value);
    throw signal.reason;
  }
  return value;
}
