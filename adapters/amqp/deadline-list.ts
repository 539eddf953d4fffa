/**
 * {@link DeadlineList}: many deadlines that share one timer. Publishes with the default timeout
 * expire in the order they were made, so a FIFO watched by a single timer replaces a `setTimeout`
 * per message (which would cost more than the publish itself).
 *
 * To be replaced by the core's generic shared-timer deadline list once it lands in
 * `src/internal/`: this module is the only one that knows how the publisher's deadlines are kept.
 * @module
 */
import { now, startTimerAt } from '../../src/internal/index.js';

/** Entries dropped from the head before the array is compacted. */
const COMPACT_AFTER = 1024;

/**
 * Items with deadlines on the {@link now} clock, added in deadline order (each deadline ≥ the
 * previous one), expired by one timer. Any duration works: the timer re-arms in steps past
 * `setTimeout`'s 2^31-1 ms limit.
 *
 * @example
 * ```ts
 * const list = new DeadlineList<Entry>((e) => e.settled, (e) => e.expire());
 * list.add(entry, now() + 30_000);
 * ```
 */
export class DeadlineList<T> {
  readonly #done: (item: T) => boolean;
  readonly #expire: (item: T) => void;
  #items: (T | undefined)[] = [];
  #deadlines: number[] = [];
  #head = 0;
  #cancelTimer: (() => void) | undefined = undefined;

  /**
   * @param done tells an item that no longer needs expiring (settled meanwhile); it is dropped
   * @param expire called once for each item whose deadline passed while not `done`
   */
  constructor(done: (item: T) => boolean, expire: (item: T) => void) {
    this.#done = done;
    this.#expire = expire;
  }

  /** Items held (including done ones not dropped yet). */
  get size(): number {
    return this.#items.length - this.#head;
  }

  /** Watches `item` until `deadline` (on the {@link now} scale, ≥ every deadline added before). */
  add(item: T, deadline: number): void {
    // Items usually finish in the order they came, so done ones gather at the head: drop them now
    // rather than at the next expiry, or the list would pin everything added within one timeout.
    this.#dropDone();
    this.#items.push(item);
    this.#deadlines.push(deadline);
    if (this.#cancelTimer === undefined) this.#arm(deadline);
  }

  /**
   * Forgets every item (all done), keeping the timer: with one publish at a time the list empties
   * after each confirm, and re-arming a timer per publish would cost more than the publish. The
   * timer finds nothing when it fires and stops; it never keeps the process alive.
   */
  forget(): void {
    this.#items.length = 0;
    this.#deadlines.length = 0;
    this.#head = 0;
  }

  /** Forgets every item and stops the timer. */
  clear(): void {
    this.#cancelTimer?.();
    this.#cancelTimer = undefined;
    this.forget();
  }

  #arm(deadline: number): void {
    // Unref'd: whatever waits on these deadlines (a connection, a reconnect loop) keeps the process alive.
    this.#cancelTimer = startTimerAt(deadline, this.#onTimer, true);
  }

  readonly #onTimer = (): void => {
    this.#cancelTimer = undefined;
    const at = now();
    while (this.#head < this.#items.length) {
      const item = this.#items[this.#head] as T;
      if (!this.#done(item)) {
        const deadline = this.#deadlines[this.#head] as number;
        if (deadline > at) {
          this.#compact();
          this.#arm(deadline);
          return;
        }
        this.#expire(item);
      }
      this.#items[this.#head++] = undefined;
    }
    this.forget();
  };

  #dropDone(): void {
    while (this.#head < this.#items.length && this.#done(this.#items[this.#head] as T)) {
      this.#items[this.#head++] = undefined;
    }
    if (this.#head === this.#items.length) {
      if (this.#head > 0) this.forget();
    } else this.#compact();
  }

  #compact(): void {
    if (this.#head > COMPACT_AFTER && this.#head * 2 > this.#items.length) {
      this.#items = this.#items.slice(this.#head);
      this.#deadlines = this.#deadlines.slice(this.#head);
      this.#head = 0;
    }
  }
}
