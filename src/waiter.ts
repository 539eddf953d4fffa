/**
 * Internal: the one waiting mechanism every primitive is built on.
 *
 * A {@link Waiter} is a pending promise bound to an optional AbortSignal and timeout, linked into
 * a {@link WaiterQueue} (an intrusive FIFO list, so leaving the middle of the queue on abort is O(1)
 * and leaves nothing behind). Waiters register themselves as the signal's listener object
 * (`handleEvent`) and schedule their timer with a shared function, so a pending waiter costs one
 * object and one promise, not a handful of closures.
 * @module
 */
import { TimeoutError } from './errors.js';

/** What a waiter's owner tells it: how to explain a timeout and what to do when a waiter gives up. */
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

/** A pending wait: resolved by its owner with {@link Waiter.wake}, rejected by abort or timeout. */
export class Waiter<T> {
  readonly promise: Promise<T>;
  readonly host: WaiterHost<T>;
  readonly signal: AbortSignal | undefined;
  readonly timeout: number;
  /** Free slot for the owner (the item a putter carries, the count a reader wants…). */
  data: unknown;
  prev: Waiter<T> | undefined = undefined;
  next: Waiter<T> | undefined = undefined;
  queue: WaiterQueue<T> | undefined = undefined;
  #resolve!: (value: T) => void;
  #reject!: (reason: unknown) => void;
  #timer: NodeJS.Timeout | undefined = undefined;
  #settled = false;

  constructor(host: WaiterHost<T>, signal: AbortSignal | undefined, timeout: number) {
    this.host = host;
    this.signal = signal;
    this.timeout = timeout;
    this.promise = new Promise<T>((resolve, reject) => {
      this.#resolve = resolve;
      this.#reject = reject;
    });
    signal?.addEventListener('abort', this);
    if (timeout !== Infinity) this.#timer = setTimeout(onTimer, timeout, this);
  }

  /** True once woken or given up. */
  get settled(): boolean {
    return this.#settled;
  }

  /** Resolves the waiter (and unlinks it). Returns false if it had already settled. */
  wake(value: T): boolean {
    if (!this.#settled) {
      this.#finish();
      this.#resolve(value);
      return true;
    }
    return false;
  }

  /** Rejects the waiter without telling the host (used by owners: shutdown, close, broken barrier). */
  fail(reason: unknown): boolean {
    if (!this.#settled) {
      this.#finish();
      this.#reject(reason);
      return true;
    }
    return false;
  }

  /** Abort or timeout: unlink, let the host react, reject. */
  giveUp(reason: unknown): void {
    if (this.#settled) return;
    this.#finish();
    this.host.waiterGaveUp?.(this, reason);
    this.#reject(reason);
  }

  /** EventListener object protocol: the signal aborted. */
  handleEvent(): void {
    this.giveUp(this.signal?.reason);
  }

  #finish(): void {
    this.#settled = true;
    this.queue?.remove(this);
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    this.signal?.removeEventListener('abort', this);
  }
}

/** Intrusive FIFO list of waiters with O(1) push, shift and removal from the middle. */
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
