/**
 * {@link readCallLimits}: the `{ signal, timeout }` of a call that runs statements, read once and
 * turned into {@link CallLimits} — the caller's signal and a {@link Deadline} every layer below
 * (waiting for a connection, the statement, its cancel) shares.
 * @module
 */
import {
  checkDuration,
  checkSignal,
  Deadline,
  Scope,
  TimeoutError,
  type WaitOptions,
} from '../../src/internal/index.js';

/**
 * What bounds one call: its caller's signal and its deadline.
 *
 * @example
 * ```ts
 * const limits: CallLimits = { signal, deadline: Deadline.after(5_000) };
 * await conn.run(input, limits);
 * ```
 */
export interface CallLimits {
  readonly signal: AbortSignal | undefined;
  readonly deadline: Deadline;
}

/**
 * No signal, no deadline: shared, so the common call allocates nothing for its limits.
 *
 * @example
 * ```ts
 * await conn.run({ text: 'rollback', values: undefined }, NO_LIMITS);
 * ```
 */
export const NO_LIMITS: CallLimits = Object.freeze({ signal: undefined, deadline: Deadline.NEVER });

/**
 * Reads `opts` (DESIGN §2): bad values throw `TypeError`/`RangeError` synchronously; an aborted
 * signal yields a rejection with its reason; `timeout: 0` yields a rejection with `TimeoutError` —
 * a statement always waits for the server, so it can never be had "at once", and refusing it
 * before anything is sent is the only answer that does not depend on a race with a timer. `what`
 * names the call in that message. Omitted `timeout` → `defaultTimeout`.
 *
 * @example
 * ```ts
 * const limits = readCallLimits(opts, this.#queryTimeout, 'Query');
 * if (limits instanceof Promise) return limits;
 * ```
 */
export function readCallLimits(
  opts: WaitOptions | undefined,
  defaultTimeout: number,
  what: string,
): CallLimits | Promise<never> {
  const signal = opts == null ? undefined : checkSignal(opts.signal);
  const timeout = checkDuration(opts?.timeout, 'timeout', defaultTimeout);
  if (signal?.aborted) return Promise.reject(signal.reason as unknown);
  if (timeout === 0) return Promise.reject(refusedAtOnce(what));
  if (signal === undefined && timeout === Infinity) return NO_LIMITS;
  return { signal, deadline: Deadline.after(timeout) };
}

/**
 * The `TimeoutError` of a call with `timeout: 0`.
 *
 * @example
 * ```ts
 * if (timeout === 0) throw refusedAtOnce('transaction()');
 * ```
 */
export function refusedAtOnce(what: string): TimeoutError {
  return new TimeoutError(
    `${what} timed out after 0 ms: timeout 0 allows no waiting, and a statement always waits for the server (nothing was sent)`,
  );
}

/**
 * The {@link Scope} of a call that spans several steps (a transaction, a `withClient` fn, a stream,
 * a COPY): it ends on the caller's abort or at the deadline with ``TimeoutError(`${what} timed out
 * after … ms`)``, and tells `onAbort`.
 *
 * @example
 * ```ts
 * using scope = callScope(limits, 'copyFrom()');
 * await pipeline(source, stream, { signal: scope.signal });
 * ```
 */
export function callScope(limits: CallLimits, what: string, onAbort?: (reason: unknown) => void): Scope {
  return new Scope({
    signal: limits.signal,
    deadline: limits.deadline,
    timeoutMessage: (ms) => `${what} timed out after ${ms} ms`,
    onAbort,
  });
}
