/**
 * {@link retry} with exponential backoff, and {@link backoffDelay}, the one backoff formula of the
 * kit (the pool's create retry and the adapters' reconnects use it too).
 * @module
 */
import { checkDuration, checkInteger, checkSignal, describeValue } from './options.js';
import { sleep } from './timeout.js';

/**
 * Parameters of {@link backoffDelay}.
 * @example
 * ```ts
 * const reconnect: BackoffOptions = { initialDelay: 200, maxDelay: 30_000, factor: 2, jitter: 'equal' };
 * ```
 */
export interface BackoffOptions {
  /** Delay after the first failure, in milliseconds. @default 100 */
  initialDelay?: number | undefined;
  /** Cap of the delay, in milliseconds (applied before jitter). @default 10_000 */
  maxDelay?: number | undefined;
  /** Growth factor per attempt, ≥ 1. @default 2 */
  factor?: number | undefined;
  /**
   * Randomise the delay so that many clients retrying together spread out. `true` or `'full'`:
   * full jitter, uniform in `[0, d)`; `'equal'`: uniform in `[d/2, d)`, which keeps a floor (good
   * for reconnect loops); `false`: exactly `d`. `d` is the capped exponential delay.
   * @default true
   */
  jitter?: boolean | 'full' | 'equal' | undefined;
}

/**
 * The delay in milliseconds before retry number `attempt` (1 = the wait after the first failure):
 * `d = min(maxDelay, initialDelay * factor ** (attempt - 1))`, then jittered (see
 * {@link BackoffOptions.jitter}). Pure apart from `Math.random`.
 *
 * @example
 * ```ts
 * backoffDelay(1, { jitter: false }); // 100
 * backoffDelay(4, { initialDelay: 200, maxDelay: 1000, jitter: false }); // 1000 (capped)
 * backoffDelay(3, { jitter: 'equal' }); // in [200, 400)
 * ```
 */
export function backoffDelay(attempt: number, opts?: BackoffOptions): number {
  checkInteger(attempt, 'attempt', 1, 1);
  const initialDelay = checkDuration(opts?.initialDelay, 'initialDelay', 100);
  const maxDelay = checkDuration(opts?.maxDelay, 'maxDelay', 10_000);
  const factor = checkFactor(opts?.factor);
  const jitter = opts?.jitter ?? true;
  if (typeof jitter !== 'boolean' && jitter !== 'full' && jitter !== 'equal') {
    throw new TypeError(`jitter must be a boolean, 'full' or 'equal', got ${describeValue(jitter)}`);
  }
  // 0 * Infinity is NaN: an exhausted exponent must not poison a zero initial delay.
  const raw = initialDelay === 0 ? 0 : initialDelay * factor ** (attempt - 1);
  const capped = Math.min(maxDelay, raw);
  if (capped === Infinity || jitter === false) return capped;
  if (jitter === 'equal') return capped / 2 + Math.random() * (capped / 2);
  return Math.random() * capped;
}

/**
 * Options of {@link retry}.
 * @example
 * ```ts
 * const opts: RetryOptions = { attempts: 5, initialDelay: 50, retryIf: (e) => !(e instanceof TypeError) };
 * ```
 */
export interface RetryOptions extends BackoffOptions {
  /** Tries in all, the first included; `Infinity` retries until success or abort. @default 3 */
  attempts?: number | undefined;
  /** Decides whether a failure is worth another try; `false` rejects with it at once. @default every error retries */
  retryIf?: ((error: unknown, attempt: number) => boolean) | undefined;
  /** Aborting it stops the backoff sleep (and is handed to `fn`); rejects with `signal.reason`. */
  signal?: AbortSignal | undefined;
}

/**
 * Calls `fn(attempt, signal)` until it resolves, up to `attempts` tries, sleeping
 * {@link backoffDelay} between tries (full jitter by default). When the tries are spent, or
 * `retryIf` says no, it rejects with the last error as it is. An abort during a try or a sleep
 * rejects with `signal.reason`, never starting another try.
 *
 * @example
 * ```ts
 * const conn = await retry((attempt, signal) => connect(url, { signal }), {
 *   attempts: 5,
 *   initialDelay: 200,
 *   retryIf: (err) => (err as NodeJS.ErrnoException).code === 'ECONNREFUSED',
 *   signal,
 * });
 * ```
 */
export function retry<T>(
  fn: (attempt: number, signal: AbortSignal) => PromiseLike<T> | T,
  opts?: RetryOptions,
): Promise<T> {
  if (typeof fn !== 'function')
    throw new TypeError(`retry() fn must be a function, got ${describeValue(fn)}`);
  const attempts = checkInteger(opts?.attempts, 'attempts', 3, 1, Infinity);
  const retryIf = opts?.retryIf;
  if (retryIf !== undefined && typeof retryIf !== 'function') {
    throw new TypeError(`retryIf must be a function, got ${describeValue(retryIf)}`);
  }
  backoffDelay(1, opts); // validates the backoff options before the first try
  const outer = checkSignal(opts?.signal);
  if (outer?.aborted) return Promise.reject(outer.reason);
  // fn always gets a signal; without an outer one it simply never aborts.
  return attemptLoop(fn, attempts, retryIf, opts, outer ?? new AbortController().signal);
}

async function attemptLoop<T>(
  fn: (attempt: number, signal: AbortSignal) => PromiseLike<T> | T,
  attempts: number,
  retryIf: RetryOptions['retryIf'],
  opts: BackoffOptions | undefined,
  signal: AbortSignal,
): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await fn(attempt, signal);
    } catch (err) {
      if (signal.aborted) throw signal.reason;
      if (attempt >= attempts || (retryIf !== undefined && !retryIf(err, attempt))) throw err;
    }
    await sleep(backoffDelay(attempt, opts), { signal });
  }
}

function checkFactor(value: unknown): number {
  if (value === undefined) return 2;
  if (typeof value !== 'number') throw new TypeError(`factor must be a number, got ${describeValue(value)}`);
  if (!(value >= 1) || value === Infinity) {
    throw new RangeError(`factor must be a finite number ≥ 1, got ${describeValue(value)}`);
  }
  return value;
}
