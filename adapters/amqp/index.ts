/**
 * connkit/amqp: a RabbitMQ client over amqplib that reconnects, re-declares, re-subscribes and
 * settles every publish.
 *
 * @example
 * ```ts
 * import { Broker } from 'connkit/amqp';
 * await using broker = new Broker({ url: process.env.AMQP_URL });
 * await broker.sendToQueue('jobs', { id: 1 });
 * ```
 * @module
 */
export { Broker, type BrokerEvents, type BrokerStats } from './broker.js';
export { Consumer, type ConsumeOptions, type ConsumerStats, type MessageHandler } from './consumer.js';
export type { Message } from './message.js';
export type { PublishOptions, PublisherStats } from './publisher.js';
export type { CallOptions } from './rpc.js';
export type { Topology, ExchangeSpec, QueueSpec, QueueType, BindingSpec } from './topology.js';
export type { StreamOffset } from './stream-offset.js';
export type { BrokerOptions, BrokerLogger, NackRetryOptions, ReconnectOptions } from './options.js';
export { encodeBody, decodeBody } from './codec.js';
export {
  UnroutableError,
  NackError,
  BrokerClosedError,
  BufferFullError,
  RemoteError,
  NonRetryableError,
  RequeueError,
  ConnectionError,
  TimeoutError,
} from './errors.js';
