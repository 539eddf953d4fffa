/**
 * connkit's AMQP wire conventions (DESIGN §6) in one place: every header, queue name and property
 * value that other clients — C librabbitmq, Python aio-pika, Java — read or write to interoperate
 * with connkit. Body encoding lives in `codec.ts`.
 * @module
 */

/**
 * Header in which connkit counts delivery attempts across its delay queues (1 on the first
 * delivery; a message without it is attempt 1).
 *
 * @example
 * ```ts
 * raw.properties.headers?.[ATTEMPT_HEADER]; // 2 on the first retry
 * ```
 */
export const ATTEMPT_HEADER = 'x-connkit-attempt';

/**
 * Header carrying the failure's message when connkit retries or dead-letters a message.
 *
 * @example
 * ```ts
 * const why = deadMsg.properties.headers?.[ERROR_HEADER];
 * ```
 */
export const ERROR_HEADER = 'x-connkit-error';

/**
 * Header carrying the failure's `name` (`'TypeError'`, `'SyntaxError'`…) on a dead-lettered message.
 *
 * @example
 * ```ts
 * deadMsg.properties.headers?.[ERROR_NAME_HEADER]; // 'MissingMessageIdError'
 * ```
 */
export const ERROR_NAME_HEADER = 'x-connkit-error-name';

/**
 * Header naming the queue a dead-lettered message was consumed from.
 *
 * @example
 * ```ts
 * deadMsg.properties.headers?.[SOURCE_QUEUE_HEADER]; // 'orders'
 * ```
 */
export const SOURCE_QUEUE_HEADER = 'x-connkit-queue';

/**
 * Header of an RPC reply whose handler threw: the error's message (the body carries
 * `{ "error": { "name", "message", "code" } }`).
 *
 * @example
 * ```ts
 * if (reply.properties.headers?.[RPC_ERROR_HEADER] !== undefined) handleRemoteFailure(reply);
 * ```
 */
export const RPC_ERROR_HEADER = 'x-error';

/**
 * RabbitMQ's direct reply-to pseudo-queue: `call` sends its requests with this `reply_to` and
 * consumes its replies from it.
 *
 * @example
 * ```ts
 * channel.publish('', queue, content, { replyTo: DIRECT_REPLY_TO, correlationId });
 * ```
 */
export const DIRECT_REPLY_TO = 'amq.rabbitmq.reply-to';

/**
 * The longest per-message TTL (`expiration`) and queue TTL (`x-message-ttl`) RabbitMQ accepts, in
 * ms (2^32-1); a larger value makes the broker close the channel.
 *
 * @example
 * ```ts
 * if (ttl > MAX_TTL) throw new RangeError('too long');
 * ```
 */
export const MAX_TTL = 4_294_967_295;

/**
 * Name of the delay queue through which a consumer of `queue` retries after `ms`.
 *
 * @example
 * ```ts
 * delayQueueName('orders', 5000); // 'orders.connkit-delay.5000ms'
 * ```
 */
export function delayQueueName(queue: string, ms: number): string {
  return `${queue}.connkit-delay.${ms}ms`;
}

/**
 * Arguments of the delay queue of `queue` for `ms`: messages wait `ms`, then expire back to `queue`
 * through the default exchange. A `quorum` delay queue (the delay queue of a quorum queue)
 * dead-letters at-least-once (the broker re-publishes with confirms, instead of RabbitMQ's default
 * at-most-once for quorum queues), which needs `x-overflow: reject-publish`.
 *
 * @example
 * ```ts
 * await channel.assertQueue(delayQueueName('orders', 100), { durable: true, arguments: delayQueueArguments('orders', 100) });
 * ```
 */
export function delayQueueArguments(queue: string, ms: number, quorum = false): Record<string, unknown> {
  const args: Record<string, unknown> = {
    'x-message-ttl': ms,
    'x-dead-letter-exchange': '',
    'x-dead-letter-routing-key': queue,
  };
  if (quorum) {
    args['x-queue-type'] = 'quorum';
    args['x-dead-letter-strategy'] = 'at-least-once';
    args['x-overflow'] = 'reject-publish';
  }
  return args;
}

/**
 * The AMQP `timestamp` property for now: whole seconds of the wall clock (the protocol's unit).
 *
 * @example
 * ```ts
 * options.timestamp = wireTimestamp();
 * ```
 */
export function wireTimestamp(): number {
  return Math.floor(Date.now() / 1000);
}
