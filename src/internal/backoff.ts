/**
 * Internal: {@link Backoff}, the failure counter behind every reconnect and retry loop of the kit
 * that is not a plain {@link retry} call (a relay that keeps running, a pipelined connection slot
 * refilled in the background, a consumer re-subscribing). The delay formula is core's
 * `backoffDelay`, the only one.
 * @module
 */
import { backoffDelay, type BackoffOptions } from '../retry.js';
import { sleep } from '../timeout.js';

/**
 * Consecutive failures and the delay each calls for.
 *
 * @example
 * ```ts
 * const backoff = new Backoff({ initialDelay: 100, maxDelay: 5_000, jitter: 'equal' });
 * while (!signal.aborted) {
 *   try { await runOnce(); backoff.reset(); }
 *   catch { await backoff.wait(signal); }
 * }
 * ```
 */
export class Backoff {
  readonly #opts: BackoffOptions;
  #failures = 0;

  /** @throws {TypeError | RangeError} on bad options, at once rather than at the first failure. */
  constructor(opts: BackoffOptions) {
    backoffDelay(1, opts);
    this.#opts = opts;
  }

  /** Failures since the last {@link reset}. */
  get failures(): number {
    return this.#failures;
  }

  /** Counts a failure and returns the delay in ms to wait before the next try. */
  next(): number {
    return backoffDelay(++this.#failures, this.#opts);
  }

  /** A try succeeded: the next failure starts from the initial delay again. */
  reset(): void {
    this.#failures = 0;
  }

  /** Counts a failure and sleeps its delay; rejects with `signal.reason` on abort. */
  wait(signal?: AbortSignal): Promise<void> {
    return sleep(this.next(), { signal });
  }
}
