/**
 * Internal: FIFO storage — an array with a moving head, so `shift` is O(1) amortised and an item
 * given back can be put in front again without copying. Behind `Queue` and `DeadlineList`.
 * @module
 */

/**
 * FIFO storage with O(1) amortised `shift` and `unshift`.
 *
 * @example
 * ```ts
 * const items = new Fifo<string>();
 * items.push('a');
 * items.shift(); // 'a'
 * ```
 */
export class Fifo<T> {
  #items: (T | undefined)[] = [];
  #head = 0;

  get length(): number {
    return this.#items.length - this.#head;
  }

  push(item: T): void {
    this.#items.push(item);
  }

  /** The oldest item, left in place; `undefined` when empty. */
  peek(): T | undefined {
    return this.#items[this.#head];
  }

  /** Removes the oldest item; only called when `length > 0`. */
  shift(): T {
    const items = this.#items;
    const item = items[this.#head] as T;
    items[this.#head++] = undefined;
    if (this.#head === items.length) {
      this.#items = [];
      this.#head = 0;
    } else if (this.#head >= 1024 && this.#head * 2 >= items.length) {
      // Drop the consumed prefix once it dominates, so a long-lived queue does not grow without bound.
      this.#items = items.slice(this.#head);
      this.#head = 0;
    }
    return item;
  }

  unshift(item: T): void {
    if (this.#head > 0) this.#items[--this.#head] = item;
    else this.#items.unshift(item);
  }

  /** Drops every item at once. */
  clear(): void {
    this.#items = [];
    this.#head = 0;
  }
}
