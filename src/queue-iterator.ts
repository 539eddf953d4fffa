/**
 * Internal: the async iterator behind `for await (const item of queue)`.
 * @module
 */
import { QueueShutDownError } from './errors.js';
import type { SignalOptions } from './options.js';

/**
 * What the iterator reads from: a queue's `get()` (declared here, not imported, so that `queue.ts`
 * can import this file without a cycle).
 *
 * @example
 * ```ts
 * const source: QueueSource<string> = new Queue<string>();
 * ```
 */
export interface QueueSource<T> {
  get(opts: SignalOptions): Promise<T>;
}

/**
 * Iterates a queue with `get()` until it is shut down and drained. `return()` (leaving a `for await`
 * early) withdraws a `get()` that is still pending, through the same abort path as any waiter, so an
 * item already handed to it goes back to the front of the queue instead of being lost.
 *
 * @example
 * ```ts
 * for await (const job of queue) handle(job); // queue[Symbol.asyncIterator]() returns a QueueIterator
 * ```
 */
export class QueueIterator<T> implements AsyncIterableIterator<T> {
  readonly #queue: QueueSource<T>;
  #controller: AbortController | undefined = undefined;
  #done = false;

  constructor(queue: QueueSource<T>) {
    this.#queue = queue;
  }

  async next(): Promise<IteratorResult<T, undefined>> {
    if (this.#done) return { done: true, value: undefined };
    this.#controller ??= new AbortController();
    const signal = this.#controller.signal;
    try {
      return { done: false, value: await this.#queue.get({ signal }) };
    } catch (err) {
      if (err instanceof QueueShutDownError || signal.aborted) {
        this.#done = true;
        return { done: true, value: undefined };
      }
      throw err;
    }
  }

  async return(): Promise<IteratorResult<T, undefined>> {
    this.#done = true;
    this.#controller?.abort();
    return { done: true, value: undefined };
  }

  [Symbol.asyncIterator](): this {
    return this;
  }
}
