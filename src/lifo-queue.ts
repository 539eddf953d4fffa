/**
 * LifoQueue: a {@link Queue} that hands out the most recently put item first.
 * @module
 */
import { Queue } from './queue.js';

/**
 * A last-in, first-out queue (a stack). Everything else — waiting, fairness among waiters, `maxsize`,
 * `taskDone`/`join`, `shutdown` — is {@link Queue}'s.
 *
 * @example
 * ```ts
 * const stack = new LifoQueue<number>();
 * stack.putNowait(1);
 * stack.putNowait(2);
 * await stack.get(); // 2
 * ```
 */
export class LifoQueue<T> extends Queue<T> {
  readonly #stack: T[] = [];

  protected override _size(): number {
    return this.#stack.length;
  }

  protected override _put(item: T): void {
    this.#stack.push(item);
  }

  protected override _get(): T {
    return this.#stack.pop() as T;
  }

  // The next item out of a stack is its top, so an item given back goes on top.
  protected override _putFront(item: T): void {
    this.#stack.push(item);
  }
}
