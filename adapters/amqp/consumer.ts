/**
 * A queue consumer: bounded concurrency, ack on resolve, the {@link FailurePolicy} on throw (retry,
 * dead-letter), restored after reconnects and broker-side cancels (with the kit's {@link Backoff}).
 * A stream consumer (`offset` given) resumes where its handler got to ({@link StreamPosition}).
 * @module
 */
import type { Channel, ChannelModel, ConsumeMessage } from 'amqplib';
import {
  Backoff,
  checkDuration,
  logDebug,
  logInfo,
  type Logger,
  startTimer,
} from '../../src/internal/index.js';
import {
  resolveConsumeOptions,
  type ConsumeOptions,
  type ConsumerStats,
  type MessageHandler,
} from './consume-options.js';
import { DeliveryRunner } from './delivery-runner.js';
import type { BrokerMetrics } from './broker-metrics.js';
import { BrokerClosedError } from './errors.js';
import { FailurePolicy, type FailureHost } from './failure-policy.js';
import { ProcessTelemetry } from './process-telemetry.js';
import { offsetOf, StreamPosition, STREAM_OFFSET_HEADER } from './stream-offset.js';
import type { QueueType, Topology } from './topology.js';

export type { ConsumeOptions, ConsumerStats, MessageHandler } from './consume-options.js';

/**
 * What a consumer needs from its broker (implemented by `Broker`).
 *
 * @example
 * ```ts
 * const consumer = new Consumer(host, 'jobs', async () => undefined);
 * ```
 */
export interface ConsumerHost extends FailureHost {
  currentModel(): ChannelModel | undefined;
  declare(topology: Topology): Promise<void>;
  ensureQueue(name: string, type?: QueueType): Promise<void>;
  /** The type queue `name` was declared with through the broker, if it was. */
  queueType(name: string): QueueType | undefined;
  forget(consumer: Consumer): void;
  readonly logger?: Logger | undefined;
  /** The Broker's instruments (a MeterProvider is registered). */
  readonly metrics?: BrokerMetrics | undefined;
}

const noop = (): void => undefined;

/** Re-subscribe backoff: a broker that keeps refusing is asked less and less often. */
const RESUBSCRIBE = { initialDelay: 100, maxDelay: 30_000, jitter: 'equal' } as const;

/**
 * A running consumer. Created by `broker.consume()`.
 *
 * @example
 * ```ts
 * const consumer = broker.consume('jobs', async (msg) => work(msg.body), { concurrency: 4 });
 * await consumer.ready;
 * await consumer.close({ timeout: 5000 });
 * ```
 */
export class Consumer {
  /** Resolves once the consumer is subscribed the first time. */
  readonly ready: Promise<void>;
  readonly #host: ConsumerHost;
  readonly #queue: string;
  readonly #prefetch: number;
  readonly #policy: FailurePolicy;
  readonly #runner: DeliveryRunner;
  /** Set for a stream consumer. */
  readonly #position: StreamPosition | undefined;
  readonly #abort = new AbortController();
  readonly #backoff = new Backoff(RESUBSCRIBE);
  #readyResolve!: () => void;
  #readyReject!: (err: unknown) => void;
  #subscribedOnce = false;
  #channel: Channel | undefined = undefined;
  #tag: string | undefined = undefined;
  #model: ChannelModel | undefined = undefined;
  #starting = false;
  #closing = false;
  #closed: Promise<void> | undefined = undefined;
  #cancelRetry: (() => void) | undefined = undefined;
  #restarts = 0;

  constructor(
    host: ConsumerHost,
    queue: string,
    handler: MessageHandler<never>,
    opts: ConsumeOptions = {},
    reply = false,
  ) {
    const settings = resolveConsumeOptions(queue, handler, opts);
    if (reply && settings.offset !== undefined) {
      throw new TypeError('serve() does not read streams: offset is not one of its options');
    }
    this.#host = host;
    this.#queue = queue;
    this.#prefetch = settings.prefetch;
    this.#policy = new FailurePolicy(queue, settings, host);
    const position = settings.offset === undefined ? undefined : new StreamPosition(settings.offset);
    this.#position = position;
    const offset = (raw: ConsumeMessage): number | undefined => offsetOf(raw.properties.headers);
    this.#runner = new DeliveryRunner(
      {
        channel: () => this.#channel,
        closing: () => this.#closing,
        reportError: (message, err) => host.reportError(message, err, { queue }),
        ...(position && {
          started: (raw: ConsumeMessage) => position.started(offset(raw) ?? -1),
          finished: (raw: ConsumeMessage) => position.finished(offset(raw) ?? -1),
        }),
      },
      handler as MessageHandler<unknown>,
      this.#policy,
      {
        concurrency: settings.concurrency,
        reply,
        signal: this.#abort.signal,
        queue,
        stream: position !== undefined,
        telemetry: new ProcessTelemetry(queue, host.metrics),
      },
    );
    this.ready = new Promise<void>((resolve, reject) => {
      this.#readyResolve = resolve;
      this.#readyReject = reject;
    });
    this.ready.catch(noop); // nobody has to await `ready`
  }

  /** The queue consumed. */
  get queue(): string {
    return this.#queue;
  }

  /** Counters. */
  stats(): ConsumerStats {
    return {
      queue: this.#queue,
      consuming: this.#tag !== undefined,
      active: this.#runner.active,
      buffered: this.#runner.buffered,
      ...this.#runner.stats,
      restarts: this.#restarts,
    };
  }

  /** (Re)subscribes on `model`: a fresh channel, qos, consume. Failures retry with backoff. */
  async start(model: ChannelModel): Promise<void> {
    if (this.#closing || this.#starting || (this.#model === model && this.#channel)) return;
    // This subscription supersedes a re-subscribe still waiting for its backoff: left pending, it
    // would open a second channel and a second consumer beside this one (a stream read twice).
    this.#cancelRetry?.();
    this.#cancelRetry = undefined;
    this.#starting = true;
    this.#model = model;
    let channel: Channel | undefined;
    try {
      // Retry and dead-letter queues follow the queue's type: a replicated queue's are replicated.
      const type = this.#position ? 'stream' : this.#host.queueType(this.#queue);
      if (this.#policy.retries) await this.#host.declare(this.#policy.topology(type));
      const deadLetter = this.#policy.deadLetter;
      const replicated = type === 'quorum' || type === 'stream';
      if (deadLetter !== undefined)
        await this.#host.ensureQueue(deadLetter, replicated ? 'quorum' : undefined);
      channel = await model.createChannel();
      const ch = channel;
      ch.on('error', (err: Error) =>
        this.#host.reportError('connkit/amqp: consumer channel error', err, { queue: this.#queue }),
      );
      ch.on('close', () => this.#channelClosed(ch));
      if (this.#prefetch > 0) await ch.prefetch(this.#prefetch);
      this.#channel = ch;
      await this.#subscribe(ch);
    } catch (err) {
      if (channel && this.#channel === channel) this.#channel = undefined;
      channel?.close().catch(noop);
      this.#host.reportError('connkit/amqp: consumer failed to subscribe', err, { queue: this.#queue });
      this.#schedule();
    } finally {
      this.#starting = false;
    }
  }

  async #subscribe(channel: Channel): Promise<void> {
    if (this.#closing) return;
    const { consumerTag } = await channel.consume(this.#queue, (raw) => this.#deliver(channel, raw), {
      noAck: false,
      ...(this.#position && { arguments: { [STREAM_OFFSET_HEADER]: this.#position.resumeArgument() } }),
    });
    if (this.#channel !== channel) return;
    this.#tag = consumerTag;
    if (this.#closing) {
      await channel.cancel(consumerTag).catch(noop);
      return;
    }
    this.#backoff.reset();
    if (this.#subscribedOnce) {
      logInfo(this.#host.logger, 'connkit/amqp: consumer re-subscribed', {
        queue: this.#queue,
        restarts: this.#restarts,
      });
    }
    this.#subscribedOnce = true;
    this.#readyResolve();
  }

  /** Try again later, with backoff, if the connection is still up. */
  #schedule(): void {
    if (this.#closing || this.#cancelRetry !== undefined) return;
    const delay = this.#backoff.next();
    logDebug(this.#host.logger, 'connkit/amqp: consumer re-subscribes later', {
      queue: this.#queue,
      delayMs: Math.round(delay),
      failures: this.#backoff.failures,
    });
    this.#cancelRetry = startTimer(delay, () => {
      this.#cancelRetry = undefined;
      const model = this.#host.currentModel();
      if (!model) return; // the broker restarts every consumer on reconnect
      // A subscription under way (it schedules again if it fails) or in place needs no other.
      if (this.#starting) return;
      const channel = this.#channel;
      if (channel && this.#model === model && this.#tag !== undefined) return;
      this.#restarts++;
      if (channel && this.#tag === undefined && this.#model === model) {
        this.#subscribe(channel).catch(() => this.#schedule());
      } else {
        if (channel) this.#abandon(channel);
        void this.start(model);
      }
    });
  }

  /** Lets go of a channel this consumer no longer uses; closing it returns its unacked deliveries. */
  #abandon(channel: Channel): void {
    if (this.#channel === channel) {
      this.#channel = undefined;
      this.#tag = undefined;
    }
    this.#runner.dropChannel(channel);
    channel.close().catch(noop);
  }

  #channelClosed(channel: Channel): void {
    if (this.#channel !== channel) return;
    this.#channel = undefined;
    this.#tag = undefined;
    // Buffered deliveries of a dead channel are redelivered by the broker: drop them.
    this.#runner.dropChannel(channel);
    if (!this.#closing) this.#schedule();
  }

  #deliver(channel: Channel, raw: ConsumeMessage | null): void {
    if (raw === null) {
      // Broker-side cancel (queue deleted, leader moved): resubscribe later on the same channel so
      // that in-flight acks stay valid.
      if (this.#channel === channel) {
        this.#tag = undefined;
        this.#schedule();
      }
      return;
    }
    // A delivery on a channel this consumer let go of: that channel's close returns it to the queue.
    if (channel !== this.#channel) return;
    if (this.#closing) this.#runner.settle(channel, raw, 'requeue');
    else if (this.#position && !this.#acceptStream(raw)) this.#runner.settle(channel, raw, 'ack');
    else this.#runner.deliver(channel, raw);
  }

  /** False for a stream message this consumer handled (or is handling) already. */
  #acceptStream(raw: ConsumeMessage): boolean {
    const offset = offsetOf(raw.properties.headers);
    return offset === undefined || (this.#position as StreamPosition).accept(offset);
  }

  /**
   * Stops taking messages, waits up to `timeout` ms (any duration) for running handlers (then
   * aborts their signal), returns buffered deliveries to the queue and closes the channel. Idempotent.
   */
  close(opts: { timeout?: number } = {}): Promise<void> {
    const timeout = checkDuration(opts.timeout, 'timeout', 10_000);
    this.#closed ??= this.#close(timeout);
    return this.#closed;
  }

  async #close(timeout: number): Promise<void> {
    this.#closing = true;
    this.#cancelRetry?.();
    this.#cancelRetry = undefined;
    this.#readyReject(
      new BrokerClosedError(`Consumer of ${JSON.stringify(this.#queue)} closed before it was ready`),
    );
    const channel = this.#channel;
    if (channel && this.#tag !== undefined) await channel.cancel(this.#tag).catch(noop);
    this.#runner.requeueBuffered();
    if (!(await this.#runner.idleWithin(timeout))) {
      this.#abort.abort(new BrokerClosedError(`Consumer of ${JSON.stringify(this.#queue)} was closed`));
    }
    this.#channel = undefined;
    this.#tag = undefined;
    // Closing the channel returns every unacked delivery to the queue.
    if (channel) await channel.close().catch(noop);
    this.#host.forget(this);
  }

  /** Same as `close()`. */
  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }
}
