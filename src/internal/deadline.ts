/**
 * Internal: {@link Deadline}, a timeout turned once into a point on the kit's one clock, so that a
 * call that passes through several layers (wait for a connection, run the statement, cancel it)
 * shares one budget instead of converting a timeout to a deadline and back at every hop.
 * @module
 */
import { now } from './timer.js';

/**
 * When a call must be over: `at` on the {@link now} scale (`Infinity` = never), and the timeout it
 * came from, for messages.
 *
 * @example
 * ```ts
 * const deadline = Deadline.after(opts.timeout ?? 30_000);
 * const conn = await pool.acquire({ signal, timeout: deadline.remaining() });
 * if (deadline.expired()) throw new TimeoutError(`… after ${deadline.ms} ms`);
 * ```
 */
export class Deadline {
  /** The deadline that never comes. */
  static readonly NEVER = new Deadline(Infinity, Infinity);

  /** Point on the {@link now} scale, or `Infinity`. */
  readonly at: number;
  /** The timeout in ms this deadline was made from (for messages). */
  readonly ms: number;

  private constructor(at: number, ms: number) {
    this.at = at;
    this.ms = ms;
  }

  /**
   * The deadline `ms` from now (`ms` ≥ 0 or `Infinity`, already validated by the caller).
   *
   * @example
   * ```ts
   * Deadline.after(Infinity) === Deadline.NEVER; // true
   * ```
   */
  static after(ms: number): Deadline {
    return ms === Infinity ? Deadline.NEVER : new Deadline(now() + ms, ms);
  }

  /** True for {@link Deadline.NEVER}. */
  get infinite(): boolean {
    return this.at === Infinity;
  }

  /** Milliseconds left, ≥ 0 (`Infinity` for none). */
  remaining(): number {
    return this.at === Infinity ? Infinity : Math.max(0, this.at - now());
  }

  /** True once the deadline has passed. */
  expired(): boolean {
    return this.at !== Infinity && now() >= this.at;
  }

  /**
   * The earlier of this deadline and one `ms` from now (e.g. a pool's `acquireTimeout` inside a
   * query's own timeout). Returns `this` when it already comes first.
   *
   * @example
   * ```ts
   * const waitUntil = deadline.atMost(acquireTimeout);
   * ```
   */
  atMost(ms: number): Deadline {
    if (ms === Infinity) return this;
    const other = now() + ms;
    return other < this.at ? new Deadline(other, ms) : this;
  }
}
