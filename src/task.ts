/**
 * {@link createTask} and {@link Task}: a running async function you can inspect and cancel.
 * @module
 */
import { CancelledError, InvalidStateError } from './errors.js';
import { Future } from './future.js';
import { checkSignal, describeValue } from './options.js';
import { unwatchAbort, watchAbort } from './internal/abort-watch.js';
import type { AbortWatcher } from './internal/abort-watch.js';

/**
 * Options of {@link createTask}.
 * @example
 * ```ts
 * const opts: TaskOptions = { name: 'poll-orders', signal: AbortSignal.timeout(5000) };
 * ```
 */
export interface TaskOptions {
  /** Shown in messages and `task.name`. @default `Task-N` (N counts tasks created in this process) */
  name?: string | undefined;
  /** Aborting it cancels the task, as `task.cancel(signal.reason)` would. */
  signal?: AbortSignal | undefined;
}

let taskCount = 0;

/**
 * A {@link Future} driven by an async function, like `asyncio.Task`. Create it with
 * {@link createTask}. Its result is set by the function only: `resolve`/`reject` throw.
 *
 * `cancel(reason?)` aborts the signal handed to the function (with `reason`, or a
 * `CancelledError` when none is given). The task stays pending until the function settles, then:
 * a value returned despite the cancel wins; a rejection with an error other than the abort reason
 * wins; otherwise the task ends `cancelled()` and awaiting it rejects with `CancelledError`
 * (whose `cause` is a non-`CancelledError` reason). A function that rejects with a `CancelledError`
 * of its own (e.g. it awaited a cancelled task) also ends its task cancelled, as in asyncio.
 *
 * @example
 * ```ts
 * const task = createTask((signal) => fetch(url, { signal }), { name: 'fetch-user' });
 * setTimeout(() => task.cancel(), 1000);
 * try { await task; } catch (e) { if (task.cancelled()) console.log('gave up'); }
 * ```
 */
export class Task<T> extends Future<T> {
  /** The task's name, for messages and debugging. */
  readonly name: string;
  readonly #controller = new AbortController();
  readonly #outer: AbortSignal | undefined;
  #cancelRequested = false;
  // Shares the one listener connkit keeps per signal: many tasks on a long-lived signal stay O(1) each.
  readonly #outerWatcher: AbortWatcher = { giveUp: (reason) => this.cancel(reason) };

  /** Prefer {@link createTask}; the constructor is the same call. */
  constructor(fn: (signal: AbortSignal) => PromiseLike<T> | T, opts?: TaskOptions) {
    super();
    if (typeof fn !== 'function') throw new TypeError(`fn must be a function, got ${describeValue(fn)}`);
    const name = opts?.name;
    if (name !== undefined && typeof name !== 'string') {
      throw new TypeError(`name must be a string, got ${describeValue(name)}`);
    }
    this.name = name ?? `Task-${++taskCount}`;
    this.#outer = checkSignal(opts?.signal);
    if (this.#outer?.aborted) {
      // An already-aborted signal means no work at all: the function is never called.
      this.#cancelRequested = true;
      this.#controller.abort(this.#outer.reason);
      this.settle('cancelled', this.#cancelledError(this.#outer.reason));
      return;
    }
    if (this.#outer !== undefined) watchAbort(this.#outer, this.#outerWatcher);
    let result: PromiseLike<T> | T;
    try {
      result = fn(this.#controller.signal);
    } catch (err) {
      this.#finish(false, err);
      return;
    }
    Promise.resolve(result).then(
      (value) => this.#finish(true, value),
      (err: unknown) => this.#finish(false, err),
    );
  }

  /** Always throws: a task's result comes from its function. */
  override resolve(_value: T): never {
    throw new InvalidStateError(
      `Task "${this.name}": resolve() is not allowed, the function sets the result`,
    );
  }

  /** Always throws: a task's result comes from its function. */
  override reject(_error: unknown): never {
    throw new InvalidStateError(`Task "${this.name}": reject() is not allowed, the function sets the result`);
  }

  /**
   * Requests cancellation: aborts the function's signal with `reason` (default: a `CancelledError`).
   * Returns false if the task is already done. The task settles when the function does.
   */
  override cancel(reason?: unknown): boolean {
    if (this.done()) return false;
    if (!this.#cancelRequested) {
      this.#cancelRequested = true;
      this.#controller.abort(reason ?? new CancelledError(`Task "${this.name}" was cancelled`));
    }
    return true;
  }

  /** True once `cancel()` was called (or the outer signal aborted) and the task is not done yet. */
  cancelling(): boolean {
    return this.#cancelRequested && !this.done();
  }

  override get [Symbol.toStringTag](): string {
    return `Task(${this.name})`;
  }

  #finish(ok: boolean, valueOrError: unknown): void {
    if (this.#outer !== undefined) unwatchAbort(this.#outer, this.#outerWatcher);
    if (ok) {
      this.settle('fulfilled', valueOrError);
    } else if (
      valueOrError instanceof CancelledError ||
      (this.#cancelRequested && valueOrError === this.#controller.signal.reason)
    ) {
      this.settle('cancelled', this.#cancelledError(valueOrError));
    } else {
      this.settle('rejected', valueOrError);
    }
  }

  #cancelledError(reason: unknown): CancelledError {
    if (reason instanceof CancelledError) return reason;
    return new CancelledError(`Task "${this.name}" was cancelled`, { cause: reason });
  }
}

/**
 * Starts `fn(signal)` now and returns its {@link Task}, like `asyncio.create_task`. `opts.signal`
 * aborting cancels the task; if it is already aborted, `fn` is never called and the task is
 * cancelled at once.
 *
 * @example
 * ```ts
 * const task = createTask(async (signal) => {
 *   await sleep(1000, { signal });
 *   return 42;
 * });
 * task.cancel();
 * await task.catch((e) => e instanceof CancelledError); // true
 * ```
 */
export function createTask<T>(fn: (signal: AbortSignal) => PromiseLike<T> | T, opts?: TaskOptions): Task<T> {
  return new Task(fn, opts);
}
