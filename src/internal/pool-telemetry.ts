/**
 * Internal: what a {@link Pool} tells observers about its borrows — the `connkit:pool:acquire`
 * TracingChannel (when someone subscribes) and the `db.client.connection.wait_time` histogram (when a
 * MeterProvider is registered, see `pool-metrics.ts`). With neither, `active` is false and the pool
 * takes its plain path: nothing here runs.
 * @module
 */
import type { Lease } from '../lease.js';
import type { PoolStats } from '../pool-options.js';
import { poolAcquireChannel, traceCall, traceSyncCall, type PoolAcquireContext } from './channels.js';
import { PoolMetrics } from './pool-metrics.js';
import { now } from './timer.js';

/**
 * What the telemetry reads from its pool when a borrow starts.
 *
 * @example
 * ```ts
 * const state: PoolState = { name: 'pg', max: 10, borrowed: () => 3, waiting: () => 0 };
 * ```
 */
export interface PoolState {
  readonly name: string;
  readonly max: number;
  borrowed(): number;
  waiting(): number;
}

/**
 * The borrow observers of one pool.
 *
 * @example
 * ```ts
 * const telemetry = new PoolTelemetry(state, new WeakRef(pool), true);
 * const lease = telemetry.active ? await telemetry.borrow('acquire', 5000, () => lend()) : await lend();
 * ```
 */
export class PoolTelemetry<T> {
  /** OpenTelemetry instruments; `undefined` without a registered MeterProvider (nothing measured). */
  readonly metrics: PoolMetrics | undefined;
  readonly #state: PoolState;

  constructor(state: PoolState, pool: WeakRef<{ stats(): PoolStats }>, metrics: boolean) {
    this.#state = state;
    this.metrics = metrics ? PoolMetrics.open(state.name, pool) : undefined;
  }

  /** True when a borrow has an observer: metrics, or a subscriber to the channel. */
  get active(): boolean {
    return this.metrics !== undefined || poolAcquireChannel.hasSubscribers;
  }

  /** True when the channel has a subscriber. */
  get traced(): boolean {
    return poolAcquireChannel.hasSubscribers;
  }

  /**
   * Runs an asynchronous borrow under the observers: published on the channel, its wait recorded.
   * Bad options still throw synchronously from `borrow`.
   */
  borrow(operation: 'acquire' | 'use', timeout: number, borrow: () => Promise<Lease<T>>): Promise<Lease<T>> {
    const metrics = this.metrics;
    const started = metrics === undefined ? 0 : now();
    const timed = (): Promise<Lease<T>> => {
      const got = borrow();
      return metrics === undefined ? got : got.then((lease) => (metrics.waited(now() - started), lease));
    };
    if (!poolAcquireChannel.hasSubscribers) return timed();
    return traceCall(poolAcquireChannel, this.#context(operation, timeout), timed, (lease, ctx) => {
      ctx.result = { lent: lease !== undefined };
    });
  }

  /** Runs a synchronous borrow (`tryAcquire`) under the observers. */
  tryBorrow(borrow: () => Lease<T> | undefined): Lease<T> | undefined {
    return traceSyncCall(
      poolAcquireChannel,
      this.#context('tryAcquire', 0),
      () => {
        const lease = borrow();
        if (lease !== undefined) this.metrics?.waited(0);
        return lease;
      },
      (lease, ctx) => (ctx.result = { lent: lease !== undefined }),
    );
  }

  /** Records a wait measured by the pool itself (`use()` without a subscriber). */
  waited(ms: number): void {
    this.metrics?.waited(ms);
  }

  /** Stops the metrics' collection (the pool is closing). */
  close(): void {
    this.metrics?.close();
  }

  #context(operation: PoolAcquireContext['operation'], timeout: number): PoolAcquireContext {
    const state = this.#state;
    return {
      pool: state.name,
      operation,
      timeout,
      max: state.max,
      borrowed: state.borrowed(),
      waiting: state.waiting(),
    };
  }
}
