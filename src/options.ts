/**
 * Validation shared by every public API: the `{ signal, timeout }` convention of DESIGN §2 and
 * option checks that throw synchronously with a message quoting the bad value.
 * @module
 */

/**
 * The options every awaitable connkit call accepts.
 *
 * @example
 * ```ts
 * await sem.acquire({ signal: AbortSignal.timeout(1000), timeout: 500 });
 * ```
 */
export interface WaitOptions {
  /** Aborting it rejects the call with `signal.reason`. */
  signal?: AbortSignal | undefined;
  /**
   * Milliseconds to wait at most; `0` means "only if available at once", `Infinity` waits forever.
   * Expiry rejects with `TimeoutError`.
   */
  timeout?: number | undefined;
}

/**
 * Options of calls that can be aborted but have no timeout of their own.
 *
 * @example
 * ```ts
 * await sleep(1000, { signal } satisfies SignalOptions);
 * ```
 */
export interface SignalOptions {
  /** Aborting it rejects the call with `signal.reason`. */
  signal?: AbortSignal | undefined;
}

/**
 * Renders a value for an error message: strings quoted, everything else as `String()` would.
 *
 * @example
 * ```ts
 * describeValue('5'); // '"5"'
 * describeValue(-1); // '-1'
 * ```
 */
export function describeValue(value: unknown): string {
  if (typeof value === 'string') return JSON.stringify(value);
  if (typeof value === 'bigint') return `${value}n`;
  if (typeof value === 'symbol') return value.toString();
  if (value !== null && typeof value === 'object') {
    try {
      return JSON.stringify(value) ?? Object.prototype.toString.call(value);
    } catch {
      return Object.prototype.toString.call(value);
    }
  }
  return String(value);
}

/**
 * Checks a duration option: `undefined` → `fallback`; a finite number ≥ 0 or `Infinity` → itself;
 * negative or NaN → `RangeError`; not a number → `TypeError`.
 *
 * @example
 * ```ts
 * const idle = checkDuration(opts?.idleTimeout, 'idleTimeout', 30_000); // RangeError for -1
 * ```
 */
export function checkDuration(value: unknown, name: string, fallback: number): number {
  if (value === undefined) return fallback;
  if (typeof value !== 'number') {
    throw new TypeError(`${name} must be a number of milliseconds, got ${describeValue(value)}`);
  }
  if (Number.isNaN(value) || value < 0) {
    throw new RangeError(`${name} must be ≥ 0 or Infinity, got ${describeValue(value)}`);
  }
  return value;
}

/**
 * Checks an integer option within `[min, max]` (`Infinity` allowed when `max` is `Infinity`).
 *
 * @example
 * ```ts
 * const max = checkInteger(opts?.max, 'max', 10, 1); // RangeError for 0 or 1.5
 * ```
 */
export function checkInteger(
  value: unknown,
  name: string,
  fallback: number,
  min = 0,
  max = Number.MAX_SAFE_INTEGER,
): number {
  if (value === undefined) return fallback;
  if (typeof value !== 'number') {
    throw new TypeError(`${name} must be an integer, got ${describeValue(value)}`);
  }
  const ok =
    (Number.isInteger(value) || (value === Infinity && max === Infinity)) && value >= min && value <= max;
  if (!ok) {
    throw new RangeError(`${name} must be an integer in [${min}, ${max}], got ${describeValue(value)}`);
  }
  return value;
}

/**
 * Checks that `signal` is absent or an AbortSignal.
 *
 * @example
 * ```ts
 * const signal = checkSignal(opts?.signal); // TypeError for 'abc'
 * ```
 */
export function checkSignal(signal: unknown): AbortSignal | undefined {
  if (signal === undefined) return undefined;
  if (!(signal instanceof AbortSignal)) {
    throw new TypeError(`signal must be an AbortSignal, got ${describeValue(signal)}`);
  }
  return signal;
}

/**
 * Validates the `{ signal, timeout }` of a wait that may finish at once, without allocating: bad
 * values throw synchronously; a signal that is already aborted yields the rejection (with its reason)
 * to return before any work starts; otherwise `undefined`, and the caller reads `opts` as given
 * (`timeout` omitted = `Infinity`).
 *
 * @example
 * ```ts
 * const refused = checkWaitOptions(opts);
 * if (refused !== undefined) return refused;
 * ```
 */
export function checkWaitOptions(opts: WaitOptions | undefined): Promise<never> | undefined {
  // `null` reads as "no options", as `opts?.signal` always did.
  if (opts == null) return undefined;
  const signal = checkSignal(opts.signal);
  checkDuration(opts.timeout, 'timeout', Infinity);
  return signal?.aborted ? Promise.reject(signal.reason as unknown) : undefined;
}

/**
 * Reads `{ signal, timeout }`, validating both. A signal that is already aborted throws its reason,
 * so a call with a dead signal does no work.
 *
 * @example
 * ```ts
 * const { signal, timeout } = readWaitOptions(opts, 30_000); // throws signal.reason if aborted
 * ```
 */
export function readWaitOptions(
  opts: WaitOptions | undefined,
  defaultTimeout = Infinity,
): { signal: AbortSignal | undefined; timeout: number } {
  const signal = checkSignal(opts?.signal);
  const timeout = checkDuration(opts?.timeout, 'timeout', defaultTimeout);
  signal?.throwIfAborted();
  return { signal, timeout };
}
