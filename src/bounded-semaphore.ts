/**
 * BoundedSemaphore: a Semaphore that refuses to be released above its initial value.
 * @module
 */
import { InvalidStateError } from './errors.js';
import { Semaphore } from './semaphore.js';

/**
 * A {@link Semaphore} that catches release bugs: releasing more often than acquiring (which would
 * silently raise the limit of a plain Semaphore) throws `InvalidStateError`.
 *
 * @example
 * ```ts
 * const slots = new BoundedSemaphore(10);
 * await slots.acquire({ timeout: 1000 });
 * slots.release();
 * slots.release(); // throws InvalidStateError: the semaphore is already at 10 of 10
 * ```
 */
export class BoundedSemaphore extends Semaphore {
  readonly #bound: number;

  /**
   * @param value Number of permits, also the most there can ever be free (an integer ≥ 0). @default 1
   * @throws {RangeError} when `value` is negative or not an integer.
   */
  constructor(value = 1) {
    super(value);
    this.#bound = this.value;
  }

  /**
   * Returns a permit; throws `InvalidStateError` when every permit is already free.
   *
   * @example
   * ```ts
   * try { await work(); } finally { slots.release(); }
   * ```
   */
  override release(): void {
    // While anyone waits `value` is 0, so a permit handed to a waiter never trips this check.
    if (this.value >= this.#bound) {
      throw new InvalidStateError(
        `BoundedSemaphore.release() called more often than acquire() (${this.value} of ${this.#bound} already free)`,
      );
    }
    super.release();
  }
}
