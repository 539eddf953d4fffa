/**
 * {@link monitorEventLoop}: notice blocking code that stalls the event loop.
 * @module
 */
import { monitorEventLoopDelay, performance } from 'node:perf_hooks';
import { checkDuration, describeValue } from './options.js';

/**
 * A stall seen by {@link monitorEventLoop}.
 * @example
 * ```ts
 * const onBlocked = (info: LoopBlockedInfo) => log.warn(`loop blocked ${info.delay} ms`);
 * ```
 */
export interface LoopBlockedInfo {
  /** How long the loop was stuck beyond the check interval, in milliseconds. */
  delay: number;
  /** The threshold that was exceeded, in milliseconds. */
  threshold: number;
}

/**
 * Options of {@link monitorEventLoop}.
 * @example
 * ```ts
 * monitorEventLoop({ threshold: 200, interval: 20 } satisfies MonitorEventLoopOptions);
 * ```
 */
export interface MonitorEventLoopOptions {
  /** A stall longer than this many milliseconds is reported. @default 100 */
  threshold?: number | undefined;
  /** Milliseconds between checks; smaller sees stalls sooner and costs more. @default min(threshold / 2, 50), at least 1 */
  interval?: number | undefined;
  /**
   * Called for each stall. Without it, a stall is reported with `process.emitWarning`
   * (type `ConnkitEventLoopBlocked`).
   */
  onBlocked?: ((info: LoopBlockedInfo) => void) | undefined;
}

/**
 * Counters of {@link EventLoopMonitor.stats}; durations in milliseconds.
 * @example
 * ```ts
 * const { blocked, p99 }: EventLoopStats = monitor.stats();
 * ```
 */
export interface EventLoopStats {
  /** Stalls longer than the threshold seen so far. */
  blocked: number;
  /** Longest stall seen. */
  maxDelay: number;
  /** Mean event loop delay (from `perf_hooks.monitorEventLoopDelay`). */
  mean: number;
  /** 99th percentile of the event loop delay. */
  p99: number;
}

/**
 * Handle returned by {@link monitorEventLoop}.
 * @example
 * ```ts
 * using monitor: EventLoopMonitor = monitorEventLoop(); // stopped at the end of the block
 * ```
 */
export interface EventLoopMonitor {
  /** Stops monitoring (idempotent). */
  stop(): void;
  /** What was seen so far. */
  stats(): EventLoopStats;
  /** Same as `stop()`, for `using`. */
  [Symbol.dispose](): void;
}

/**
 * Watches the event loop with an unref'd timer (it never keeps the process alive) and reports
 * whenever blocking code stalls it for longer than `threshold` — the seed rule "never block the
 * event loop", made observable. The stall is measured as the check timer's lateness.
 *
 * @example
 * ```ts
 * const monitor = monitorEventLoop({ threshold: 200, onBlocked: ({ delay }) => log.warn({ delay }, 'loop blocked') });
 * // … later
 * console.log(monitor.stats()); // { blocked: 0, maxDelay: 3.1, mean: 10.2, p99: 12.5 }
 * monitor.stop();
 * ```
 */
export function monitorEventLoop(opts?: MonitorEventLoopOptions): EventLoopMonitor {
  const threshold = checkDuration(opts?.threshold, 'threshold', 100);
  const interval = Math.max(1, checkDuration(opts?.interval, 'interval', Math.min(threshold / 2, 50)));
  if (interval === Infinity) throw new RangeError('interval must be finite, got Infinity');
  const onBlocked = opts?.onBlocked;
  if (onBlocked !== undefined && typeof onBlocked !== 'function') {
    throw new TypeError(`onBlocked must be a function, got ${describeValue(onBlocked)}`);
  }
  const histogram = monitorEventLoopDelay({ resolution: Math.max(1, Math.min(20, Math.floor(interval))) });
  histogram.enable();
  let blocked = 0;
  let maxDelay = 0;
  let last = performance.now();
  let stopped = false;
  const timer = setInterval(() => {
    const now = performance.now();
    const delay = Math.max(0, now - last - interval);
    last = now;
    if (delay > maxDelay) maxDelay = delay;
    if (delay <= threshold) return;
    blocked++;
    const info: LoopBlockedInfo = { delay, threshold };
    if (onBlocked) {
      try {
        onBlocked(info);
      } catch (err) {
        // A throwing reporter must not turn a slow loop into a crashed process.
        process.emitWarning(err instanceof Error ? err : new Error(String(err)), 'ConnkitCallbackWarning');
      }
    } else {
      process.emitWarning(`Event loop blocked for ${Math.round(delay)} ms (threshold ${threshold} ms)`, {
        type: 'ConnkitEventLoopBlocked',
      });
    }
  }, interval);
  timer.unref();
  const stop = (): void => {
    if (stopped) return;
    stopped = true;
    clearInterval(timer);
    histogram.disable();
  };
  return {
    stop,
    stats: () => ({
      blocked,
      maxDelay,
      mean: histogram.count > 0 ? histogram.mean / 1e6 : 0,
      p99: histogram.count > 0 ? histogram.percentile(99) / 1e6 : 0,
    }),
    [Symbol.dispose]: stop,
  };
}
