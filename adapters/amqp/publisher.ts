/**
 * Confirmed publishing over one shared confirm channel per connection. Every publish settles:
 * ack → resolve; nack → published again on a fresh channel a bounded number of times
 * ({@link NackRetry}), then `NackError`; mandatory return → `UnroutableError`; `timeout`; abort;
 * close → `BrokerClosedError`. Messages unconfirmed when their channel died are written again
 * (same `messageId`) on the next channel: at-least-once. The publishes wait and settle in a
 * {@link PublishQueue}; the {@link ConfirmWriter} writes them to the channel.
 * @module
 */
import type { ChannelModel, Options } from 'amqplib';
import {
  activeContext,
  amqpPublishChannel,
  type AmqpPublishContext,
  type Logger,
  now,
  TimeoutError,
  traceCall,
  tracingEnabled,
  type TraceContext,
} from '../../src/internal/index.js';
import type { BrokerMetrics } from './broker-metrics.js';
import { ConfirmWriter } from './confirm-writer.js';
import { BrokerClosedError } from './errors.js';
import { NackRetry } from './nack-retry.js';
import type { PublishEntry } from './publish-entry.js';
import { readPublish, type PublishOptions } from './publish-options.js';
import { PublishQueue } from './publish-queue.js';
import { traceHeaders } from './trace-headers.js';

export type { PublishOptions } from './publish-options.js';

/**
 * What the publisher needs from the broker (implemented by `Broker`).
 *
 * @example
 * ```ts
 * const host: PublisherHost = { connected: () => true, demand() {}, reopen(delay) {} };
 * ```
 */
export interface PublisherHost {
  connected(): boolean;
  /** A publish was accepted: the connection should be up, or coming. */
  demand(): void;
  /** The connection is up but this publisher's channel failed or was retired: open another one after `delay` ms. */
  reopen(delay: number): void;
  readonly logger?: Logger | undefined;
  /** The Broker's instruments (a MeterProvider is registered). */
  readonly metrics?: BrokerMetrics | undefined;
}

/**
 * Counters of the publisher, in `broker.stats().publisher`.
 *
 * @example
 * ```ts
 * const { pending, republished, nackRetried } = broker.stats().publisher;
 * ```
 */
export interface PublisherStats {
  /** Publishes not settled yet. */
  pending: number;
  /** Of those, waiting to be written (disconnected, past the window, or again after a loss). */
  queued: number;
  /** Writes to a confirm channel, re-publishes included. */
  published: number;
  /** Messages written again because their channel died before their confirm. */
  republished: number;
  /** Messages written again on a fresh channel after a nack. */
  nackRetried: number;
  /** Broker acks. */
  confirmed: number;
}

/**
 * The publishing half of the broker.
 *
 * @example
 * ```ts
 * const publisher = new Publisher(host, { maxPending: 10_000, publishTimeout: 30_000, nackRetry: { attempts: 3, delay: 250 } });
 * await publisher.attach(model);
 * await publisher.publish('', 'jobs', { id: 1 });
 * ```
 */
export class Publisher {
  readonly #host: PublisherHost;
  readonly #timeout: number;
  readonly #queue: PublishQueue;
  readonly #writer: ConfirmWriter;
  #closed = false;

  constructor(
    host: PublisherHost,
    settings: {
      maxPending: number;
      publishTimeout: number;
      /** @default { attempts: 0 } (the first nack is final) */
      nackRetry?: { attempts: number; delay: number };
    },
  ) {
    this.#host = host;
    this.#timeout = settings.publishTimeout;
    this.#queue = new PublishQueue({ maxPending: settings.maxPending, connected: () => host.connected() });
    this.#writer = new ConfirmWriter(
      {
        reopen: (delay) => host.reopen(delay),
        closedAndIdle: () => this.#closed && this.#queue.count === 0,
        logger: host.logger,
      },
      this.#queue,
      new NackRetry(settings.nackRetry ?? { attempts: 0, delay: 0 }),
    );
  }

  /** Counters for `broker.stats()`. */
  stats(): PublisherStats {
    return { pending: this.#queue.count, queued: this.#queue.waiting, ...this.#writer.counts };
  }

  /** True while a confirm channel is open. */
  get attached(): boolean {
    return this.#writer.attached;
  }

  /** Opens the confirm channel on a fresh connection and writes everything that waited. */
  attach(model: ChannelModel): Promise<void> {
    return this.#writer.attach(model);
  }

  /**
   * Validates, encodes and publishes; resolves on the broker's confirm. Bad arguments throw; a
   * closed publisher, an aborted signal, `timeout` 0 (a confirm is never there at once) and a full
   * buffer reject before anything is queued or sent.
   */
  publish(exchange: string, routingKey: string, body: unknown, opts: PublishOptions = {}): Promise<void> {
    const { content, properties, signal, timeout } = readPublish(
      exchange,
      routingKey,
      body,
      opts,
      this.#timeout,
    );
    return this.#send(exchange, routingKey, content, properties, signal, timeout, true);
  }

  /**
   * Publishes a message connkit relays as it is (a retry or a dead-letter): `properties` go out
   * unchanged — in particular a message without `messageId` stays without one, so the relayed copy
   * and a redelivery of the original stay recognisable as the same message.
   */
  republish(
    exchange: string,
    routingKey: string,
    content: Buffer,
    properties: Options.Publish,
  ): Promise<void> {
    // No trace headers of ours: a relayed message keeps the context it came with.
    return this.#send(exchange, routingKey, content, properties, undefined, this.#timeout, false);
  }

  #send(
    exchange: string,
    routingKey: string,
    content: Buffer,
    properties: Options.Publish,
    signal: AbortSignal | undefined,
    timeout: number,
    inject: boolean,
  ): Promise<void> {
    if (this.#closed) return Promise.reject(new BrokerClosedError('Broker is closed: publish refused'));
    if (signal?.aborted) return Promise.reject(signal.reason);
    if (timeout === 0) {
      return Promise.reject(
        new TimeoutError(
          `Publish to exchange ${JSON.stringify(exchange)} with routing key ${JSON.stringify(routingKey)} timed out: ` +
            `a confirmed publish always waits for the broker, so timeout 0 can never be met`,
        ),
      );
    }
    // The plain path: no SDK, no MeterProvider, no subscriber — nothing else happens.
    const metrics = this.#host.metrics;
    const traced = tracingEnabled();
    if (!traced && metrics === undefined && !amqpPublishChannel.hasSubscribers) {
      return this.#enqueue(exchange, routingKey, content, properties, signal, timeout, undefined);
    }
    // The caller's context, captured now: the message may be written much later, from a callback.
    const context = traced ? activeContext() : undefined;
    if (context !== undefined && inject)
      properties.headers = traceHeaders(properties.headers as Record<string, unknown> | undefined, context);
    const started = metrics === undefined ? 0 : now();
    const send = (): Promise<void> =>
      this.#enqueue(exchange, routingKey, content, properties, signal, timeout, context);
    const sent = amqpPublishChannel.hasSubscribers
      ? traceCall(amqpPublishChannel, publishContext(exchange, routingKey, content, properties), send)
      : send();
    if (metrics !== undefined) {
      void sent.then(
        () => metrics.published(exchange, (now() - started) / 1000, undefined),
        (err: unknown) => metrics.published(exchange, (now() - started) / 1000, err),
      );
    }
    return sent;
  }

  #enqueue(
    exchange: string,
    routingKey: string,
    content: Buffer,
    properties: Options.Publish,
    signal: AbortSignal | undefined,
    timeout: number,
    context: TraceContext | undefined,
  ): Promise<void> {
    let entry: PublishEntry;
    try {
      entry = this.#queue.add(this.#writer, exchange, routingKey, content, properties, signal, timeout);
    } catch (err) {
      return Promise.reject(err); // BufferFullError
    }
    entry.context = context;
    this.#writer.submit(entry);
    this.#host.demand();
    return entry.promise;
  }

  /** Stops taking publishes, waits up to `timeout` (any duration) for the outstanding ones, fails the rest. */
  async close(timeout: number): Promise<void> {
    this.#closed = true;
    await this.#queue.drained(timeout);
    this.failAll(new BrokerClosedError('Broker closed before the publish was confirmed'));
    this.#writer.release();
  }

  /** Rejects every unsettled publish with `error` (the broker closed, or could not connect at all). */
  failAll(error: Error): void {
    this.#queue.failAll(error);
  }

  /** The connection dropped: nothing can be written until the next `attach`. */
  detach(): void {
    this.#writer.detach();
  }
}

/** The `connkit:amqp:publish` context of a publish: names and sizes, never the body. */
function publishContext(
  exchange: string,
  routingKey: string,
  content: Buffer,
  properties: Options.Publish,
): AmqpPublishContext {
  return {
    exchange,
    routingKey,
    messageId: typeof properties.messageId === 'string' ? properties.messageId : '',
    bodySize: content.length,
    persistent: properties.deliveryMode === 2,
    mandatory: properties.mandatory === true,
  };
}
