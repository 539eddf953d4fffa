/**
 * PriorityQueue: a {@link Queue} that hands out the smallest item first (binary heap).
 * @module
 */
import { describeValue } from './options.js';
import { Queue } from './queue.js';
import type { QueueOptions } from './queue.js';

/**
 * Options of {@link PriorityQueue}.
 *
 * @example
 * ```ts
 * const opts: PriorityQueueOptions<Job> = { maxsize: 50, compare: (a, b) => a.priority - b.priority };
 * ```
 */
export interface PriorityQueueOptions<T> extends QueueOptions {
  /**
   * Orders items: negative when `a` comes out before `b`, as for `Array.prototype.sort`.
   * @default ascending order by `<` (numbers, strings)
   */
  compare?: ((a: T, b: T) => number) | undefined;
}

function naturalOrder(a: unknown, b: unknown): number {
  return (a as number) < (b as number) ? -1 : (a as number) > (b as number) ? 1 : 0;
}

/**
 * A priority queue: `get()` returns the smallest item by `compare`. Everything else — waiting,
 * fairness among waiters, `maxsize`, `taskDone`/`join`, `shutdown` — is {@link Queue}'s. Items that
 * compare equal come out in no particular order; add a sequence number to the key to make it FIFO.
 *
 * @example
 * ```ts
 * const q = new PriorityQueue<{ priority: number; job: string }>({
 *   compare: (a, b) => a.priority - b.priority,
 * });
 * q.putNowait({ priority: 5, job: 'report' });
 * q.putNowait({ priority: 1, job: 'page on-call' });
 * (await q.get()).job; // 'page on-call'
 * ```
 */
export class PriorityQueue<T> extends Queue<T> {
  readonly #heap: T[] = [];
  readonly #compare: (a: T, b: T) => number;

  /**
   * @param opts See {@link PriorityQueueOptions}.
   * @throws {TypeError} when `compare` is not a function; {@link RangeError} on a bad `maxsize`.
   */
  constructor(opts?: PriorityQueueOptions<T>) {
    super(opts);
    const compare = opts?.compare;
    if (compare !== undefined && typeof compare !== 'function') {
      throw new TypeError(`compare must be a function, got ${describeValue(compare)}`);
    }
    this.#compare = compare ?? naturalOrder;
  }

  protected override _size(): number {
    return this.#heap.length;
  }

  protected override _put(item: T): void {
    const heap = this.#heap;
    let i = heap.push(item) - 1;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      const p = heap[parent] as T;
      if (this.#compare(item, p) >= 0) break;
      heap[i] = p;
      i = parent;
    }
    heap[i] = item;
  }

  protected override _get(): T {
    const heap = this.#heap;
    const top = heap[0] as T;
    const last = heap.pop() as T;
    const n = heap.length;
    if (n > 0) {
      let i = 0;
      for (;;) {
        let child = 2 * i + 1;
        if (child >= n) break;
        const right = child + 1;
        if (right < n && this.#compare(heap[right] as T, heap[child] as T) < 0) child = right;
        if (this.#compare(heap[child] as T, last) >= 0) break;
        heap[i] = heap[child] as T;
        i = child;
      }
      heap[i] = last;
    }
    return top;
  }

  // An item given back by an aborted getter simply rejoins the heap: priority decides where it goes.
  protected override _putFront(item: T): void {
    this._put(item);
  }
}
