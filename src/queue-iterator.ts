/**
 * Internal: the async iterator behind `for await (const item of queue)`.
 * @module
 */
import { QueueShutDownError } from './errors.js';
import type { Queue } from './queue.js';

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
  readonly #queue: Queue<T>;
  #controller: AbortController | undefined = undefined;
  #done = false;

  constructor(queue: Queue<T>) {
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
