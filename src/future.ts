/**
 * {@link Future}: asyncio's awaitable placeholder, settled from callback code.
 * @module
 */
import { CancelledError, InvalidStateError } from './errors.js';
import { describeValue } from './options.js';

/**
 * A callback run once a future is done; it receives the future.
 * @example
 * ```ts
 * const onDone: DoneCallback<number> = (f) => console.log(f.cancelled() ? 'cancelled' : f.result());
 * ```
 */
export type DoneCallback<T> = (future: Future<T>) => void;

type State = 'pending' | 'fulfilled' | 'rejected' | 'cancelled';

/**
 * An awaitable placeholder for a value produced later by callback code, like `asyncio.Future`.
 *
 * Unlike a bare promise, a future can be inspected (`done()`, `result()`), cancelled, and left
 * rejected without ever being awaited: no promise exists until someone calls `then`, so an
 * unobserved failure never becomes an unhandled rejection.
 *
 * @example
 * ```ts
 * const fut = new Future<string>();
 * socket.once('data', (d) => fut.resolve(String(d)));
 * socket.once('error', (e) => fut.reject(e));
 * const line = await fut;
 * ```
 */
export class Future<T> implements PromiseLike<T> {
  #state: State = 'pending';
  #value: T | undefined = undefined;
  #error: unknown = undefined;
  #callbacks: DoneCallback<T>[] = [];
  // Created on the first `then`, so a future nobody awaits never owns a rejected promise.
  #promise: Promise<T> | undefined = undefined;
  #settlePromise: ((ok: boolean) => void) | undefined = undefined;

  /**
   * Settles the future with `value`.
   * @throws InvalidStateError if the future is already done.
   */
  resolve(value: T): void {
    if (!this.settle('fulfilled', value)) throw this.#doneError('resolve');
  }

  /**
   * Settles the future with an error; `result()` throws it and `await` rejects with it.
   * @throws InvalidStateError if the future is already done.
   */
  reject(error: unknown): void {
    if (!this.settle('rejected', error)) throw this.#doneError('reject');
  }

  /**
   * Cancels the future: awaiting it rejects with a {@link CancelledError} (message `reason` when it
   * is a string, otherwise `reason` becomes its `cause`). Returns false if the future was already done.
   */
  cancel(reason?: unknown): boolean {
    if (this.#state !== 'pending') return false;
    return this.settle('cancelled', toCancelledError(reason, 'Future was cancelled'));
  }

  /** True once resolved, rejected or cancelled. */
  done(): boolean {
    return this.#state !== 'pending';
  }

  /** True if the future was cancelled. */
  cancelled(): boolean {
    return this.#state === 'cancelled';
  }

  /**
   * The value. Throws the error if the future was rejected, a `CancelledError` if it was cancelled,
   * and `InvalidStateError` while it is pending.
   */
  result(): T {
    switch (this.#state) {
      case 'fulfilled':
        return this.#value as T;
      case 'pending':
        throw new InvalidStateError('Future.result(): the future is still pending');
      default:
        throw this.#error;
    }
  }

  /**
   * The error the future was rejected with, or `undefined` if it was resolved. Throws a
   * `CancelledError` if it was cancelled and `InvalidStateError` while it is pending (as asyncio).
   */
  exception(): unknown {
    switch (this.#state) {
      case 'fulfilled':
        return undefined;
      case 'rejected':
        return this.#error;
      case 'cancelled':
        throw this.#error;
      default:
        throw new InvalidStateError('Future.exception(): the future is still pending');
    }
  }

  /**
   * Runs `cb(future)` once the future is done — asynchronously (in a microtask), even if it is done
   * already, like asyncio's `call_soon`. Callbacks run in the order they were added. A callback that
   * throws does not stop the others; its error is reported with `process.emitWarning`.
   */
  addDoneCallback(cb: DoneCallback<T>): void {
    if (typeof cb !== 'function')
      throw new TypeError(`callback must be a function, got ${describeValue(cb)}`);
    if (this.#state === 'pending') this.#callbacks.push(cb);
    else queueMicrotask(() => runCallback(cb, this));
  }

  /** Removes every registration of `cb` that has not run yet; returns how many were removed. */
  removeDoneCallback(cb: DoneCallback<T>): number {
    const before = this.#callbacks.length;
    this.#callbacks = this.#callbacks.filter((c) => c !== cb);
    return before - this.#callbacks.length;
  }

  then<R1 = T, R2 = never>(
    onfulfilled?: ((value: T) => R1 | PromiseLike<R1>) | null,
    onrejected?: ((reason: unknown) => R2 | PromiseLike<R2>) | null,
  ): Promise<R1 | R2> {
    return this.#getPromise().then(onfulfilled, onrejected);
  }

  /** Promise-style `catch`. */
  catch<R = never>(onrejected?: ((reason: unknown) => R | PromiseLike<R>) | null): Promise<T | R> {
    return this.#getPromise().catch(onrejected);
  }

  /** Promise-style `finally`. */
  finally(onfinally?: (() => void) | null): Promise<T> {
    return this.#getPromise().finally(onfinally);
  }

  get [Symbol.toStringTag](): string {
    return `Future(${this.#state})`;
  }

  /**
   * Settles the future unless it is done; returns false if it was. For subclasses (Task), whose
   * public `resolve`/`reject` are closed to callers.
   */
  protected settle(state: Exclude<State, 'pending'>, valueOrError: unknown): boolean {
    if (this.#state !== 'pending') return false;
    this.#state = state;
    if (state === 'fulfilled') this.#value = valueOrError as T;
    else this.#error = valueOrError;
    this.#settlePromise?.(state === 'fulfilled');
    this.#settlePromise = undefined;
    const callbacks = this.#callbacks;
    this.#callbacks = [];
    if (callbacks.length > 0) {
      queueMicrotask(() => {
        for (const cb of callbacks) runCallback(cb, this);
      });
    }
    return true;
  }

  #getPromise(): Promise<T> {
    if (this.#promise === undefined) {
      this.#promise = new Promise<T>((resolve, reject) => {
        const settle = (ok: boolean): void => (ok ? resolve(this.#value as T) : reject(this.#error));
        if (this.#state === 'pending') this.#settlePromise = settle;
        else settle(this.#state === 'fulfilled');
      });
    }
    return this.#promise;
  }

  #doneError(op: string): InvalidStateError {
    return new InvalidStateError(`Future.${op}(): the future is already done (${this.#state})`);
  }
}

// A string reason is the message, anything else the cause.
function toCancelledError(reason: unknown, fallback: string): CancelledError {
  if (reason instanceof CancelledError) return reason;
  if (typeof reason === 'string') return new CancelledError(reason);
  return new CancelledError(fallback, reason === undefined ? undefined : { cause: reason });
}

function runCallback<T>(cb: DoneCallback<T>, future: Future<T>): void {
  try {
    cb(future);
  } catch (err) {
    // asyncio logs a failing callback and carries on; crashing the process for it would be worse.
    process.emitWarning(err instanceof Error ? err : new Error(String(err)), 'ConnkitCallbackWarning');
  }
}
