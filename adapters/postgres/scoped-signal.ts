/**
 * `ScopedSignal`: one AbortSignal for a scope (a transaction, a `withClient` call) that aborts when
 * the caller's signal aborts or the scope's deadline passes — without `AbortSignal.any`, whose
 * listeners leak on long-lived signals in Node 20.
 * @module
 */
import { TimeoutError } from '../../src/internal/index.js';
import { untilAborted } from './client-lease.js';

/**
 * Internal scope signal with a deadline.
 *
 * @example
 * ```ts
 * const scope = new ScopedSignal(opts.signal, performance.now() + 1000, 'withClient()', () => cancel());
 * try { return await scope.race(fn(scope.signal)); } finally { scope.dispose(); }
 * ```
 */
export class ScopedSignal {
  readonly #controller = new AbortController();
  readonly #outer: AbortSignal | undefined;
  readonly #onAbort: (() => void) | undefined;
  #timer: NodeJS.Timeout | undefined;

  constructor(outer: AbortSignal | undefined, deadline: number, label: string, onAbort?: () => void) {
    this.#outer = outer;
    this.#onAbort = onAbort;
    outer?.addEventListener('abort', this);
    if (deadline !== Infinity) {
      const ms = Math.max(0, deadline - performance.now());
      const total = Math.round(ms);
      this.#timer = setTimeout(
        () => this.abort(new TimeoutError(`${label} timed out after ${total} ms`)),
        ms,
      );
    }
  }

  get signal(): AbortSignal {
    return this.#controller.signal;
  }

  /** Aborts the scope with `reason` (first reason wins). */
  abort(reason: unknown): void {
    if (this.#controller.signal.aborted) return;
    this.#controller.abort(reason);
    this.#onAbort?.();
  }

  /** EventListener protocol: the outer signal aborted. */
  handleEvent(): void {
    this.abort(this.#outer?.reason);
  }

  /** Settles like `promise`, or rejects with the abort reason as soon as the scope aborts. */
  race<T>(promise: Promise<T>): Promise<T> {
    return untilAborted(promise, this.#controller.signal);
  }

  /** Removes the listener on the outer signal and the timer. */
  dispose(): void {
    this.#outer?.removeEventListener('abort', this);
    if (this.#timer !== undefined) clearTimeout(this.#timer);
  }
}
