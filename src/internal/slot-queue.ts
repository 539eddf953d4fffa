/**
 * Internal: the callers of a {@link Pool} waiting for a slot — FIFO, cancellable by their own signal,
 * with deadlines.
 *
 * The slots themselves are the permits of the pool's `BoundedSemaphore`; this queue holds the
 * callers who found none free, and a released slot is handed straight to the oldest of them (so the
 * semaphore's value stays 0 while anyone waits: no barging), together with the resource that came
 * back with it. Waiters are connkit `Waiter`s (the shared abort listener per signal comes with them)
 * armed without a timer of their own: callers with the same timeout share one timer, since their
 * deadlines fall in the order they queued. A timer per queued caller was a fifth of the pool's time
 * under contention (timer objects, list inserts and removals, clock reads).
 * @module
 */
import { Waiter, WaiterQueue } from '../waiter.js';
import type { WaiterHost } from '../waiter.js';

/** Longest delay setTimeout honours. */
const MAX_DELAY = 2_147_483_647;

/**
 * A caller queued for a slot. Resolves with itself once granted; `resource` then says what came with
 * the slot (`undefined`: the slot alone).
 *
 * @example
 * ```ts
 * const w = queue.wait(signal, 5000, undefined);
 * const granted = await w.promise; // granted === w
 * const lease = granted.resource !== undefined ? lend(granted.resource) : await obtain();
 * ```
 */
export class SlotWaiter<T> extends Waiter<SlotWaiter<T>> {
  /** The caller's timeout in ms (for messages). */
  readonly ms: number;
  /** `Date.now()` based; `Infinity` without a timeout. */
  readonly deadline: number;
  /** The stack of the `acquire()` call, kept for leak warnings. */
  readonly origin: Error | undefined;
  /** Handed over with the slot. */
  resource: T | undefined = undefined;
  /** Deadline bookkeeping, owned by the queue. */
  bucket: Bucket<T> | undefined = undefined;
  earlier: SlotWaiter<T> | undefined = undefined;
  later: SlotWaiter<T> | undefined = undefined;

  constructor(
    host: WaiterHost<SlotWaiter<T>>,
    signal: AbortSignal | undefined,
    ms: number,
    origin: Error | undefined,
  ) {
    super(host, signal, Infinity);
    this.ms = ms;
    this.deadline = ms === Infinity ? Infinity : Date.now() + ms;
    this.origin = origin;
  }
}

/**
 * The waiters with one timeout (rounded up to the ms), in deadline order, under one timer.
 *
 * @example
 * ```ts
 * queue.expire(bucket); // what its timer does
 * ```
 */
export class Bucket<T> {
  readonly key: number;
  readonly queue: SlotQueue<T>;
  first: SlotWaiter<T> | undefined = undefined;
  last: SlotWaiter<T> | undefined = undefined;
  timer: NodeJS.Timeout | undefined = undefined;
  /** The waiter the timer was armed for: it times out when the timer fires, whatever the clock says. */
  target: SlotWaiter<T> | undefined = undefined;
  refed = true;

  constructor(key: number, queue: SlotQueue<T>) {
    this.key = key;
    this.queue = queue;
  }
}

// eslint-disable-next-line @typescript-eslint/no-explicit-any -- shared by the buckets of every pool
function onBucketTimer(bucket: Bucket<any>): void {
  bucket.queue.expire(bucket);
}

/**
 * What the queue needs from its pool.
 *
 * @example
 * ```ts
 * const host: SlotQueueHost<Conn> = { timeoutError: (w) => new TimeoutError(`timed out after ${w.ms} ms`) };
 * ```
 */
export interface SlotQueueHost<T> {
  /** The error a waiter rejects with when its deadline passes (called just after it left the queue). */
  timeoutError(waiter: SlotWaiter<T>): unknown;
}

/**
 * FIFO queue of callers waiting for a pool slot.
 *
 * @example
 * ```ts
 * const queue = new SlotQueue<Conn>({ timeoutError: (w) => new TimeoutError(`after ${w.ms} ms`) });
 * const w = queue.wait(signal, 1000, undefined); // w.promise settles on grant, abort or timeout
 * queue.grant(conn); // in release(): the oldest waiter gets the slot and `conn`
 * ```
 */
export class SlotQueue<T> {
  readonly #waiters = new WaiterQueue<SlotWaiter<T>>();
  readonly #buckets = new Map<number, Bucket<T>>();
  readonly #host: SlotQueueHost<T>;
  readonly #waiterHost: WaiterHost<SlotWaiter<T>> = {
    timeoutMessage: () => 'unreachable: slot waiters have no timer of their own',
    waiterGaveUp: (waiter) => this.#unlink(waiter as SlotWaiter<T>),
  };

  constructor(host: SlotQueueHost<T>) {
    this.#host = host;
  }

  /** Callers waiting. */
  get length(): number {
    return this.#waiters.length;
  }

  /** Queues a caller; `ms` > 0 (a timeout of 0 never waits). */
  wait(signal: AbortSignal | undefined, ms: number, origin: Error | undefined): SlotWaiter<T> {
    const waiter = new SlotWaiter<T>(this.#waiterHost, signal, ms, origin);
    this.#waiters.push(waiter);
    if (ms !== Infinity) this.#link(waiter);
    return waiter;
  }

  /** Hands a slot (and `resource`, if any) to the oldest waiter; false when nobody waits. */
  grant(resource: T | undefined): boolean {
    const waiter = this.#waiters.peek() as SlotWaiter<T> | undefined;
    if (waiter === undefined) return false;
    if (waiter.bucket !== undefined) this.#unlink(waiter);
    waiter.resource = resource;
    waiter.wake(waiter);
    return true;
  }

  /** Rejects every waiter with `reason` (the pool closes). */
  failAll(reason: unknown): void {
    for (let w = this.#first(); w !== undefined; w = this.#first()) {
      if (w.bucket !== undefined) this.#unlink(w);
      w.fail(reason);
    }
  }

  #first(): SlotWaiter<T> | undefined {
    return this.#waiters.peek() as SlotWaiter<T> | undefined;
  }

  /** The timer of `bucket` fired: rejects the waiters whose deadline passed. */
  expire(bucket: Bucket<T>): void {
    const target = bucket.target;
    bucket.timer = undefined;
    bucket.target = undefined;
    const now = Date.now();
    for (let w = bucket.first; w !== undefined && (w === target || w.deadline <= now); w = bucket.first) {
      // Out of the queue before the error is made: its listeners may grant, close or queue.
      this.#waiters.remove(w);
      this.#unlink(w);
      w.fail(this.#host.timeoutError(w));
    }
    // A listener may have queued a caller meanwhile, and armed the timer for it.
    if (bucket.timer !== undefined) return;
    if (bucket.first !== undefined) this.#arm(bucket, bucket.first);
    else if (this.#buckets.get(bucket.key) === bucket) this.#buckets.delete(bucket.key);
  }

  #link(w: SlotWaiter<T>): void {
    const key = Math.ceil(w.ms);
    let bucket = this.#buckets.get(key);
    if (bucket === undefined) {
      bucket = new Bucket<T>(key, this);
      this.#buckets.set(key, bucket);
    }
    w.bucket = bucket;
    w.earlier = bucket.last;
    if (bucket.last === undefined) bucket.first = w;
    else bucket.last.later = w;
    bucket.last = w;
    if (bucket.timer === undefined) this.#arm(bucket, w);
    else if (!bucket.refed) {
      // Armed for an earlier waiter that left: it fires early, finds nobody due and re-arms.
      bucket.timer.ref();
      bucket.refed = true;
    }
  }

  #unlink(w: SlotWaiter<T>): void {
    const bucket = w.bucket;
    if (bucket === undefined) return;
    if (w.earlier === undefined) bucket.first = w.later;
    else w.earlier.later = w.later;
    if (w.later === undefined) bucket.last = w.earlier;
    else w.later.earlier = w.earlier;
    w.bucket = w.earlier = w.later = undefined;
    if (bucket.target === w) bucket.target = undefined;
    if (bucket.first === undefined && bucket.timer !== undefined) {
      // Left armed for the next caller with this timeout (the common case under load) but no longer
      // keeping the process alive; it drops the bucket when it fires empty.
      bucket.timer.unref();
      bucket.refed = false;
    }
  }

  #arm(bucket: Bucket<T>, w: SlotWaiter<T>): void {
    const left = Math.ceil(w.deadline - Date.now());
    const delay = Math.max(1, Math.min(left, MAX_DELAY));
    bucket.timer = setTimeout(onBucketTimer, delay, bucket);
    // A deadline beyond what setTimeout can wait for is reached in steps, checked against the clock.
    bucket.target = left > MAX_DELAY ? undefined : w;
    bucket.refed = true;
  }
}
