/**
 * A queue consumer: bounded concurrency, ack on resolve, retry through delay queues on throw,
 * dead-lettering when attempts are spent, restored after reconnects and broker-side cancels.
 * @module
 */
import { randomUUID } from 'node:crypto';
import type { Channel, ChannelModel, ConsumeMessage, Options } from 'amqplib';
import { checkDuration, checkInteger, describeValue } from '../../src/internal/index.js';
import { encodeBody } from './codec.js';
import { BrokerClosedError } from './errors.js';
import { ATTEMPT_HEADER, toMessage, type Message } from './message.js';
import type { PublishOptions } from './publisher.js';
import type { Topology } from './topology.js';

/**
 * Options of `broker.consume()`.
 *
 * @example
 * ```ts
 * broker.consume('jobs', handle, { concurrency: 4, prefetch: 16, retry: { attempts: 5, delay: [1000, 5000] }, deadLetter: 'jobs.dead' });
 * ```
 */
export interface ConsumeOptions {
  /** Handlers running at once, at most. @default 1 */
  concurrency?: number;
  /** Unacked deliveries the broker sends ahead (basic.qos). @default `concurrency` */
  prefetch?: number;
  /**
   * Retries through delay queues. `attempts` counts every try, the first included; `delay` is in
   * milliseconds, per attempt when an array (the last value repeats).
   */
  retry?: { attempts: number; delay: number | number[] };
  /** Queue that takes messages whose attempts are spent (the error in headers). @default the queue's own DLX (reject) */
  deadLetter?: string;
}

/**
 * A message handler: resolve → ack, throw → retry / dead-letter. `signal` aborts on a forced close.
 *
 * @example
 * ```ts
 * const handler: MessageHandler<{ id: number }> = async (msg, signal) => save(msg.body.id, { signal });
 * ```
 */
export type MessageHandler<T = unknown, R = unknown> = (msg: Message<T>, signal: AbortSignal) => Promise<R>;

/**
 * Counters of a consumer.
 *
 * @example
 * ```ts
 * const { active, acked, retried, deadLettered } = consumer.stats();
 * ```
 */
export interface ConsumerStats {
  queue: string;
  consuming: boolean;
  active: number;
  buffered: number;
  acked: number;
  retried: number;
  deadLettered: number;
  rejected: number;
  restarts: number;
}

/**
 * What a consumer needs from its broker (implemented by `Broker`).
 *
 * @example
 * ```ts
 * const consumer = new Consumer(host, 'jobs', async () => undefined);
 * ```
 */
export interface ConsumerHost {
  currentModel(): ChannelModel | undefined;
  publish(exchange: string, routingKey: string, body: unknown, opts: PublishOptions): Promise<void>;
  declare(topology: Topology): Promise<void>;
  ensureQueue(name: string): Promise<void>;
  reportError(err: Error): void;
  forget(consumer: Consumer): void;
}

/**
 * Header carrying the failure's message when connkit retries or dead-letters a message (with
 * `x-connkit-error-name` and `x-connkit-queue` on dead-lettering).
 *
 * @example
 * ```ts
 * const why = deadMsg.properties.headers?.[ERROR_HEADER];
 * ```
 */
export const ERROR_HEADER = 'x-connkit-error';

interface Delivery {
  raw: ConsumeMessage;
  channel: Channel;
}

const noop = (): void => undefined;

function errorText(err: unknown): { name: string; message: string } {
  if (err instanceof Error) return { name: err.name, message: err.message };
  return { name: typeof err, message: `Non-error thrown: ${describeValue(err)}` };
}

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
  readonly #handler: MessageHandler<unknown>;
  readonly #concurrency: number;
  readonly #prefetch: number;
  readonly #attempts: number;
  readonly #delays: number[];
  readonly #deadLetter: string | undefined;
  readonly #reply: boolean;
  readonly #abort = new AbortController();
  #readyResolve!: () => void;
  #readyReject!: (err: unknown) => void;
  #channel: Channel | undefined = undefined;
  #tag: string | undefined = undefined;
  #model: ChannelModel | undefined = undefined;
  #starting = false;
  #closing = false;
  #closed: Promise<void> | undefined = undefined;
  #active = 0;
  #buffer: Delivery[] = [];
  #idle: (() => void)[] = [];
  #retryTimer: NodeJS.Timeout | undefined = undefined;
  #failures = 0;
  #stats = { acked: 0, retried: 0, deadLettered: 0, rejected: 0, restarts: 0 };

  constructor(
    host: ConsumerHost,
    queue: string,
    handler: MessageHandler<never>,
    opts: ConsumeOptions = {},
    reply = false,
  ) {
    if (typeof queue !== 'string' || queue === '')
      throw new TypeError(`queue must be a non-empty string, got ${describeValue(queue)}`);
    if (typeof handler !== 'function')
      throw new TypeError(`handler must be a function, got ${describeValue(handler)}`);
    this.#host = host;
    this.#queue = queue;
    this.#handler = handler as MessageHandler<unknown>;
    this.#concurrency = checkInteger(opts.concurrency, 'concurrency', 1, 1);
    this.#prefetch = checkInteger(opts.prefetch, 'prefetch', this.#concurrency, 0, 65_535);
    this.#reply = reply;
    this.#attempts = 1;
    this.#delays = [];
    if (opts.retry !== undefined) {
      this.#attempts = checkInteger(opts.retry.attempts, 'retry.attempts', 1, 1);
      const delays = Array.isArray(opts.retry.delay) ? opts.retry.delay : [opts.retry.delay];
      if (delays.length === 0) throw new RangeError('retry.delay must not be an empty array');
      this.#delays = delays.map((d, i) => {
        const ms = checkDuration(d, `retry.delay[${i}]`, 0);
        if (!Number.isInteger(ms))
          throw new RangeError(`retry.delay must be whole milliseconds, got ${describeValue(d)}`);
        return ms;
      });
    }
    if (opts.deadLetter !== undefined && typeof opts.deadLetter !== 'string') {
      throw new TypeError(`deadLetter must be a queue name, got ${describeValue(opts.deadLetter)}`);
    }
    this.#deadLetter = opts.deadLetter;
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
      active: this.#active,
      buffered: this.#buffer.length,
      ...this.#stats,
    };
  }

  #delayQueue(ms: number): string {
    return `${this.#queue}.connkit-delay.${ms}ms`;
  }

  /** Topology this consumer needs besides its queue (its delay queues). */
  #topology(): Topology {
    const queues = [...new Set(this.#delays)].map((ms) => ({
      name: this.#delayQueue(ms),
      options: {
        durable: true,
        arguments: {
          'x-message-ttl': ms,
          'x-dead-letter-exchange': '',
          'x-dead-letter-routing-key': this.#queue,
        },
      },
    }));
    return { queues };
  }

  /** (Re)subscribes on `model`: a fresh channel, qos, consume. Failures retry with backoff. */
  async start(model: ChannelModel): Promise<void> {
    if (this.#closing || this.#starting || (this.#model === model && this.#channel)) return;
    this.#starting = true;
    this.#model = model;
    let channel: Channel | undefined;
    try {
      if (this.#attempts > 1) await this.#host.declare(this.#topology());
      if (this.#deadLetter !== undefined) await this.#host.ensureQueue(this.#deadLetter);
      channel = await model.createChannel();
      const ch = channel;
      ch.on('error', (err: Error) => this.#host.reportError(err));
      ch.on('close', () => this.#channelClosed(ch));
      if (this.#prefetch > 0) await ch.prefetch(this.#prefetch);
      this.#channel = ch;
      await this.#subscribe(ch);
      this.#failures = 0;
    } catch (err) {
      if (channel && this.#channel === channel) this.#channel = undefined;
      channel?.close().catch(noop);
      this.#host.reportError(err instanceof Error ? err : new Error(String(err)));
      this.#schedule();
    } finally {
      this.#starting = false;
    }
  }

  async #subscribe(channel: Channel): Promise<void> {
    if (this.#closing) return;
    const { consumerTag } = await channel.consume(this.#queue, (raw) => this.#deliver(channel, raw), {
      noAck: false,
    });
    if (this.#channel !== channel) return;
    this.#tag = consumerTag;
    if (this.#closing) {
      await channel.cancel(consumerTag).catch(noop);
      return;
    }
    this.#readyResolve();
  }

  /** Try again later, with backoff, if the connection is still up. */
  #schedule(): void {
    if (this.#closing || this.#retryTimer !== undefined) return;
    this.#failures++;
    const delay = Math.min(30_000, 100 * 2 ** Math.min(this.#failures, 9)) * (0.5 + Math.random() / 2);
    this.#retryTimer = setTimeout(() => {
      this.#retryTimer = undefined;
      const model = this.#host.currentModel();
      if (!model) return; // the broker restarts every consumer on reconnect
      this.#stats.restarts++;
      const channel = this.#channel;
      if (channel && this.#tag === undefined && this.#model === model) {
        this.#subscribe(channel).catch(() => this.#schedule());
      } else {
        this.#channel = undefined;
        void this.start(model);
      }
    }, delay);
  }

  #channelClosed(channel: Channel): void {
    if (this.#channel !== channel) return;
    this.#channel = undefined;
    this.#tag = undefined;
    // Buffered deliveries of a dead channel are redelivered by the broker: drop them.
    this.#buffer = this.#buffer.filter((d) => d.channel !== channel);
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
    if (this.#closing) {
      this.#settle(channel, raw, 'requeue');
      return;
    }
    if (this.#active < this.#concurrency) void this.#run({ raw, channel });
    else this.#buffer.push({ raw, channel });
  }

  async #run(delivery: Delivery): Promise<void> {
    this.#active++;
    try {
      await this.#handle(delivery);
    } catch (err) {
      this.#host.reportError(err instanceof Error ? err : new Error(String(err)));
    } finally {
      this.#active--;
      const next = this.#closing ? undefined : this.#buffer.shift();
      if (next) void this.#run(next);
      else if (this.#active === 0) for (const wake of this.#idle.splice(0)) wake();
    }
  }

  async #handle({ raw, channel }: Delivery): Promise<void> {
    let msg: Message;
    try {
      msg = toMessage(raw);
    } catch (err) {
      await this.#deadLetterOrReject(channel, raw, err); // an unparsable body never gets better
      return;
    }
    let result: unknown;
    try {
      result = await this.#handler(msg, this.#abort.signal);
    } catch (err) {
      if (this.#reply) {
        await this.#sendReply(channel, raw, undefined, err);
        this.#settle(channel, raw, 'ack');
      } else if (msg.attempt < this.#attempts) await this.#retry(channel, raw, msg.attempt, err);
      else await this.#deadLetterOrReject(channel, raw, err);
      return;
    }
    if (this.#reply) await this.#sendReply(channel, raw, result, undefined);
    this.#settle(channel, raw, 'ack');
  }

  #settle(channel: Channel, raw: ConsumeMessage, how: 'ack' | 'requeue' | 'reject'): void {
    // Delivery tags belong to their channel: acking on another would close it (PRECONDITION_FAILED).
    if (channel !== this.#channel) return;
    try {
      if (how === 'ack') {
        channel.ack(raw);
        this.#stats.acked++;
      } else channel.nack(raw, false, how === 'requeue');
    } catch {
      // channel closed meanwhile: the broker redelivers
    }
  }

  #copyOptions(raw: ConsumeMessage, headers: Record<string, unknown>): PublishOptions {
    const p = raw.properties;
    const opts: PublishOptions = {
      headers: { ...(p.headers as Record<string, unknown> | undefined), ...headers },
      persistent: p.deliveryMode !== 1,
    };
    if (typeof p.messageId === 'string') opts.messageId = p.messageId;
    if (typeof p.contentType === 'string') opts.contentType = p.contentType;
    if (typeof p.correlationId === 'string') opts.correlationId = p.correlationId;
    if (typeof p.replyTo === 'string') opts.replyTo = p.replyTo;
    if (typeof p.type === 'string') opts.type = p.type;
    return opts;
  }

  async #retry(channel: Channel, raw: ConsumeMessage, attempt: number, err: unknown): Promise<void> {
    const delay = this.#delays[Math.min(attempt - 1, this.#delays.length - 1)] as number;
    const opts = this.#copyOptions(raw, {
      [ATTEMPT_HEADER]: attempt + 1,
      [ERROR_HEADER]: errorText(err).message,
    });
    try {
      await this.#host.publish('', this.#delayQueue(delay), raw.content, opts);
    } catch (publishErr) {
      this.#host.reportError(publishErr instanceof Error ? publishErr : new Error(String(publishErr)));
      this.#settle(channel, raw, 'requeue');
      return;
    }
    this.#stats.retried++;
    this.#settle(channel, raw, 'ack');
  }

  async #deadLetterOrReject(channel: Channel, raw: ConsumeMessage, err: unknown): Promise<void> {
    if (this.#deadLetter === undefined) {
      this.#stats.rejected++;
      this.#settle(channel, raw, 'reject'); // to the queue's own DLX, if it has one
      return;
    }
    const { name, message } = errorText(err);
    const opts = this.#copyOptions(raw, {
      [ERROR_HEADER]: message,
      'x-connkit-error-name': name,
      'x-connkit-queue': this.#queue,
    });
    try {
      await this.#host.publish('', this.#deadLetter, raw.content, opts);
    } catch (publishErr) {
      this.#host.reportError(publishErr instanceof Error ? publishErr : new Error(String(publishErr)));
      this.#settle(channel, raw, 'requeue');
      return;
    }
    this.#stats.deadLettered++;
    this.#settle(channel, raw, 'ack');
  }

  async #sendReply(channel: Channel, raw: ConsumeMessage, result: unknown, err: unknown): Promise<void> {
    const replyTo = raw.properties.replyTo as string | undefined;
    if (!replyTo) return;
    const options: Options.Publish = { messageId: randomUUID(), timestamp: Math.floor(Date.now() / 1000) };
    if (typeof raw.properties.correlationId === 'string')
      options.correlationId = raw.properties.correlationId;
    let encoded;
    if (err === undefined) {
      encoded = encodeBody(result === undefined ? null : result);
    } else {
      const { name, message } = errorText(err);
      const code = typeof err === 'object' && err !== null && 'code' in err ? err.code : undefined;
      options.headers = { 'x-error': message };
      // A string or a (JSON-representable) number travels; anything else has no portable form.
      const portable = typeof code === 'string' || (typeof code === 'number' && Number.isFinite(code));
      encoded = encodeBody({ error: { name, message, code: portable ? code : undefined } });
    }
    options.contentType = encoded.contentType;
    try {
      channel.publish('', replyTo, encoded.content, options);
    } catch {
      // the request's channel died: the caller times out or fails on its own connection loss
    }
  }

  /**
   * Stops taking messages, waits up to `timeout` ms for running handlers (then aborts their
   * signal), returns buffered deliveries to the queue and closes the channel. Idempotent.
   */
  close(opts: { timeout?: number } = {}): Promise<void> {
    const timeout = checkDuration(opts.timeout, 'timeout', 10_000);
    this.#closed ??= this.#close(timeout);
    return this.#closed;
  }

  async #close(timeout: number): Promise<void> {
    this.#closing = true;
    clearTimeout(this.#retryTimer);
    this.#readyReject(
      new BrokerClosedError(`Consumer of ${JSON.stringify(this.#queue)} closed before it was ready`),
    );
    const channel = this.#channel;
    if (channel && this.#tag !== undefined) await channel.cancel(this.#tag).catch(noop);
    for (const d of this.#buffer.splice(0)) this.#settle(d.channel, d.raw, 'requeue');
    if (this.#active > 0) {
      let timer: NodeJS.Timeout | undefined;
      const idle = new Promise<boolean>((resolve) => this.#idle.push(() => resolve(true)));
      const expired = new Promise<boolean>((resolve) => (timer = setTimeout(resolve, timeout, false)));
      const finished = await Promise.race([idle, expired]);
      clearTimeout(timer);
      if (!finished)
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
