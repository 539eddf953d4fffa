/**
 * {@link BrokerMetrics}: a Broker's OpenTelemetry metrics, named after the messaging conventions
 * (`messaging.client.*`, `messaging.process.duration`) where one exists, and connkit's own names
 * (`connkit.amqp.*`) for what the conventions do not cover (reconnects, dead-lettered messages).
 * Made once per Broker, only when a MeterProvider is registered; without one the Broker holds
 * `undefined` and measures nothing.
 * @module
 */
import {
  ATTR,
  connkitMeter,
  errorType,
  MESSAGING_DURATION_BUCKETS,
  METRIC,
  observeBatch,
  VALUE,
  type ConnkitMeter,
  type CounterInstrument,
  type HistogramInstrument,
  type MetricAttributes,
} from '../../src/internal/index.js';

/**
 * Why a delivery was dead-lettered (`connkit.amqp.dead_letter.reason`).
 *
 * @example
 * ```ts
 * const reason: DeadLetterReason = 'attempts-exhausted';
 * ```
 */
export type DeadLetterReason = 'undecodable' | 'non-retryable' | 'attempts-exhausted' | 'not-retried';

/**
 * What the metrics read from their Broker at collection time.
 *
 * @example
 * ```ts
 * const counts: BrokerCounts = { stats: () => ({ reconnects: 2 }) };
 * ```
 */
export interface BrokerCounts {
  stats(): { readonly reconnects: number };
}

/**
 * The instruments of one Broker.
 *
 * @example
 * ```ts
 * const metrics = BrokerMetrics.open(new WeakRef(broker)); // undefined without a MeterProvider
 * metrics?.published('orders', 0.004, undefined);
 * metrics?.close();
 * ```
 */
export class BrokerMetrics {
  readonly #operation: HistogramInstrument;
  readonly #sent: CounterInstrument;
  readonly #consumed: CounterInstrument;
  readonly #process: HistogramInstrument;
  readonly #deadLettered: CounterInstrument;
  readonly #stop: () => void;

  /** The Broker's metrics, or `undefined` when no MeterProvider is registered. */
  static open(broker: WeakRef<BrokerCounts>): BrokerMetrics | undefined {
    const meter = connkitMeter();
    return meter === undefined ? undefined : new BrokerMetrics(meter, broker);
  }

  constructor(meter: ConnkitMeter, broker: WeakRef<BrokerCounts>) {
    const buckets = { explicitBucketBoundaries: [...MESSAGING_DURATION_BUCKETS] };
    this.#operation = meter.createHistogram(METRIC.MESSAGING_OPERATION_DURATION, {
      description: 'Duration of a publish, from the call to the broker’s confirm',
      unit: 's',
      advice: buckets,
    });
    this.#sent = meter.createCounter(METRIC.MESSAGING_SENT_MESSAGES, {
      description: 'Messages published (confirmed, or failed with error.type)',
      unit: '{message}',
    });
    this.#consumed = meter.createCounter(METRIC.MESSAGING_CONSUMED_MESSAGES, {
      description: 'Deliveries handed to a consume or serve handler',
      unit: '{message}',
    });
    this.#process = meter.createHistogram(METRIC.MESSAGING_PROCESS_DURATION, {
      description: 'Duration of a handler, until its delivery is settled',
      unit: 's',
      advice: buckets,
    });
    this.#deadLettered = meter.createCounter(METRIC.CONNKIT_AMQP_DEAD_LETTERED, {
      description:
        'Deliveries whose handler failed for good: relayed to the dead-letter queue, or rejected to the queue’s own DLX',
      unit: '{message}',
    });
    const reconnects = meter.createObservableCounter(METRIC.CONNKIT_AMQP_RECONNECTS, {
      description: 'Times the Broker connected again after losing its connection',
      unit: '{reconnect}',
    });
    const attrs = { [ATTR.MESSAGING_SYSTEM]: VALUE.MESSAGING_RABBITMQ };
    // Read at collection time: nothing on the connection's path.
    const stop = (this.#stop = observeBatch(meter, [reconnects], (sink) => {
      const stats = broker.deref()?.stats();
      if (stats === undefined) return void stop(); // the Broker was collected without close()
      sink.observe(reconnects, stats.reconnects, attrs);
    }));
  }

  /** A publish settled after `seconds`: confirmed (`error` undefined) or failed. */
  published(exchange: string, seconds: number, error: unknown): void {
    const attrs = opAttrs(exchange, VALUE.OP_SEND, 'publish');
    if (error !== undefined) attrs[ATTR.ERROR_TYPE] = errorType(error);
    this.#operation.record(seconds, attrs);
    this.#sent.add(1, attrs);
  }

  /** A delivery was handed to a handler. */
  consumed(queue: string): void {
    this.#consumed.add(1, opAttrs(queue, VALUE.OP_PROCESS, 'process'));
  }

  /** A handler's delivery was settled after `seconds`; `error` when the handler failed. */
  processed(queue: string, seconds: number, failed: boolean, error: unknown): void {
    const attrs = opAttrs(queue, VALUE.OP_PROCESS, 'process');
    if (failed) attrs[ATTR.ERROR_TYPE] = errorType(error);
    this.#process.record(seconds, attrs);
  }

  /** A failed delivery left its queue for good. */
  deadLettered(queue: string, outcome: 'dead-letter' | 'reject', reason: DeadLetterReason): void {
    this.#deadLettered.add(1, {
      ...opAttrs(queue, VALUE.OP_PROCESS, 'process'),
      [ATTR.CONNKIT_AMQP_OUTCOME]: outcome,
      [ATTR.CONNKIT_AMQP_DEAD_LETTER_REASON]: reason,
    });
  }

  /** Stops reporting (the Broker closes). Idempotent. */
  close(): void {
    this.#stop();
  }
}

function opAttrs(destination: string, type: string, name: string): MetricAttributes {
  return {
    [ATTR.MESSAGING_SYSTEM]: VALUE.MESSAGING_RABBITMQ,
    [ATTR.MESSAGING_DESTINATION_NAME]: destination,
    [ATTR.MESSAGING_OPERATION_TYPE]: type,
    [ATTR.MESSAGING_OPERATION_NAME]: name,
  };
}
