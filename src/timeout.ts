/**
 * {@link sleep} and {@link waitFor}: abortable delays and deadlines (`asyncio.sleep`, `asyncio.wait_for`).
 * @module
 */
import { TimeoutError } from './errors.js';
import { Future } from './future.js';
import { checkDuration, checkSignal, describeValue } from './options.js';
import type { SignalOptions } from './options.js';
import { startTimeout } from './internal/at-once.js';
import { startTimer } from './internal/timer.js';
import { unwatchAbort, watchAbort } from './internal/abort-watch.js';
import type { AbortWatcher } from './internal/abort-watch.js';

/**
 * Resolves after `ms` milliseconds (`Infinity`: only an abort ends it, and no timer holds the
 * process open — inside {@link runMain} it stays alive). Aborting `opts.signal`
 * clears the timer and rejects with `signal.reason`; an already-aborted signal rejects at once.
 *
 * @param ms delay in milliseconds, ≥ 0 or `Infinity` (negative/NaN → `RangeError`, not a number → `TypeError`)
 * @example
 * ```ts
 * await sleep(250);
 * await sleep(10_000, { signal }); // rejects with signal.reason when aborted
 * ```
 */
export function sleep(ms: number, opts?: SignalOptions): Promise<void> {
  if (ms === undefined) throw new TypeError('sleep() ms must be a number of milliseconds, got undefined');
  checkDuration(ms, 'sleep() ms', 0);
  const signal = checkSignal(opts?.signal);
  if (signal?.aborted) return Promise.reject(signal.reason);
  return new Promise<void>((resolve, reject) => {
    if (signal === undefined) {
      startTimer(ms, resolve);
      return;
    }
    const watcher: AbortWatcher = {
      giveUp: (reason) => {
        cancel();
        reject(reason);
      },
    };
    const cancel = startTimer(ms, () => {
      unwatchAbort(signal, watcher);
      resolve();
    });
    watchAbort(signal, watcher);
  });
}

/**
 * What {@link waitFor} runs: a promise, or a function started with a signal it should honour.
 * @example
 * ```ts
 * const op: WaitForOperation<Response> = (signal) => fetch(url, { signal });
 * ```
 */
export type WaitForOperation<T> = PromiseLike<T> | ((signal: AbortSignal) => PromiseLike<T> | T);

/**
 * Runs `op` with a deadline, like `asyncio.wait_for`. At the deadline it aborts `op`'s signal (with
 * the `TimeoutError`) and rejects with `TimeoutError` at once: it does not wait for an op that
 * ignores its signal, and whatever the op yields later is dropped (no unhandled rejection).
 * Aborting `opts.signal` also aborts `op`'s signal and rejects with the reason. An `op` that is a
 * {@link Future} (or Task) is cancelled in both cases, like `asyncio.wait_for`. `ms = 0` lets the op
 * win only if it settles at once — before the microtask queue has drained (an already settled
 * promise, a synchronous function, the promise chains they start) — never one that needs a timer or
 * I/O, so the outcome never depends on the clock.
 *
 * @param ms deadline in milliseconds, ≥ 0 or `Infinity` (negative/NaN → `RangeError`, not a number → `TypeError`)
 * @example
 * ```ts
 * const rows = await waitFor((signal) => db.rows('select pg_sleep(5)', [], { signal }), 1000);
 * // TimeoutError: waitFor() timed out after 1000 ms
 * ```
 */
export function waitFor<T>(op: WaitForOperation<T>, ms: number, opts?: SignalOptions): Promise<T> {
  if (ms === undefined) throw new TypeError('waitFor() ms must be a number of milliseconds, got undefined');
  checkDuration(ms, 'waitFor() ms', 0);
  const signal = checkSignal(opts?.signal);
  const isFn = typeof op === 'function';
  if (!isFn && (op === null || typeof (op as Partial<PromiseLike<T>>)?.then !== 'function')) {
    throw new TypeError(
      `waitFor() op must be a promise or a function (signal) => Promise, got ${describeValue(op)}`,
    );
  }
  if (signal?.aborted) {
    if (!isFn) Promise.resolve(op).catch(noop);
    return Promise.reject(signal.reason);
  }
  return new Promise<T>((resolve, reject) => {
    // A promise op has no signal to abort; AbortSignals are costly enough to skip when unused.
    const controller = isFn ? new AbortController() : undefined;
    let done = false;
    const finish = (ok: boolean, value: unknown, abortOp: boolean): void => {
      if (done) return;
      done = true;
      cancelTimer();
      if (signal !== undefined) unwatchAbort(signal, watcher);
      if (abortOp) {
        controller?.abort(value);
        // A Future or Task given directly is cancelled too, as asyncio.wait_for cancels its awaitable.
        if (op instanceof Future) op.cancel(value);
      }
      if (ok) resolve(value as T);
      else reject(value);
    };
    const watcher: AbortWatcher = { giveUp: (reason) => finish(false, reason, true) };
    const label = isFn && op.name ? `waitFor(${op.name})` : 'waitFor()';
    const cancelTimer = startTimeout(ms, () =>
      finish(false, new TimeoutError(`${label} timed out after ${ms} ms`), true),
    );
    if (signal !== undefined) watchAbort(signal, watcher);
    let started: PromiseLike<T> | T;
    try {
      started = isFn ? op(controller!.signal) : op;
    } catch (err) {
      finish(false, err, false);
      return;
    }
    Promise.resolve(started).then(
      (value) => finish(true, value, false),
      (err: unknown) => finish(false, err, false),
    );
  });
}

function noop(): void {}
