/**
 * Internal: a {@link Pool}'s OpenTelemetry metrics, named after the database connection-pool
 * conventions (`db.client.connection.*`, labelled `db.client.connection.pool.name`). The gauges are
 * observable — read from `pool.stats()` when the SDK collects, nothing on the hot path — and only the
 * wait time is recorded per borrow. Made only when a MeterProvider is registered; `close()` removes
 * the collection callback, and the callback holds the pool weakly, so a pool dropped without
 * `close()` is not kept alive by the meter either (the callback removes itself).
 * @module
 */
import type { PoolStats } from '../pool-options.js';
import {
  connkitMeter,
  observeBatch,
  type ConnkitMeter,
  type HistogramInstrument,
  type InstrumentSpec,
  type MetricAttributes,
} from './metrics.js';
import { ATTR, DB_DURATION_BUCKETS, METRIC, VALUE } from './semconv.js';

/**
 * How `db.client.connection.count` is described: other reporters of connections (an adapter's
 * connections outside a `Pool`) create it with this same spec, so the SDK keeps one instrument.
 *
 * @example
 * ```ts
 * const count = meter.createObservableUpDownCounter(METRIC.DB_CONNECTION_COUNT, CONNECTION_COUNT_SPEC);
 * ```
 */
export const CONNECTION_COUNT_SPEC: InstrumentSpec = {
  description:
    'Connections in the state given by db.client.connection.state (used: lent, being checked or being opened)',
  unit: '{connection}',
};

/**
 * How `db.client.connection.limit` is described (see {@link CONNECTION_COUNT_SPEC}).
 *
 * @example
 * ```ts
 * const limit = meter.createObservableUpDownCounter(METRIC.DB_CONNECTION_LIMIT, CONNECTION_LIMIT_SPEC);
 * ```
 */
export const CONNECTION_LIMIT_SPEC: InstrumentSpec = {
  description: 'The most open connections allowed (max)',
  unit: '{connection}',
};

/**
 * The instruments of one pool.
 *
 * @example
 * ```ts
 * const metrics = PoolMetrics.open('postgres', new WeakRef(pool)); // undefined without an SDK
 * metrics?.waited(2.5); // ms
 * metrics?.close();
 * ```
 */
export class PoolMetrics {
  readonly #waitTime: HistogramInstrument;
  readonly #attrs: MetricAttributes;
  readonly #stop: () => void;

  /** The pool's metrics, or `undefined` when no MeterProvider is registered. */
  static open(name: string, pool: WeakRef<{ stats(): PoolStats }>): PoolMetrics | undefined {
    const meter = connkitMeter();
    return meter === undefined ? undefined : new PoolMetrics(meter, name, pool);
  }

  constructor(meter: ConnkitMeter, name: string, pool: WeakRef<{ stats(): PoolStats }>) {
    const attrs = { [ATTR.DB_CONNECTION_POOL_NAME]: name };
    const idle = { ...attrs, [ATTR.DB_CONNECTION_STATE]: VALUE.CONNECTION_IDLE };
    const used = { ...attrs, [ATTR.DB_CONNECTION_STATE]: VALUE.CONNECTION_USED };
    this.#attrs = attrs;
    const count = meter.createObservableUpDownCounter(METRIC.DB_CONNECTION_COUNT, CONNECTION_COUNT_SPEC);
    const pending = meter.createObservableUpDownCounter(METRIC.DB_CONNECTION_PENDING_REQUESTS, {
      description: 'Acquires waiting for a connection',
      unit: '{request}',
    });
    const limit = meter.createObservableUpDownCounter(METRIC.DB_CONNECTION_LIMIT, CONNECTION_LIMIT_SPEC);
    const idleMin = meter.createObservableUpDownCounter(METRIC.DB_CONNECTION_IDLE_MIN, {
      description: 'Connections kept open even when idle (min)',
      unit: '{connection}',
    });
    const timeouts = meter.createObservableCounter(METRIC.DB_CONNECTION_TIMEOUTS, {
      description: 'Acquires that timed out',
      unit: '{timeout}',
    });
    this.#waitTime = meter.createHistogram(METRIC.DB_CONNECTION_WAIT_TIME, {
      description: 'Time to obtain a connection from the pool',
      unit: 's',
      advice: { explicitBucketBoundaries: [...DB_DURATION_BUCKETS] },
    });
    const stop = (this.#stop = observeBatch(meter, [count, pending, limit, idleMin, timeouts], (sink) => {
      const stats = pool.deref()?.stats();
      if (stats === undefined) return void stop(); // the pool was collected without close()
      sink.observe(count, stats.idle, idle);
      sink.observe(count, Math.max(0, stats.size - stats.idle), used);
      sink.observe(pending, stats.pending, attrs);
      sink.observe(limit, stats.max, attrs);
      sink.observe(idleMin, stats.min, attrs);
      sink.observe(timeouts, stats.timeouts, attrs);
    }));
  }

  /** A borrow obtained its resource after `ms` milliseconds. */
  waited(ms: number): void {
    this.#waitTime.record(ms / 1000, this.#attrs);
  }

  /** Stops reporting (the pool closes). Idempotent. */
  close(): void {
    this.#stop();
  }
}
