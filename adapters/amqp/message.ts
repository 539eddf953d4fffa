/**
 * The message a consumer's handler receives: the decoded body, the raw amqplib message, and the
 * delivery attempt.
 * @module
 */
import type { ConsumeMessage, MessageProperties } from 'amqplib';
import { decodeBody } from './codec.js';
import { offsetOf } from './stream-offset.js';
import { ATTEMPT_HEADER } from './wire.js';

/**
 * A delivered message.
 *
 * @example
 * ```ts
 * broker.consume<{ id: number }>('jobs', async (msg) => {
 *   console.log(msg.body.id, msg.attempt, msg.properties.messageId, msg.queue, msg.offset);
 * });
 * ```
 */
export interface Message<T = unknown> {
  /** Body decoded by content type: JSON → value, `text/*` → string, else bytes. */
  readonly body: T;
  /** The amqplib message, content as received. */
  readonly raw: ConsumeMessage;
  readonly fields: { deliveryTag: number; redelivered: boolean; exchange: string; routingKey: string };
  /**
   * The queue the message was consumed from: the consumer's own queue, known to connkit, not read
   * from the wire (a message published to an exchange, or back from a delay queue, carries another
   * routing key).
   */
  readonly queue: string;
  readonly properties: MessageProperties;
  /** 1 on the first delivery, counted through connkit's retries. */
  readonly attempt: number;
  /**
   * The message's offset in a stream (its `x-stream-offset` header); `undefined` for other queues.
   * Store it to resume later with `consume(stream, handler, { offset: stored + 1 })`.
   */
  readonly offset: number | undefined;
}

/**
 * Reads connkit's attempt header; a foreign message without one is attempt 1.
 *
 * @example
 * ```ts
 * attemptOf(raw); // 1 for a message from another client
 * ```
 */
export function attemptOf(raw: ConsumeMessage): number {
  const value: unknown = (raw.properties.headers as Record<string, unknown> | undefined)?.[ATTEMPT_HEADER];
  const n = typeof value === 'number' ? value : typeof value === 'string' ? Number(value) : NaN;
  return Number.isInteger(n) && n >= 1 ? n : 1;
}

/**
 * Builds the handler's message of a delivery from `queue`; throws (SyntaxError) when a declared
 * JSON body does not parse.
 *
 * @example
 * ```ts
 * const msg = toMessage(raw, 'orders'); // msg.body is decoded, msg.attempt read from the headers
 * ```
 */
export function toMessage<T>(raw: ConsumeMessage, queue: string): Message<T> {
  const { deliveryTag, redelivered, exchange, routingKey } = raw.fields;
  return {
    body: decodeBody(raw.content, raw.properties.contentType as string | undefined) as T,
    raw,
    fields: { deliveryTag, redelivered, exchange, routingKey },
    queue,
    properties: raw.properties,
    attempt: attemptOf(raw),
    offset: offsetOf(raw.properties.headers),
  };
}
