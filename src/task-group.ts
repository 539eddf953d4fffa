/**
 * {@link TaskGroup}: structured concurrency, like `asyncio.TaskGroup`.
 * @module
 */
import { CancelledError, InvalidStateError } from './errors.js';
import type { Future } from './future.js';
import { unwatchAbort, watchAbort } from './internal/abort-watch.js';
import type { AbortWatcher } from './internal/abort-watch.js';
import { checkSignal } from './options.js';
import { Task } from './task.js';

/**
 * Options of {@link TaskGroup}.
 * @example
 * ```ts
 * const tg = new TaskGroup({ signal: AbortSignal.timeout(30_000) } satisfies TaskGroupOptions);
 * ```
 */
export interface TaskGroupOptions {
  /** Aborting it cancels every child; `wait()` then rejects with `signal.reason`. */
  signal?: AbortSignal | undefined;
}

/**
 * Options of {@link TaskGroup.spawn}.
 * @example
 * ```ts
 * tg.spawn((signal) => refresh(signal), { name: 'refresh' } satisfies SpawnOptions);
 * ```
 */
export interface SpawnOptions {
  /** The child task's name. @default `Task-N` */
  name?: string | undefined;
}

type GroupState = 'open' | 'aborting' | 'finished';

/**
 * Runs child tasks that live no longer than the group, like `asyncio.TaskGroup`.
 *
 * When a child fails (any rejection other than a cancellation), the group aborts the signal of
 * every other child (they end `cancelled()` unless they return or fail anyway), waits for all of
 * them, and `wait()` rejects with an `AggregateError` of every failure, in the order they happened.
 * Aborting the group's own `signal` cancels the children and `wait()` rejects with `signal.reason`
 * (or the `AggregateError`, if children also failed). `spawn` is allowed until the group aborts or
 * `wait()` has seen every child finish. Call `wait()` (or use `await using`): until then the group
 * keeps its listener on `opts.signal`.
 *
 * @example
 * ```ts
 * await using tg = new TaskGroup();
 * const user = tg.spawn((signal) => db.one(sql`select * from users where id = ${id}`, [], { signal }));
 * const orders = tg.spawn((signal) => db.rows(sql`select * from orders where user_id = ${id}`, [], { signal }));
 * // leaving the block waits for both; if one fails, the other is cancelled
 * ```
 */
export class TaskGroup {
  #state: GroupState = 'open';
  readonly #controller = new AbortController();
  readonly #outer: AbortSignal | undefined;
  readonly #tasks = new Set<Task<unknown>>();
  readonly #errors: unknown[] = [];
  #wait: Promise<void> | undefined = undefined;
  #waitError: unknown = undefined;
  #onIdle: (() => void) | undefined = undefined;
  // Shares connkit's one listener per signal: many groups on a service-wide signal stay O(1) each.
  readonly #outerWatcher: AbortWatcher = { giveUp: (reason) => this.#abort(reason) };
  readonly #onChildDone = (task: Future<unknown>): void => {
    this.#tasks.delete(task as Task<unknown>);
    if (!task.cancelled()) {
      const error = task.exception();
      if (error !== undefined || isRejected(task)) this.#fail(error);
    }
    if (this.#tasks.size === 0) this.#onIdle?.();
  };

  constructor(opts?: TaskGroupOptions) {
    this.#outer = checkSignal(opts?.signal);
    if (this.#outer?.aborted) this.#abort(this.#outer.reason);
    else if (this.#outer !== undefined) watchAbort(this.#outer, this.#outerWatcher);
  }

  /**
   * Runs `body(tg, signal)` with a fresh group and waits for every child. `signal` aborts when a
   * child fails or `opts.signal` aborts. An error thrown by `body` cancels the children and joins
   * the `AggregateError` (after they have been awaited), unless it is just the group's own abort
   * coming back. Resolves with `body`'s value when nothing failed.
   *
   * @example
   * ```ts
   * const [a, b] = await TaskGroup.run(async (tg) => {
   *   const a = tg.spawn((signal) => fetchA(signal));
   *   const b = tg.spawn((signal) => fetchB(signal));
   *   await tg.wait();
   *   return [a.result(), b.result()] as const;
   * });
   * ```
   */
  static async run<R>(
    body: (tg: TaskGroup, signal: AbortSignal) => PromiseLike<R> | R,
    opts?: TaskGroupOptions,
  ): Promise<R> {
    const tg = new TaskGroup(opts);
    let value: R | undefined;
    try {
      value = await body(tg, tg.signal);
    } catch (err) {
      // The body rethrowing the group's own outcome (its abort, or wait()'s rejection) adds nothing.
      if (tg.#state === 'finished') {
        if (err === tg.#waitError) throw err;
        throw new AggregateError([err], 'TaskGroup: the body failed');
      }
      const own = tg.signal.aborted && err === tg.signal.reason;
      if (!own && !(err instanceof CancelledError && tg.signal.aborted)) tg.#fail(err);
    }
    await tg.wait();
    return value as R;
  }

  /** Aborts when a child fails or the group's `signal` aborts (the children are cancelled with the same reason). */
  get signal(): AbortSignal {
    return this.#controller.signal;
  }

  /** Number of children still running. */
  get size(): number {
    return this.#tasks.size;
  }

  /**
   * Starts `fn(signal)` as a child task.
   * @throws InvalidStateError once the group is aborting or finished.
   */
  spawn<T>(fn: (signal: AbortSignal) => PromiseLike<T> | T, opts?: SpawnOptions): Task<T> {
    if (this.#state !== 'open') {
      throw new InvalidStateError(`TaskGroup.spawn(): the group is ${this.#state}, it takes no new tasks`);
    }
    // The group cancels its children itself (see #abort) instead of handing them its signal: a listener
    // per child on one signal is O(children) per add/remove and warns past 10 (MaxListenersExceeded).
    const task = new Task(fn, { name: opts?.name });
    this.#tasks.add(task as Task<unknown>);
    task.addDoneCallback(this.#onChildDone as (f: Future<T>) => void);
    return task;
  }

  /**
   * Waits until every child has finished, then resolves, or rejects with an `AggregateError` of the
   * failures, or with the group signal's reason. Returns the same promise on every call.
   */
  wait(): Promise<void> {
    this.#wait ??= this.#waitAll();
    return this.#wait;
  }

  /** Same as {@link TaskGroup.wait}, for `await using`. */
  [Symbol.asyncDispose](): Promise<void> {
    return this.wait();
  }

  async #waitAll(): Promise<void> {
    while (this.#tasks.size > 0) {
      await new Promise<void>((resolve) => (this.#onIdle = resolve));
      this.#onIdle = undefined;
    }
    this.#state = 'finished';
    if (this.#outer !== undefined) unwatchAbort(this.#outer, this.#outerWatcher);
    if (this.#errors.length > 0) {
      const n = this.#errors.length;
      this.#waitError = new AggregateError(this.#errors, `TaskGroup: ${n} task${n === 1 ? '' : 's'} failed`);
      throw this.#waitError;
    }
    if (this.#outer?.aborted) {
      this.#waitError = this.#outer.reason;
      throw this.#waitError;
    }
  }

  #fail(error: unknown): void {
    this.#errors.push(error);
    this.#abort(new CancelledError('TaskGroup aborted: a sibling task failed', { cause: error }));
  }

  #abort(reason: unknown): void {
    if (this.#state === 'open') this.#state = 'aborting';
    if (this.#controller.signal.aborted) return;
    this.#controller.abort(reason);
    for (const task of this.#tasks) task.cancel(reason);
  }
}

// A task rejected with `undefined` still failed; exception() cannot tell it from success.
function isRejected(task: Future<unknown>): boolean {
  try {
    task.result();
    return false;
  } catch {
    return true;
  }
}
