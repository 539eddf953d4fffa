/**
 * Errors of the AMQP adapter. Each carries a stable `code`; the driver's error, when there is one,
 * is kept as `cause`.
 *
 * @example
 * ```ts
 * import { UnroutableError } from 'connkit/amqp';
 * await broker.publish('orders', 'no.such.key', {}).catch((e) => e instanceof UnroutableError);
 * ```
 * @module
 */
import { ClosedError, ConnkitError, type ConnkitErrorOptions } from '../../src/internal/index.js';

export { ConnectionError, TimeoutError } from '../../src/internal/index.js';

/**
 * A `mandatory` message was returned by the broker: no queue was bound to take it.
 *
 * @example
 * ```ts
 * try { await broker.publish('ex', 'nobody.listens', body); }
 * catch (e) { if (e instanceof UnroutableError) console.log(e.exchange, e.routingKey); }
 * ```
 */
export class UnroutableError extends ConnkitError {
  /** Exchange the message was published to (`''` for the default exchange). */
  readonly exchange: string;
  /** Routing key the message was published with. */
  readonly routingKey: string;

  constructor(exchange: string, routingKey: string, replyText = 'NO_ROUTE', options?: ConnkitErrorOptions) {
    super(
      `Message to exchange ${JSON.stringify(exchange)} with routing key ${JSON.stringify(routingKey)} was returned: ${replyText}`,
      'UNROUTABLE',
      options,
    );
    this.exchange = exchange;
    this.routingKey = routingKey;
  }
}

/**
 * The broker refused to take responsibility for a published message (`basic.nack`).
 *
 * @example
 * ```ts
 * await broker.publish('ex', 'k', body).catch((e) => e instanceof NackError && e.code === 'NACKED');
 * ```
 */
export class NackError extends ConnkitError {
  constructor(message = 'The broker nacked the message', options?: ConnkitErrorOptions) {
    super(message, 'NACKED', options);
  }
}

/**
 * The broker (connkit's `Broker`) is closed or closing: new work is refused and pending publishes
 * that could not be confirmed in time reject with this.
 *
 * @example
 * ```ts
 * await broker.close();
 * await broker.publish('ex', 'k', 1).catch((e) => e instanceof BrokerClosedError); // true
 * ```
 */
export class BrokerClosedError extends ClosedError {
  constructor(message = 'Broker is closed', options?: ConnkitErrorOptions) {
    super(message, options, 'BROKER_CLOSED');
  }
}

/**
 * Too many publishes are waiting (`maxPending` reached, typically while disconnected).
 *
 * @example
 * ```ts
 * await broker.publish('ex', 'k', body).catch((e) => e instanceof BufferFullError && e.code === 'BUFFER_FULL');
 * ```
 */
export class BufferFullError extends ConnkitError {
  constructor(message = 'Publish buffer is full', options?: ConnkitErrorOptions) {
    super(message, 'BUFFER_FULL', options);
  }
}

/**
 * An RPC handler on the other side threw: carries the remote error's name, message and code.
 *
 * @example
 * ```ts
 * try { await broker.call('rpc.q', { n: 1 }); }
 * catch (e) { if (e instanceof RemoteError) console.log(e.remoteName, e.remoteCode, e.message); }
 * ```
 */
export class RemoteError extends ConnkitError {
  /** `name` of the error the remote handler threw (e.g. `'TypeError'`). */
  readonly remoteName: string;
  /** `code` of the remote error, when it had one: a string (`'ENOENT'`) or a number (`404`). */
  readonly remoteCode: string | number | undefined;

  constructor(
    message: string,
    remoteName = 'Error',
    remoteCode?: string | number,
    options?: ConnkitErrorOptions,
  ) {
    super(message, 'REMOTE', options);
    this.remoteName = remoteName;
    this.remoteCode = remoteCode;
  }
}

/**
 * Thrown by a consume handler for a message that will never succeed (a poison message): it is
 * dead-lettered at once — to the consumer's `deadLetter` queue, else rejected to the queue's own
 * DLX — without the retries left. Subclass it for your own poison errors (the dead-lettered message
 * carries the subclass's name in `x-connkit-error-name`).
 *
 * @example
 * ```ts
 * broker.consume('orders', async (msg) => {
 *   if (!isOrder(msg.body)) throw new NonRetryableError('not an order', { cause: validationError });
 *   await apply(msg.body);
 * }, { retry: { attempts: 5, delay: 1000 }, deadLetter: 'orders.dead' });
 * ```
 */
export class NonRetryableError extends ConnkitError {
  constructor(
    message = 'The message cannot be handled and is not retried',
    options?: ConnkitErrorOptions,
    code = 'NON_RETRYABLE',
  ) {
    super(message, code, options);
  }
}

/**
 * Thrown by a consume handler to put the message back on its queue at once (`basic.nack` with
 * requeue): the broker redelivers it (`msg.fields.redelivered` true) to this or another consumer,
 * with no delay and without counting an attempt — mind loops (a quorum queue's `delivery-limit`
 * ends them).
 *
 * @example
 * ```ts
 * broker.consume('jobs', async (msg) => {
 *   if (!tenantIsReady(msg.body.tenant)) throw new RequeueError('tenant is migrating');
 *   await run(msg.body);
 * });
 * ```
 */
export class RequeueError extends ConnkitError {
  constructor(message = 'The handler asked for the message to be requeued', options?: ConnkitErrorOptions) {
    super(message, 'REQUEUE', options);
  }
}
