/**
 * {@link PublishOptions} and their translation into AMQP message properties, validated before
 * anything is sent: a value the broker would refuse (a bad `expiration` or `priority`) would close
 * the shared confirm channel and cost every publish in flight on it a re-publish.
 * @module
 */
import { randomUUID } from 'node:crypto';
import type { Options } from 'amqplib';
import { checkDuration, checkSignal, describeValue, type WaitOptions } from '../../src/internal/index.js';
import { encodeBody } from './codec.js';
import { MAX_TTL, wireTimestamp } from './wire.js';

/**
 * Options of `broker.publish()` and `broker.sendToQueue()`.
 *
 * @example
 * ```ts
 * await broker.publish('orders', 'order.created', order, { messageId: order.id, timeout: 5000 });
 * ```
 */
export interface PublishOptions extends WaitOptions {
  /** Delivery mode 2 (survives a broker restart in a durable queue). @default true */
  persistent?: boolean;
  /** Return the message (→ `UnroutableError`) when no queue takes it. @default true */
  mandatory?: boolean;
  /** Message id; re-publishes after a reconnect keep it. @default a random UUID */
  messageId?: string;
  correlationId?: string;
  replyTo?: string;
  /** Header values keep their AMQP types (string, integer, boolean…). */
  headers?: Record<string, unknown>;
  /** Overrides the declared content type (the encoding still follows the body's JS type). */
  contentType?: string;
  /** Per-message TTL in milliseconds: an integer in [0, 2^32-1], or its decimal string. */
  expiration?: number | string;
  /** Message priority, an integer in [0, 255] (honoured by queues declared with `x-max-priority`). */
  priority?: number;
  type?: string;
  appId?: string;
}

/**
 * Checks that `headers` is absent or a plain object (an AMQP field table); returns it.
 *
 * @example
 * ```ts
 * checkHeaders(opts.headers); // TypeError for 'x' or []
 * ```
 */
export function checkHeaders(headers: unknown): Record<string, unknown> | undefined {
  if (headers === undefined) return undefined;
  if (headers === null || typeof headers !== 'object' || Array.isArray(headers) || Buffer.isBuffer(headers)) {
    throw new TypeError(`headers must be an object of header values, got ${describeValue(headers)}`);
  }
  return headers as Record<string, unknown>;
}

/**
 * Checks an `expiration`: an integer number of ms in [0, 2^32-1] or its decimal string, as the
 * string the wire carries.
 *
 * @example
 * ```ts
 * checkExpiration(60_000); // '60000'
 * checkExpiration(-1); // RangeError: expiration must be …, got -1
 * ```
 */
export function checkExpiration(value: unknown): string {
  if (typeof value === 'number') {
    if (Number.isInteger(value) && value >= 0 && value <= MAX_TTL) return String(value);
  } else if (typeof value === 'string') {
    if (/^\d{1,10}$/.test(value) && Number(value) <= MAX_TTL) return value;
  } else {
    throw new TypeError(
      `expiration must be a number of milliseconds or its decimal string, got ${describeValue(value)}`,
    );
  }
  throw new RangeError(
    `expiration must be an integer number of milliseconds in [0, ${MAX_TTL}] (or its decimal string), got ${describeValue(value)}`,
  );
}

function checkPriority(value: unknown): number {
  if (typeof value !== 'number')
    throw new TypeError(`priority must be an integer, got ${describeValue(value)}`);
  if (!Number.isInteger(value) || value < 0 || value > 255) {
    throw new RangeError(`priority must be an integer in [0, 255], got ${describeValue(value)}`);
  }
  return value;
}

function checkString(value: unknown, name: string): string {
  if (typeof value !== 'string') throw new TypeError(`${name} must be a string, got ${describeValue(value)}`);
  return value;
}

function checkBoolean(value: unknown, name: string): boolean {
  if (typeof value !== 'boolean')
    throw new TypeError(`${name} must be a boolean, got ${describeValue(value)}`);
  return value;
}

/**
 * The AMQP properties of a publish, following the wire conventions (a `message_id`, delivery mode 2
 * when persistent, a `timestamp`); throws `TypeError`/`RangeError` naming the first bad option.
 *
 * @example
 * ```ts
 * const properties = publishProperties({ priority: 5 }, 'application/json');
 * channel.publish('', 'jobs', content, properties);
 * ```
 */
export function publishProperties(
  opts: PublishOptions,
  contentType: string,
): Options.Publish & { messageId: string } {
  const properties: Options.Publish & { messageId: string } = {
    messageId: opts.messageId === undefined ? randomUUID() : checkString(opts.messageId, 'messageId'),
    contentType,
    deliveryMode: opts.persistent === undefined || checkBoolean(opts.persistent, 'persistent') ? 2 : 1,
    mandatory: opts.mandatory === undefined || checkBoolean(opts.mandatory, 'mandatory'),
    timestamp: wireTimestamp(),
  };
  // Only what was given: amqplib writes every present property, and most publishes set none.
  if (opts.headers !== undefined) properties.headers = checkHeaders(opts.headers);
  if (opts.correlationId !== undefined)
    properties.correlationId = checkString(opts.correlationId, 'correlationId');
  if (opts.replyTo !== undefined) properties.replyTo = checkString(opts.replyTo, 'replyTo');
  if (opts.expiration !== undefined) properties.expiration = checkExpiration(opts.expiration);
  if (opts.priority !== undefined) properties.priority = checkPriority(opts.priority);
  if (opts.type !== undefined) properties.type = checkString(opts.type, 'type');
  if (opts.appId !== undefined) properties.appId = checkString(opts.appId, 'appId');
  return properties;
}

/**
 * A publish call's arguments, validated and encoded.
 *
 * @example
 * ```ts
 * const { content, properties, signal, timeout } = readPublish('', 'jobs', body, opts, 30_000);
 * ```
 */
export interface PublishCall {
  content: Buffer;
  properties: Options.Publish & { messageId: string };
  signal: AbortSignal | undefined;
  /** The call's timeout in ms, `defaultTimeout` when omitted. */
  timeout: number;
}

/**
 * Validates and encodes the arguments of `publish()`; throws `TypeError`/`RangeError` quoting the
 * first bad one (DESIGN §2: bad arguments throw synchronously).
 *
 * @example
 * ```ts
 * readPublish(1 as never, 'k', {}, {}, 30_000); // TypeError: exchange must be a string, got 1
 * ```
 */
export function readPublish(
  exchange: unknown,
  routingKey: unknown,
  body: unknown,
  opts: PublishOptions,
  defaultTimeout: number,
): PublishCall {
  if (typeof exchange !== 'string')
    throw new TypeError(`exchange must be a string, got ${describeValue(exchange)}`);
  if (typeof routingKey !== 'string') {
    throw new TypeError(`routingKey must be a string, got ${describeValue(routingKey)}`);
  }
  if (opts === null || typeof opts !== 'object') {
    throw new TypeError(`options must be an object, got ${describeValue(opts)}`);
  }
  const signal = checkSignal(opts.signal);
  const timeout = checkDuration(opts.timeout, 'timeout', defaultTimeout);
  const declared = opts.contentType === undefined ? undefined : checkString(opts.contentType, 'contentType');
  const { content, contentType } = encodeBody(body, declared);
  return { content, properties: publishProperties(opts, contentType), signal, timeout };
}
