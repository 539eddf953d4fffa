/**
 * Internal: one `Pool.acquire()` call that could not be served at once. It owns an AbortController
 * that fires on the caller's signal, on its deadline, or when the pool closes; the work of getting a
 * resource (queueing for a slot, creating, validating) runs under that signal, and the caller's
 * promise settles the moment it fires — even if a factory ignores its signal. Whatever that work
 * yields later is handed back to the pool, never leaked.
 * @module
 */
import { unwatchAbort, watchAbort, type AbortWatcher } from './abort-watch.js';
import { startTimeout } from './at-once.js';

/**
 * What an acquisition needs from its pool.
 *
 * @example
 * ```ts
 * const host: AcquisitionHost<Lease<T>> = { timeoutError, settled: (a) => pending.delete(a), orphan: (l) => void l.returnUnused() };
 * ```
 */
export interface AcquisitionHost<L> {
  /** The error a timed-out acquisition rejects with (carries the pool's state). */
  timeoutError(acq: Acquisition<L>): Error;
  /** The acquisition settled (either way): forget it. */
  settled(acq: Acquisition<L>): void;
  /** A lease obtained for a caller who had already given up. */
  orphan(lease: L): void;
}

/**
 * One pending acquire: settles at once on abort, timeout or close; late work is handed back.
 *
 * @example
 * ```ts
 * const acq = new Acquisition(host, signal, 5000);
 * return acq.follow(obtain(acq.signal)); // rejects at the deadline even if obtain() hangs
 * ```
 */
export class Acquisition<L> implements AbortWatcher {
  readonly #controller = new AbortController();
  readonly #host: AcquisitionHost<L>;
  readonly #userSignal: AbortSignal | undefined;
  readonly #cancelTimer: () => void;
  readonly timeout: number;
  /** The last `factory.create` failure, the cause of a timeout that happened while retrying. */
  lastError: unknown = undefined;
  #done = false;
  #resolve!: (lease: L) => void;
  #reject!: (reason: unknown) => void;
  readonly promise: Promise<L>;

  /**
   * @param timeout the caller's timeout in ms (for messages).
   * @param left what is left of it (a queued caller spent some waiting for a slot). @default timeout
   */
  constructor(host: AcquisitionHost<L>, signal: AbortSignal | undefined, timeout: number, left = timeout) {
    this.#host = host;
    this.#userSignal = signal;
    this.timeout = timeout;
    this.promise = new Promise<L>((resolve, reject) => {
      this.#resolve = resolve;
      this.#reject = reject;
    });
    // One shared listener per signal (abort-watch): a request's signal given to many queued
    // acquires collects no listener per call and raises no MaxListenersExceededWarning.
    if (signal !== undefined) watchAbort(signal, this);
    // A caller whose deadline has come (left 0) gets only what settles at once, whatever the clock says.
    this.#cancelTimer = startTimeout(left, () => this.abort(host.timeoutError(this)));
  }

  /** Aborts when the caller gives up, times out, or the pool closes. */
  get signal(): AbortSignal {
    return this.#controller.signal;
  }

  /** Settles the caller's promise with `reason` at once and aborts the work. */
  abort(reason: unknown): void {
    if (this.#done) return;
    this.#finish();
    this.#controller.abort(reason);
    this.#reject(reason);
  }

  /** Follows the work; the first of its outcome and an abort wins. */
  follow(work: Promise<L>): Promise<L> {
    work.then(
      (lease) => {
        if (this.#done) return this.#host.orphan(lease);
        this.#finish();
        this.#resolve(lease);
      },
      (err: unknown) => {
        if (this.#done) return;
        this.#finish();
        this.#reject(err);
      },
    );
    return this.promise;
  }

  /** AbortWatcher: the caller's signal aborted. */
  giveUp(reason: unknown): void {
    this.abort(reason);
  }

  #finish(): void {
    this.#done = true;
    this.#cancelTimer();
    if (this.#userSignal !== undefined) unwatchAbort(this.#userSignal, this);
    this.#host.settled(this);
  }
}
