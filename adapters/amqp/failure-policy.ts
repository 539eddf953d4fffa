/**
 * {@link FailurePolicy}: what becomes of a delivery whose handler failed — retried through a delay
 * queue (attempt counted in a header), dead-lettered to a queue (the error in headers), or rejected
 * to the queue's own DLX. A relayed message keeps exactly the identity it came with: its
 * `message_id` (none stays none), correlation id, type, timestamp and headers.
 * @module
 */
import type { ConsumeMessage, Options } from 'amqplib';
import { describeValue } from '../../src/internal/index.js';
import type { DeadLetterReason } from './broker-metrics.js';
import type { ConsumeSettings, RetryPredicate } from './consume-options.js';
import { NonRetryableError } from './errors.js';
import { failureAction } from './failure-action.js';
import type { Message } from './message.js';
import type { QueueType, Topology } from './topology.js';
import {
  ATTEMPT_HEADER,
  delayQueueArguments,
  delayQueueName,
  ERROR_HEADER,
  ERROR_NAME_HEADER,
  SOURCE_QUEUE_HEADER,
  wireTimestamp,
} from './wire.js';

/**
 * How a failed delivery ended: relayed (ack the original), or to be rejected / requeued.
 *
 * @example
 * ```ts
 * const outcome: FailureOutcome = await policy.fail(raw, msg, err); // 'retried'
 * ```
 */
export type FailureOutcome = 'retried' | 'dead-lettered' | 'rejected' | 'requeue';

/**
 * What the policy needs from the broker.
 *
 * @example
 * ```ts
 * const host: FailureHost = { republish: (ex, key, content, props) => publisher.republish(ex, key, content, props), reportError() {} };
 * ```
 */
export interface FailureHost {
  /** A confirmed publish of a message as it is (no id made up for one that has none). */
  republish(
    exchange: string,
    routingKey: string,
    content: Buffer,
    properties: Options.Publish,
  ): Promise<void>;
  reportError(message: string, err: unknown, details?: Record<string, unknown>): void;
}

/**
 * The name and message of anything thrown, for headers.
 *
 * @example
 * ```ts
 * errorText('boom'); // { name: 'string', message: 'Non-error thrown: "boom"' }
 * ```
 */
export function errorText(err: unknown): { name: string; message: string } {
  if (err instanceof Error) return { name: err.name, message: err.message };
  return { name: typeof err, message: `Non-error thrown: ${describeValue(err)}` };
}

/**
 * The properties of `raw` to relay it with, plus `headers`. Left out: `expiration` (the copy
 * must not expire in a delay queue) and `user_id` (the broker checks it against the connection's user).
 *
 * @example
 * ```ts
 * const props = relayProperties(raw, { 'x-connkit-attempt': 2 });
 * ```
 */
export function relayProperties(raw: ConsumeMessage, headers: Record<string, unknown>): Options.Publish {
  const p = raw.properties;
  const out: Options.Publish = {
    headers: { ...(p.headers as Record<string, unknown> | undefined), ...headers },
    deliveryMode: p.deliveryMode === 1 ? 1 : 2,
    mandatory: true,
    timestamp: typeof p.timestamp === 'number' ? p.timestamp : wireTimestamp(),
  };
  if (typeof p.messageId === 'string') out.messageId = p.messageId;
  if (typeof p.contentType === 'string') out.contentType = p.contentType;
  if (typeof p.contentEncoding === 'string') out.contentEncoding = p.contentEncoding;
  if (typeof p.correlationId === 'string') out.correlationId = p.correlationId;
  if (typeof p.replyTo === 'string') out.replyTo = p.replyTo;
  if (typeof p.type === 'string') out.type = p.type;
  if (typeof p.appId === 'string') out.appId = p.appId;
  if (typeof p.priority === 'number') out.priority = p.priority;
  return out;
}

/**
 * The retry and dead-letter policy of one consumer.
 *
 * @example
 * ```ts
 * const policy = new FailurePolicy('jobs', settings, host);
 * await broker.declare(policy.topology());
 * const outcome = await policy.fail(raw, msg, err);
 * ```
 */
export class FailurePolicy {
  readonly #queue: string;
  readonly #attempts: number;
  readonly #delays: number[];
  readonly #deadLetter: string | undefined;
  readonly #retryIf: RetryPredicate | undefined;
  readonly #host: FailureHost;

  constructor(queue: string, settings: ConsumeSettings, host: FailureHost) {
    this.#queue = queue;
    this.#attempts = settings.attempts;
    this.#delays = settings.delays;
    this.#deadLetter = settings.deadLetter;
    this.#retryIf = settings.retryIf;
    this.#host = host;
  }

  /** True when failures are retried (delay queues must exist). */
  get retries(): boolean {
    return this.#attempts > 1;
  }

  /** Queue that takes spent messages, if any. */
  get deadLetter(): string | undefined {
    return this.#deadLetter;
  }

  /**
   * The delay queues retries go through. For a quorum queue (`sourceType`) they are quorum queues
   * too, so a message waiting out its delay survives the loss of a node.
   */
  topology(sourceType?: QueueType): Topology {
    const replicated = sourceType === 'quorum' || sourceType === 'stream';
    const queues = [...new Set(this.#delays)].map((ms) => ({
      name: delayQueueName(this.#queue, ms),
      ...(replicated && { type: 'quorum' as const }),
      options: { durable: true, arguments: delayQueueArguments(this.#queue, ms, replicated) },
    }));
    return { queues };
  }

  /**
   * Why a failure that was not retried left the queue (for the `connkit.amqp.dead_lettered` metric):
   * the same questions {@link failureAction} asked, in its order.
   */
  deadLetterReason(msg: Message | undefined, err: unknown): DeadLetterReason {
    if (msg === undefined) return 'undecodable';
    if (err instanceof NonRetryableError) return 'non-retryable';
    return msg.attempt >= this.#attempts ? 'attempts-exhausted' : 'not-retried';
  }

  /**
   * Carries out what the failure calls for ({@link failureAction}: `msg` is `undefined` when the
   * delivery could not even be decoded): a relay to a delay queue or the dead-letter queue, a
   * rejection, or a requeue. A relay that fails is reported and the delivery goes back to the queue.
   */
  async fail(raw: ConsumeMessage, msg: Message | undefined, err: unknown): Promise<FailureOutcome> {
    const action = failureAction(err, msg, this.#attempts, this.#retryIf, (e) =>
      this.#host.reportError('connkit/amqp: retryIf threw; the message is retried', e, {
        queue: this.#queue,
      }),
    );
    if (action === 'requeue') return 'requeue';
    const { name, message } = errorText(err);
    if (action === 'retry' && msg !== undefined) {
      const attempt = msg.attempt;
      const delay = this.#delays[Math.min(attempt - 1, this.#delays.length - 1)] as number;
      const properties = relayProperties(raw, { [ATTEMPT_HEADER]: attempt + 1, [ERROR_HEADER]: message });
      return this.#relay(delayQueueName(this.#queue, delay), raw, properties, 'retried');
    }
    if (this.#deadLetter === undefined) return 'rejected';
    const properties = relayProperties(raw, {
      [ERROR_HEADER]: message,
      [ERROR_NAME_HEADER]: name,
      [SOURCE_QUEUE_HEADER]: this.#queue,
    });
    return this.#relay(this.#deadLetter, raw, properties, 'dead-lettered');
  }

  async #relay(
    queue: string,
    raw: ConsumeMessage,
    properties: Options.Publish,
    outcome: FailureOutcome,
  ): Promise<FailureOutcome> {
    try {
      await this.#host.republish('', queue, raw.content, properties);
      return outcome;
    } catch (err) {
      this.#host.reportError(`connkit/amqp: could not relay a failed message (${outcome})`, err, {
        queue: this.#queue,
        to: queue,
      });
      return 'requeue';
    }
  }
}
