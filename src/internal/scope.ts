/**
 * Internal: {@link Scope}, the one way a call of connkit turns `{ signal, timeout }` into "stop
 * now": it aborts when the caller's signal aborts or its {@link Deadline} passes, whichever comes
 * first, and tells its owner once (to cancel a statement, abort a handler…).
 *
 * The caller's signal is watched through the shared abort listener (`abort-watch.ts`): a request's
 * signal handed to thousands of concurrent calls costs one listener, not one per call, so Node
 * never prints MaxListenersExceededWarning and nothing is left on the signal afterwards.
 * @module
 */
import { TimeoutError } from '../errors.js';
import { unwatchAbort, watchAbort, type AbortWatcher } from './abort-watch.js';
import { Deadline } from './deadline.js';
import { startTimerAt } from './timer.js';

/**
 * What a {@link Scope} watches.
 *
 * @example
 * ```ts
 * const opts: ScopeOptions = { signal, deadline: Deadline.after(5000), timeoutMessage: (ms) => `copy timed out after ${ms} ms` };
 * ```
 */
export interface ScopeOptions {
  /** The caller's signal: its abort ends the scope with `signal.reason`. */
  signal?: AbortSignal | undefined;
  /** When the scope times out. @default Deadline.NEVER */
  deadline?: Deadline | undefined;
  /** Message of the `TimeoutError` the scope ends with at its deadline (`ms`: the timeout). */
  timeoutMessage?: ((ms: number) => string) | undefined;
  /** Called once when the scope ends by abort or timeout, with the reason. */
  onAbort?: ((reason: unknown) => void) | undefined;
}

/**
 * A call's abort-or-deadline scope. `dispose()` (or `using`) when the call is over.
 *
 * @example
 * ```ts
 * using scope = new Scope({ signal, deadline: Deadline.after(timeout), onAbort: () => void conn.cancel() });
 * return await scope.race(runStatement());
 * ```
 */
export class Scope implements AbortWatcher, Disposable {
  readonly deadline: Deadline;
  readonly #outer: AbortSignal | undefined;
  readonly #timeoutMessage: ((ms: number) => string) | undefined;
  readonly #onAbort: ((reason: unknown) => void) | undefined;
  #controller: AbortController | undefined = undefined;
  #cancelTimer: (() => void) | undefined = undefined;
  #racers: ((reason: unknown) => void)[] | undefined = undefined;
  #aborted = false;
  #reason: unknown = undefined;
  #disposed = false;

  constructor(opts: ScopeOptions) {
    this.deadline = opts.deadline ?? Deadline.NEVER;
    this.#outer = opts.signal;
    this.#timeoutMessage = opts.timeoutMessage;
    this.#onAbort = opts.onAbort;
    if (this.#outer?.aborted) {
      this.abort(this.#outer.reason);
      return;
    }
    if (this.#outer !== undefined) watchAbort(this.#outer, this);
    if (!this.deadline.infinite) this.#cancelTimer = startTimerAt(this.deadline.at, this.#expire);
  }

  /** True once the scope ended by abort or timeout. */
  get aborted(): boolean {
    return this.#aborted;
  }

  /** Why the scope ended (`signal.reason` or a `TimeoutError`); `undefined` while running. */
  get reason(): unknown {
    return this.#reason;
  }

  /** A signal that aborts with the scope (made on first use: many calls never need one). */
  get signal(): AbortSignal {
    if (this.#controller === undefined) {
      this.#controller = new AbortController();
      if (this.#aborted) this.#controller.abort(this.#reason);
    }
    return this.#controller.signal;
  }

  /** Ends the scope with `reason` (the first reason wins; a no-op once disposed). */
  abort(reason: unknown): void {
    if (this.#aborted || this.#disposed) return;
    this.#aborted = true;
    this.#reason = reason;
    this.#stopWatching();
    this.#controller?.abort(reason);
    const racers = this.#racers;
    this.#racers = undefined;
    if (racers !== undefined) for (const reject of racers) reject(reason);
    this.#onAbort?.(reason);
  }

  /** AbortWatcher: the caller's signal aborted. */
  giveUp(reason: unknown): void {
    this.abort(reason);
  }

  /**
   * Settles like `promise`, or rejects with the scope's reason as soon as it ends (at once when it
   * already has). A `promise` left behind that rejects later is not reported as unhandled.
   *
   * @example
   * ```ts
   * const rows = await scope.race(cursor.read(100));
   * ```
   */
  race<T>(promise: PromiseLike<T>): Promise<T> {
    if (this.#aborted) {
      Promise.resolve(promise).catch(noop);
      return Promise.reject(this.#reason);
    }
    return new Promise<T>((resolve, reject) => {
      (this.#racers ??= []).push(reject);
      promise.then(
        (value) => {
          this.#forget(reject);
          resolve(value);
        },
        (err: unknown) => {
          this.#forget(reject);
          reject(err);
        },
      );
    });
  }

  /** Stops watching the signal and the clock; the scope can no longer abort. Idempotent. */
  dispose(): void {
    this.#disposed = true;
    this.#stopWatching();
  }

  [Symbol.dispose](): void {
    this.dispose();
  }

  readonly #expire = (): void => {
    this.#cancelTimer = undefined;
    const ms = this.deadline.ms;
    this.abort(new TimeoutError(this.#timeoutMessage?.(ms) ?? `Timed out after ${ms} ms`));
  };

  #stopWatching(): void {
    if (this.#outer !== undefined) unwatchAbort(this.#outer, this);
    this.#cancelTimer?.();
    this.#cancelTimer = undefined;
  }

  #forget(reject: (reason: unknown) => void): void {
    const racers = this.#racers;
    if (racers === undefined) return;
    const i = racers.indexOf(reject);
    if (i !== -1) racers.splice(i, 1);
  }
}

function noop(): void {}
