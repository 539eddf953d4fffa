/**
 * Internal: the slots of a {@link Pool} and the callers waiting for one — FIFO, cancellable by their own
 * signal, with deadlines.
 *
 * The slots are the permits of a `BoundedSemaphore(max)`: one is held by every lease, every acquire
 * that validates or creates, and every warm-up create, so `max` bounds everything at once. A slot that
 * frees while callers wait goes straight to the oldest of them (so the semaphore's value stays 0:
 * no barging), together with the resource that came back with it. Waiters are connkit `Waiter`s (one
 * shared abort listener per signal comes with them) with no timer of their own: their deadlines are
 * kept by a {@link DeadlineList}, one timer for all the callers with the same timeout.
 * @module
 */
import { BoundedSemaphore } from '../bounded-semaphore.js';
import { Waiter, WaiterQueue } from '../waiter.js';
import type { WaiterHost } from '../waiter.js';
import { DeadlineList } from './deadline-list.js';
import type { Expiring } from './deadline-list.js';

/**
 * A caller asking for a resource: what it allows (signal, deadline) and where it asked (leak warnings).
 *
 * @example
 * ```ts
 * const claim: Claim = { signal, ms: 5000, deadline: undefined, origin: undefined };
 * ```
 */
export interface Claim {
  readonly signal: AbortSignal | undefined;
  /** The caller's timeout in ms (for messages). */
  readonly ms: number;
  /**
   * Time on the kit's clock (`now()`) at which the caller times out (`Infinity`: never); `undefined` while it
   * has not waited yet (all of `ms` is left: the clock is read only if it comes to wait).
   */
  readonly deadline: number | undefined;
  /** The stack of the `acquire()` call, kept for leak warnings. */
  readonly origin: Error | undefined;
}

/**
 * A caller queued for a slot. Resolves with itself once granted; `resource` then says what came with
 * the slot (`undefined`: the slot alone).
 *
 * @example
 * ```ts
 * const w = slots.wait(signal, 5000, undefined);
 * const granted = await w.promise; // granted === w
 * const lease = granted.resource !== undefined ? lend(granted.resource) : await obtain();
 * ```
 */
export class SlotWaiter<T> extends Waiter<SlotWaiter<T>> implements Expiring, Claim {
  readonly ms: number;
  readonly origin: Error | undefined;
  /** Handed over with the slot. */
  resource: T | undefined = undefined;
  /** Set by the queue's DeadlineList. */
  deadline = Infinity;
  deadlineGroup: object | undefined = undefined;

  constructor(
    host: WaiterHost<SlotWaiter<T>>,
    signal: AbortSignal | undefined,
    ms: number,
    origin: Error | undefined,
  ) {
    super(host, signal, Infinity);
    this.ms = ms;
    this.origin = origin;
  }
}

/**
 * What the slots need from their pool.
 *
 * @example
 * ```ts
 * const host: SlotQueueHost<Conn> = { timeoutError: (w) => new TimeoutError(`after ${w.ms} ms`), freed() {} };
 * ```
 */
export interface SlotQueueHost<T> {
  /** The error a waiter rejects with when its deadline passes (called just after it left the queue). */
  timeoutError(waiter: SlotWaiter<T>): unknown;
  /** A slot went back to the semaphore. */
  freed(): void;
}

/**
 * The `max` slots of a pool and the FIFO queue of callers waiting for one.
 *
 * @example
 * ```ts
 * const slots = new SlotQueue<Conn>(10, host);
 * if (slots.take()) lendOrCreate();
 * else await slots.wait(signal, 1000, undefined).promise; // settles on grant, abort or timeout
 * if (!slots.give(conn)) { idle.push(conn); slots.free(); } // in release()
 * ```
 */
export class SlotQueue<T> {
  readonly #max: number;
  readonly #semaphore: BoundedSemaphore;
  readonly #waiters = new WaiterQueue<SlotWaiter<T>>();
  readonly #deadlines = new DeadlineList<SlotWaiter<T>>((w) => this.#expire(w));
  readonly #host: SlotQueueHost<T>;
  readonly #waiterHost: WaiterHost<SlotWaiter<T>> = {
    timeoutMessage: () => 'unreachable: slot waiters have no timer of their own',
    waiterGaveUp: (waiter) => this.#deadlines.delete(waiter as SlotWaiter<T>),
  };

  constructor(max: number, host: SlotQueueHost<T>) {
    this.#max = max;
    this.#semaphore = new BoundedSemaphore(max);
    this.#host = host;
  }

  /** Callers waiting. */
  get waiting(): number {
    return this.#waiters.length;
  }

  /** Slots taken (by leases, acquires under way and warm-up creates). */
  get held(): number {
    return this.#max - this.#semaphore.value;
  }

  /** Takes a free slot, only when nobody waits (a freed slot goes to the queue first). */
  take(): boolean {
    return this.#waiters.length === 0 && this.#semaphore.tryAcquire();
  }

  /** Queues a caller; `ms` > 0 (a timeout of 0 never waits). */
  wait(signal: AbortSignal | undefined, ms: number, origin: Error | undefined): SlotWaiter<T> {
    const waiter = new SlotWaiter<T>(this.#waiterHost, signal, ms, origin);
    this.#waiters.push(waiter);
    this.#deadlines.add(waiter, ms);
    return waiter;
  }

  /** Hands a slot (and `resource`, if any) to the oldest waiter; false when nobody waits. */
  give(resource: T | undefined): boolean {
    const waiter = this.#waiters.peek() as SlotWaiter<T> | undefined;
    if (waiter === undefined) return false;
    this.#deadlines.delete(waiter);
    waiter.resource = resource;
    waiter.wake(waiter);
    return true;
  }

  /** A slot goes back to the semaphore (nobody waits, or the pool is closing). */
  free(): void {
    this.#semaphore.release();
    this.#host.freed();
  }

  /** Rejects every waiter with `reason` (the pool closes). */
  failAll(reason: unknown): void {
    this.#deadlines.clear();
    this.#waiters.failAll(reason);
  }

  #expire(waiter: SlotWaiter<T>): void {
    // Out of the queue before the error is made: its listeners may free a slot, close or queue.
    this.#waiters.remove(waiter);
    waiter.fail(this.#host.timeoutError(waiter));
  }
}
