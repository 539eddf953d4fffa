/**
 * The Broker: one resilient AMQP connection with confirmed publishing, consumers, RPC and
 * re-declared topology. See DESIGN §6.
 * @module
 */
import { EventEmitter } from 'node:events';
import type { ChannelModel } from 'amqplib';
import {
  checkDuration,
  checkWaitOptions,
  readWaitOptions,
  reportBackground,
  type SignalOptions,
  type WaitOptions,
} from '../../src/internal/index.js';
import { ChannelPool } from './channel-pool.js';
import { Connection } from './connection.js';
import { Consumer, type ConsumeOptions, type ConsumerStats, type MessageHandler } from './consumer.js';
import { BrokerClosedError } from './errors.js';
import { resolveBrokerOptions, type BrokerOptions, type ResolvedBrokerOptions } from './options.js';
import { Publisher, type PublishOptions } from './publisher.js';
import { RpcClient, type CallOptions } from './rpc.js';
import { applyTopology, checkTopology, TopologyRegistry, type Topology } from './topology.js';

/**
 * Snapshot returned by `broker.stats()`.
 *
 * @example
 * ```ts
 * const { connected, reconnects, publisher } = broker.stats();
 * console.log(connected, reconnects, publisher.pending);
 * ```
 */
export interface BrokerStats {
  connected: boolean;
  /** Redacted URL of the live connection. */
  url: string | undefined;
  reconnects: number;
  publisher: ReturnType<Publisher['stats']>;
  consumers: ConsumerStats[];
  rpcPending: number;
}

/**
 * A RabbitMQ client that reconnects, re-declares, re-subscribes and never drops a confirmed publish.
 *
 * @example
 * ```ts
 * import { Broker } from 'connkit/amqp';
 * const broker = new Broker({ url: 'amqp://guest:guest@localhost', topology: { queues: [{ name: 'jobs' }] } });
 * broker.on('error', (err) => console.error(err));
 * await broker.connect();
 * broker.consume<{ id: number }>('jobs', async (msg) => console.log(msg.body.id));
 * await broker.sendToQueue('jobs', { id: 1 });
 * await broker.close();
 * ```
 */
export class Broker extends EventEmitter {
  readonly #opts: ResolvedBrokerOptions;
  readonly #connection: Connection;
  readonly #registry = new TopologyRegistry();
  readonly #pool: ChannelPool;
  readonly #publisher: Publisher;
  readonly #rpc: RpcClient;
  readonly #consumers = new Set<Consumer>();
  #closed: Promise<void> | undefined = undefined;

  constructor(options: BrokerOptions) {
    super();
    this.#opts = resolveBrokerOptions(options);
    if (this.#opts.topology) {
      checkTopology(this.#opts.topology);
      this.#registry.add(this.#opts.topology);
    }
    this.#pool = new ChannelPool(this.#opts.channelMax);
    this.#publisher = new Publisher(
      {
        connected: () => this.#connection.ready,
        reopen: () => this.#reopenPublisher(),
        reportError: (err) => this.#reportError(err),
      },
      this.#opts,
    );
    this.#rpc = new RpcClient(
      { whenReady: (o) => this.#whenReady(o), reportError: (err) => this.#reportError(err) },
      this.#opts.publishTimeout,
    );
    this.#connection = new Connection(this.#opts, {
      setup: (model) => this.#setup(model),
      connected: (url) => {
        const model = this.#connection.model;
        if (model) for (const consumer of this.#consumers) void consumer.start(model);
        this.emit('connect', { url });
      },
      disconnected: (err) => {
        this.#publisher.detach();
        this.#pool.clear();
        this.emit('disconnect', err);
      },
      blocked: (reason) => this.emit('blocked', reason),
      unblocked: () => this.emit('unblocked'),
      error: (err) => this.#reportError(err),
      gaveUp: (err) => this.#publisher.failAll(err),
    });
  }

  /** Connects (retrying across `urls` within `connectTimeout`); rejects with `ConnectionError`. */
  async connect(opts?: SignalOptions): Promise<void> {
    if (this.#closed) throw new BrokerClosedError();
    await this.#connection.connect(opts);
  }

  /** Declares exchanges, queues and bindings now, and again after every reconnect. */
  declare(topology: Topology, opts?: WaitOptions): Promise<void> {
    // Bad arguments throw synchronously (DESIGN §2); an aborted signal rejects.
    checkTopology(topology);
    const refused = checkWaitOptions(opts);
    return refused ?? this.#declare(topology, opts);
  }

  async #declare(topology: Topology, opts: WaitOptions | undefined): Promise<void> {
    const { signal, timeout } = readWaitOptions(opts, this.#opts.publishTimeout);
    const model = await this.#whenReady({ signal, timeout });
    await this.#pool.use(model, (channel) => applyTopology(channel, topology), signal);
    this.#registry.add(topology);
  }

  /**
   * Publishes with a confirm: resolves on the broker's ack; rejects on nack (`NackError`), return
   * (`UnroutableError`), `timeout` (`TimeoutError`), abort or close (`BrokerClosedError`).
   */
  publish(exchange: string, routingKey: string, body: unknown, opts?: PublishOptions): Promise<void> {
    if (!this.#closed) this.#connection.start();
    return this.#publisher.publish(exchange, routingKey, body, opts);
  }

  /** Publishes to a queue through the default exchange. */
  sendToQueue(queue: string, body: unknown, opts?: PublishOptions): Promise<void> {
    return this.publish('', queue, body, opts);
  }

  /** Starts a consumer (subscribed now if connected, and after every reconnect). */
  consume<T = unknown>(queue: string, handler: MessageHandler<T>, opts?: ConsumeOptions): Consumer {
    return this.#addConsumer(new Consumer(this.#consumerHost(), queue, handler, opts));
  }

  /** Serves RPC requests on `queue`: the handler's value is the reply; a throw replies an error. */
  serve<T = unknown, R = unknown>(
    queue: string,
    handler: MessageHandler<T, R>,
    opts?: Omit<ConsumeOptions, 'retry' | 'deadLetter'>,
  ): Consumer {
    return this.#addConsumer(new Consumer(this.#consumerHost(), queue, handler, opts, true));
  }

  /** Calls an RPC server over direct reply-to; resolves with its decoded reply. */
  call<R = unknown>(queue: string, body: unknown, opts?: CallOptions): Promise<R> {
    if (!this.#closed) this.#connection.start();
    return this.#rpc.call<R>(queue, body, opts);
  }

  /** Counters and state. */
  stats(): BrokerStats {
    return {
      connected: this.#connection.ready,
      url: this.#connection.url,
      reconnects: this.#connection.reconnects,
      publisher: this.#publisher.stats(),
      consumers: [...this.#consumers].map((c) => c.stats()),
      rpcPending: this.#rpc.pending,
    };
  }

  /**
   * Stops consumers (waiting for their handlers), waits for outstanding confirms, then closes the
   * connection — all within `timeout` ms. Idempotent.
   */
  close(opts: { timeout?: number } = {}): Promise<void> {
    const timeout = checkDuration(opts.timeout, 'timeout', 10_000);
    this.#closed ??= this.#close(timeout);
    return this.#closed;
  }

  async #close(timeout: number): Promise<void> {
    const deadline = Date.now() + timeout;
    const left = (): number => (timeout === Infinity ? Infinity : Math.max(0, deadline - Date.now()));
    await Promise.all([...this.#consumers].map((c) => c.close({ timeout: left() })));
    await this.#publisher.close(left());
    this.#rpc.close();
    this.#pool.clear();
    await this.#connection.close();
  }

  /** Same as `close()`. */
  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }

  #addConsumer(consumer: Consumer): Consumer {
    if (this.#closed) {
      void consumer.close();
      throw new BrokerClosedError('Broker is closed: consume refused');
    }
    this.#consumers.add(consumer);
    const model = this.#connection.model;
    if (model) void consumer.start(model);
    else this.#connection.start();
    return consumer;
  }

  #consumerHost(): ConstructorParameters<typeof Consumer>[0] {
    return {
      currentModel: () => this.#connection.model,
      publish: (exchange, routingKey, body, opts) =>
        this.#publisher.publish(exchange, routingKey, body, opts),
      declare: (topology) => this.declare(topology),
      ensureQueue: (name) => this.#ensureQueue(name),
      reportError: (err) => this.#reportError(err),
      forget: (consumer) => this.#consumers.delete(consumer),
    };
  }

  async #whenReady(opts: WaitOptions): Promise<ChannelModel> {
    if (this.#closed) throw new BrokerClosedError();
    return this.#connection.whenReady(opts);
  }

  async #setup(model: ChannelModel): Promise<void> {
    this.#pool.clear();
    if (!this.#registry.empty) {
      const topology = this.#registry.snapshot();
      await this.#pool.use(model, (channel) => applyTopology(channel, topology));
    }
    await this.#publisher.attach(model);
  }

  async #ensureQueue(name: string): Promise<void> {
    const model = await this.#whenReady({ timeout: this.#opts.publishTimeout });
    try {
      await this.#pool.use(model, (channel) => channel.checkQueue(name));
    } catch {
      await this.#pool.use(model, (channel) => channel.assertQueue(name, { durable: true }));
    }
  }

  #reopenPublisher(): void {
    setImmediate(() => {
      const model = this.#connection.model;
      if (!model || this.#closed || this.#publisher.attached) return;
      this.#publisher.attach(model).catch((err: unknown) => {
        this.#reportError(err instanceof Error ? err : new Error(String(err)));
        setTimeout(() => this.#reopenPublisher(), 1000).unref();
      });
    });
  }

  #reportError(err: Error): void {
    // No 'error' event without a listener: an unheard 'error' would crash the process.
    reportBackground({ emitter: this, logger: this.#opts.logger }, `connkit/amqp: ${err.message}`, err);
  }
}
