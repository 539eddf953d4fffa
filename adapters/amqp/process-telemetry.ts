/**
 * {@link ProcessTelemetry}: what a consumer tells observers about each delivery its handler runs on
 * (DESIGN §11) — a `<queue> process` span of connkit's own (kind consumer), whose parent is the
 * context the producer put in the message's headers and which is active while the handler's code
 * runs, until the delivery is settled; the `connkit:amqp:process` TracingChannel; and the consume
 * metrics. With no SDK, no MeterProvider and no subscriber, `observed` is false and the runner takes
 * its plain path: nothing here runs.
 * @module
 */
import type { ConsumeMessage } from 'amqplib';
import {
  amqpProcessChannel,
  ATTR,
  extractContext,
  inSpan,
  now,
  traceCall,
  tracingEnabled,
  VALUE,
  type AmqpProcessContext,
  type SpanAttributes,
  type TracedSpan,
} from '../../src/internal/index.js';
import type { BrokerMetrics, DeadLetterReason } from './broker-metrics.js';
import { attemptOf } from './message.js';

/**
 * What became of a delivery.
 *
 * @example
 * ```ts
 * const outcome: ProcessOutcome = 'dead-letter';
 * ```
 */
export type ProcessOutcome = NonNullable<AmqpProcessContext['outcome']>;

/**
 * What the runner reports about one delivery while handling it.
 *
 * @example
 * ```ts
 * probe.outcome = 'retry'; probe.failed = true; probe.error = err;
 * ```
 */
export interface ProcessProbe {
  outcome: ProcessOutcome | undefined;
  /** The handler threw (or the body could not be decoded). */
  failed: boolean;
  error: unknown;
  /** Set for a failed delivery that left its queue for good. */
  deadLetterReason: DeadLetterReason | undefined;
}

/**
 * The delivery observers of one consumer.
 *
 * @example
 * ```ts
 * const telemetry = new ProcessTelemetry('orders', metrics);
 * if (telemetry.observed) await telemetry.run(raw, (probe) => handle(raw, probe));
 * ```
 */
export class ProcessTelemetry {
  readonly #queue: string;
  readonly #metrics: BrokerMetrics | undefined;
  readonly #spanName: string;

  constructor(queue: string, metrics: BrokerMetrics | undefined) {
    this.#queue = queue;
    this.#metrics = metrics;
    this.#spanName = `${queue} process`;
  }

  /** True when a delivery has an observer: an SDK, a MeterProvider, or a channel subscriber. */
  get observed(): boolean {
    return this.#metrics !== undefined || amqpProcessChannel.hasSubscribers || tracingEnabled();
  }

  /**
   * Runs `handle` (the handler and the settlement) under the observers. A handler failure is
   * recorded (span status, the channel's `error`, `error.type`) but not thrown: the runner has dealt
   * with it. What `handle` itself throws is thrown.
   */
  async run(raw: ConsumeMessage, handle: (probe: ProcessProbe) => Promise<void>): Promise<void> {
    const probe: ProcessProbe = {
      outcome: undefined,
      failed: false,
      error: undefined,
      deadLetterReason: undefined,
    };
    const metrics = this.#metrics;
    const started = metrics === undefined ? 0 : now();
    metrics?.consumed(this.#queue);
    const queue = this.#queue;
    let ctx: AmqpProcessContext | undefined;
    // Rejects with the handler's error so that the span and the channel record it.
    const handled = async (span: TracedSpan | undefined): Promise<void> => {
      try {
        await handle(probe);
      } finally {
        if (ctx !== undefined && probe.outcome !== undefined) ctx.outcome = probe.outcome;
        if (span !== undefined && probe.outcome !== undefined && span.isRecording()) {
          span.setAttribute(ATTR.CONNKIT_AMQP_OUTCOME, probe.outcome);
        }
      }
      if (probe.failed) throw probe.error;
    };
    const spanned = tracingEnabled()
      ? () =>
          inSpan(
            this.#spanName,
            {
              kind: 'consumer',
              // No trace headers: a root, never the context of whatever ran before (a buffered
              // delivery starts from the previous handler's completion).
              parent: extractContext(raw.properties.headers as Record<string, unknown> | undefined) ?? null,
              attributes: () => processAttributes(queue, raw),
            },
            handled,
          )
      : () => handled(undefined);
    try {
      if (amqpProcessChannel.hasSubscribers) {
        ctx = processContext(queue, raw);
        await traceCall(amqpProcessChannel, ctx, spanned);
      } else await spanned();
    } catch (err) {
      if (!probe.failed || err !== probe.error) throw err;
    } finally {
      if (metrics !== undefined) {
        metrics.processed(queue, (now() - started) / 1000, probe.failed, probe.error);
        const outcome = probe.outcome;
        if ((outcome === 'dead-letter' || outcome === 'reject') && probe.deadLetterReason !== undefined) {
          metrics.deadLettered(queue, outcome, probe.deadLetterReason);
        }
      }
    }
  }
}

function processAttributes(queue: string, raw: ConsumeMessage): SpanAttributes {
  const { routingKey, deliveryTag } = raw.fields;
  const id = raw.properties.messageId as unknown;
  return {
    [ATTR.MESSAGING_SYSTEM]: VALUE.MESSAGING_RABBITMQ,
    [ATTR.MESSAGING_OPERATION_TYPE]: VALUE.OP_PROCESS,
    [ATTR.MESSAGING_OPERATION_NAME]: 'process',
    [ATTR.MESSAGING_DESTINATION_NAME]: queue,
    [ATTR.MESSAGING_RABBITMQ_ROUTING_KEY]: routingKey === '' ? undefined : routingKey,
    [ATTR.MESSAGING_MESSAGE_ID]: typeof id === 'string' ? id : undefined,
    [ATTR.MESSAGING_MESSAGE_BODY_SIZE]: raw.content.length,
    [ATTR.MESSAGING_RABBITMQ_DELIVERY_TAG]: deliveryTag,
  };
}

function processContext(queue: string, raw: ConsumeMessage): AmqpProcessContext {
  const { exchange, routingKey, redelivered } = raw.fields;
  const id = raw.properties.messageId as unknown;
  return {
    queue,
    exchange,
    routingKey,
    messageId: typeof id === 'string' ? id : undefined,
    bodySize: raw.content.length,
    attempt: attemptOf(raw),
    redelivered,
  };
}
