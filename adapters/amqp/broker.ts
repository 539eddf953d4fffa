/**
 * The Broker: one resilient AMQP connection with confirmed publishing, consumers, RPC and
 * re-declared topology. See DESIGN §6.
 * @module
 */
import { EventEmitter } from 'node:events';
import type { ChannelModel } from 'amqplib';
import {
  checkDuration,
  checkSignal,
  checkWaitOptions,
  Deadline,
  reportBackground,
  Scope,
  type SignalOptions,
  startTimer,
  TimeoutError,
  type WaitOptions,
} from '../../src/internal/index.js';
import type { BrokerEvents } from './broker-events.js';
import { BrokerMetrics } from './broker-metrics.js';
import { ChannelPool } from './channel-pool.js';
import { Connection } from './connection.js';
import {
  Consumer,
  type ConsumeOptions,
  type ConsumerHost,
  type ConsumerStats,
  type MessageHandler,
} from './consumer.js';
import { Declarations } from './declarations.js';
import { BrokerClosedError } from './errors.js';
import { resolveBrokerOptions, type BrokerOptions, type ResolvedBrokerOptions } from './options.js';
import { Publisher, type PublisherStats, type PublishOptions } from './publisher.js';
import { RpcClient, type CallOptions } from './rpc.js';
import { checkTopology, type Topology } from './topology.js';

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
  /** True while (re)connecting; false when connected, and when idle (nothing asked for a connection yet). */
  connecting: boolean;
  /** Redacted URL of the live connection. */
  url: string | undefined;
  reconnects: number;
  publisher: PublisherStats;
  consumers: ConsumerStats[];
  rpcPending: number;
}

export type { BrokerEvents } from './broker-events.js';

/**
 * A RabbitMQ client that reconnects, re-declares, re-subscribes and never drops a confirmed publish.
 * Background failures (a lost connection, a consumer that could not subscribe) go to its `'error'`
 * event when it has a listener, else to `logger.warn`; reconnects are logged at `info`. Its events
 * are typed ({@link BrokerEvents}): `connect`, `disconnect`, `blocked`, `unblocked`, `error`.
 *
 * With an OpenTelemetry SDK registered, every publish carries the caller's trace context
 * (`traceparent`/`tracestate`), every handler runs in a `<queue> process` span of its own, and with
 * a MeterProvider registered before the Broker is made it reports the messaging metrics (README,
 * "Observability").
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
export class Broker extends EventEmitter<BrokerEvents> {
  readonly #opts: ResolvedBrokerOptions;
  /** OpenTelemetry instruments; `undefined` without a registered MeterProvider (nothing measured). */
  readonly #metrics: BrokerMetrics | undefined;
  readonly #connection: Connection;
  readonly #pool: ChannelPool;
  readonly #declarations: Declarations;
  readonly #publisher: Publisher;
  readonly #rpc: RpcClient;
  readonly #consumers = new Set<Consumer>();
  #closed: Promise<void> | undefined = undefined;

  constructor(options: BrokerOptions) {
    super();
    this.#opts = resolveBrokerOptions(options);
    if (this.#opts.topology) checkTopology(this.#opts.topology);
    const logger = this.#opts.logger;
    this.#metrics = BrokerMetrics.open(new WeakRef(this));
    const metrics = this.#metrics;
    this.#pool = new ChannelPool(this.#opts.channelMax);
    this.#declarations = new Declarations(this.#pool, this.#opts.topology);
    this.#publisher = new Publisher(
      {
        connected: () => this.#connection.ready,
        demand: () => {
          if (!this.#closed) this.#connection.start();
        },
        reopen: (delay) => this.#reopenPublisher(delay),
        logger,
        metrics,
      },
      this.#opts,
    );
    this.#rpc = new RpcClient(
      {
        model: () => this.#connection.model,
        whenReady: (o) => this.#whenReady(o),
        reportError: (message, err) => this.#reportError(message, err),
        logger,
      },
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
      error: (message, err) => this.#reportError(message, err),
      gaveUp: (err) => this.#publisher.failAll(err),
    });
  }

  /** Connects (retrying across `urls` within `connectTimeout`); rejects with `ConnectionError`. */
  connect(opts?: SignalOptions): Promise<void> {
    const signal = checkSignal(opts?.signal);
    if (this.#closed) return Promise.reject(new BrokerClosedError());
    if (signal?.aborted) return Promise.reject(signal.reason);
    return this.#connection.connect({ signal });
  }

  /**
   * Declares exchanges, queues and bindings now, and again after every reconnect. `signal` and
   * `timeout` (default `publishTimeout`) bound the whole call: the wait for a connection and the
   * declaration itself (a declaration the broker is still working on when the call gives up may
   * still take effect there, but is not re-declared after a reconnect).
   */
  declare(topology: Topology, opts?: WaitOptions): Promise<void> {
    checkTopology(topology);
    const refused = checkWaitOptions(opts);
    if (refused) return refused;
    if (this.#closed) return Promise.reject(new BrokerClosedError());
    const timeout = opts?.timeout ?? this.#opts.publishTimeout;
    if (timeout === 0) {
      return Promise.reject(
        new TimeoutError(
          'Declaring topology timed out: a declaration always waits for the broker, so timeout 0 can never be met',
        ),
      );
    }
    return this.#declare(topology, opts?.signal, timeout);
  }

  async #declare(topology: Topology, signal: AbortSignal | undefined, timeout: number): Promise<void> {
    const scope = new Scope({
      signal,
      deadline: Deadline.after(timeout),
      timeoutMessage: (ms) =>
        `Declaring topology timed out after ${ms} ms (${this.#connection.ready ? 'connected' : 'not connected'})`,
    });
    try {
      const model = this.#connection.model ?? (await scope.race(this.#whenReady({ signal: scope.signal })));
      await scope.race(this.#declarations.declare(model, topology, scope.signal));
    } finally {
      scope.dispose();
    }
  }

  /**
   * Publishes with a confirm: resolves on the broker's ack; rejects on nack (`NackError`), return
   * (`UnroutableError`), `timeout` (`TimeoutError`; 0 always: a confirm is never there at once),
   * abort or close (`BrokerClosedError`). An already aborted signal opens no connection.
   */
  publish(exchange: string, routingKey: string, body: unknown, opts?: PublishOptions): Promise<void> {
    return this.#publisher.publish(exchange, routingKey, body, opts);
  }

  /** Publishes to a queue through the default exchange. */
  sendToQueue(queue: string, body: unknown, opts?: PublishOptions): Promise<void> {
    return this.#publisher.publish('', queue, body, opts);
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

  /**
   * Calls an RPC server over direct reply-to; resolves with its decoded reply. `timeout` 0 always
   * rejects (a reply is never there at once); an already aborted signal opens no connection.
   */
  call<R = unknown>(queue: string, body: unknown, opts?: CallOptions): Promise<R> {
    return this.#rpc.call<R>(queue, body, opts);
  }

  /** Counters and state. */
  stats(): BrokerStats {
    return {
      connected: this.#connection.ready,
      connecting: this.#connection.connecting,
      url: this.#connection.url,
      reconnects: this.#connection.reconnects,
      publisher: this.#publisher.stats(),
      consumers: [...this.#consumers].map((c) => c.stats()),
      rpcPending: this.#rpc.pending,
    };
  }

  /**
   * Stops consumers (waiting for their handlers), waits for outstanding confirms, then closes the
   * connection — all within `timeout` ms (any duration; `Infinity` waits as long as it takes). Idempotent.
   */
  close(opts: { timeout?: number } = {}): Promise<void> {
    const timeout = checkDuration(opts.timeout, 'timeout', 10_000);
    this.#closed ??= this.#close(Deadline.after(timeout));
    return this.#closed;
  }

  async #close(deadline: Deadline): Promise<void> {
    await Promise.all([...this.#consumers].map((c) => c.close({ timeout: deadline.remaining() })));
    await this.#publisher.close(deadline.remaining());
    this.#rpc.close();
    this.#pool.clear();
    await this.#connection.close(deadline.remaining());
    this.#metrics?.close();
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

  #consumerHost(): ConsumerHost {
    return {
      currentModel: () => this.#connection.model,
      republish: (exchange, routingKey, content, properties) =>
        this.#publisher.republish(exchange, routingKey, content, properties),
      declare: (topology) => this.declare(topology),
      ensureQueue: async (name, type) =>
        this.#declarations.ensureQueue(
          await this.#whenReady({ timeout: this.#opts.publishTimeout }),
          name,
          type,
        ),
      queueType: (name) => this.#declarations.queueType(name),
      reportError: (message, err, details) => this.#reportError(message, err, details),
      forget: (consumer) => this.#consumers.delete(consumer),
      logger: this.#opts.logger,
      metrics: this.#metrics,
    };
  }

  async #whenReady(opts: WaitOptions): Promise<ChannelModel> {
    if (this.#closed) throw new BrokerClosedError();
    return this.#connection.whenReady(opts);
  }

  async #setup(model: ChannelModel): Promise<void> {
    this.#pool.clear();
    await this.#declarations.redeclare(model);
    await this.#publisher.attach(model);
  }

  /** A fresh confirm channel after `delay` ms (also while closing: pending publishes still need one). */
  #reopenPublisher(delay: number): void {
    const reopen = (): void => {
      const model = this.#connection.model;
      if (!model || this.#publisher.attached) return;
      if (this.#closed && this.#publisher.stats().pending === 0) return;
      this.#publisher.attach(model).catch((err: unknown) => {
        this.#reportError('connkit/amqp: could not reopen the confirm channel', err);
        startTimer(1000, () => this.#reopenPublisher(0), true);
      });
    };
    if (delay > 0) startTimer(delay, reopen);
    else setImmediate(reopen);
  }

  #reportError(message: string, err: unknown, details?: Record<string, unknown>): void {
    // No 'error' event without a listener: an unheard 'error' would crash the process.
    reportBackground({ emitter: this, logger: this.#opts.logger }, message, err, details);
  }
}
