/**
 * A relay's OpenTelemetry metrics: `connkit.outbox.lag` (histogram, seconds from a row's
 * `created_at` to the broker's confirm of its publish) and `connkit.outbox.pending` (gauge, rows
 * waiting in the table), labelled `db.collection.name` (the outbox table). Made only when a
 * MeterProvider is registered when the relay starts; the relay's stop removes the gauge's callback.
 * @module
 */
import {
  ATTR,
  connkitMeter,
  MESSAGING_DURATION_BUCKETS,
  METRIC,
  now,
  observeBatch,
  type HistogramInstrument,
  type MetricAttributes,
} from '../../src/internal/index.js';

/** How long the gauge's count may take before that collection reports no value for it. */
const COUNT_TIMEOUT = 5_000;

/**
 * The instruments of one relay.
 *
 * @example
 * ```ts
 * const metrics = RelayMetrics.open('connkit_outbox', (timeout) => countRows(timeout)); // undefined without an SDK
 * const confirmedLag = metrics?.lagFrom(row.age_s); // when the row is picked
 * confirm.then(() => confirmedLag?.());
 * metrics?.close();
 * ```
 */
export class RelayMetrics {
  readonly #lag: HistogramInstrument;
  readonly #attrs: MetricAttributes;
  readonly #stop: () => void;

  /**
   * The relay's metrics, or `undefined` when no MeterProvider is registered. `count` reads the
   * table's row count (one query) for the gauge.
   */
  static open(table: string, count: (timeout: number) => Promise<number>): RelayMetrics | undefined {
    const meter = connkitMeter();
    if (meter === undefined) return undefined;
    const attrs = { [ATTR.DB_COLLECTION_NAME]: table };
    const lag = meter.createHistogram(METRIC.CONNKIT_OUTBOX_LAG, {
      description:
        "Seconds from an outbox row's creation (in the producer's transaction) to the broker's confirm",
      unit: 's',
      advice: { explicitBucketBoundaries: [...MESSAGING_DURATION_BUCKETS, 30, 60, 300] },
    });
    const pending = meter.createObservableGauge(METRIC.CONNKIT_OUTBOX_PENDING, {
      description: 'Rows waiting in the outbox table (for every relay)',
      unit: '{message}',
    });
    // One count(*) per collection (every 60 s by default), read when the SDK collects: exact, and
    // cheap because an outbox holds only its backlog (relayed rows are deleted), so the count
    // costs as much as the backlog is long — what the relay reads anyway to drain it. What the
    // relay knows without a query (rows it picked) cannot tell a backlog of batchSize from one
    // of a million, nor see rows other relays hold.
    const stop = observeBatch(meter, [pending], async (sink) => {
      const rows = await count(COUNT_TIMEOUT).catch(() => undefined);
      if (rows !== undefined) sink.observe(pending, rows, attrs);
    });
    return new RelayMetrics(lag, attrs, stop);
  }

  private constructor(lag: HistogramInstrument, attrs: MetricAttributes, stop: () => void) {
    this.#lag = lag;
    this.#attrs = attrs;
    this.#stop = stop;
  }

  /**
   * Call when a row is picked, with its age then (seconds, read by PostgreSQL: `clock_timestamp() -
   * created_at`, one clock for both ends); call what it returns at the confirm. The time since the
   * pick is added from this process's monotonic clock, so no clock of two machines is compared.
   */
  lagFrom(ageAtPick: number): () => void {
    const picked = now();
    return () => this.#lag.record(ageAtPick + (now() - picked) / 1000, this.#attrs);
  }

  /** Stops reporting the gauge (the relay stopped). Idempotent. */
  close(): void {
    this.#stop();
  }
}
