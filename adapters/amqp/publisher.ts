/**
 * Confirmed publishing over one shared confirm channel per connection. Every publish settles:
 * ack → resolve; nack → `NackError`; mandatory return → `UnroutableError`; `timeout`; abort;
 * close → `BrokerClosedError`. Messages unconfirmed when their channel died are written again
 * (same `messageId`) on the next channel: at-least-once.
 * @module
 */
import { randomUUID } from 'node:crypto';
import type { ChannelModel, ConfirmChannel, Message as AmqpMessage, Options } from 'amqplib';
import {
  checkDuration,
  checkSignal,
  ConnkitError,
  describeValue,
  TimeoutError,
  type WaitOptions,
} from '../../src/internal/index.js';
import { encodeBody } from './codec.js';
import { BrokerClosedError, BufferFullError, NackError, UnroutableError } from './errors.js';

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
  /** Per-message TTL in milliseconds. */
  expiration?: number | string;
  priority?: number;
  type?: string;
  appId?: string;
}

/**
 * Most unconfirmed messages on the channel at once. Beyond it publishes wait in connkit's queue:
 * what is unconfirmed when a connection dies is re-published (and may be delivered twice), so the
 * window bounds the duplicates a cut can cause, at no cost to throughput (confirms stream back).
 */
const WINDOW = 512;

const QUEUED = 0;
const INFLIGHT = 1;
const SETTLED = 2;

/** One publish on its way: an entry in the queue, then in flight on a channel. */
class Entry {
  state = QUEUED;
  returned: string | undefined = undefined;
  /** Channel-level failures seen while in flight (a poison message must not loop forever). */
  failures = 0;
  /** Was in flight on a channel that closed. */
  lost = false;
  /** Links of the publisher's list of unsettled entries (publish order). */
  prev: Entry | undefined = undefined;
  next: Entry | undefined = undefined;
  /** Own timer, for a publish whose timeout differs from the default (see Publisher.#deadlines). */
  timer: NodeJS.Timeout | undefined = undefined;
  /** `performance.now()` at which a default-timeout publish expires. */
  deadline = Infinity;
  resolve!: () => void;
  reject!: (err: unknown) => void;
  readonly promise: Promise<void>;
  readonly onConfirm: (err: unknown) => void;

  constructor(
    readonly owner: Publisher,
    readonly exchange: string,
    readonly routingKey: string,
    readonly content: Buffer,
    readonly options: Options.Publish & { messageId: string },
    readonly signal: AbortSignal | undefined,
  ) {
    this.promise = new Promise<void>((resolve, reject) => {
      this.resolve = resolve;
      this.reject = reject;
    });
    this.onConfirm = (err: unknown) => owner.confirmed(this, err);
  }

  handleEvent(): void {
    this.owner.settle(this, this.signal?.reason);
  }
}

function codeOf(err: Error): number {
  const code = (err as { code?: unknown }).code;
  return typeof code === 'number' ? code : 0;
}

function onTimeout(entry: Entry): void {
  entry.owner.timedOut(entry);
}

/**
 * What the publisher needs from the broker (implemented by `Broker`).
 *
 * @example
 * ```ts
 * const host: PublisherHost = { connected: () => true, reopen() {}, reportError: console.error };
 * ```
 */
export interface PublisherHost {
  connected(): boolean;
  /** The connection is up but this publisher's channel failed: open another one. */
  reopen(): void;
  reportError(err: Error): void;
}

/**
 * The publishing half of the broker.
 *
 * @example
 * ```ts
 * const publisher = new Publisher(host, { maxPending: 10_000, publishTimeout: 30_000 });
 * await publisher.attach(model);
 * await publisher.publish('', 'jobs', { id: 1 });
 * ```
 */
export class Publisher {
  readonly #host: PublisherHost;
  readonly #maxPending: number;
  readonly #timeout: number;
  #channel: ConfirmChannel | undefined = undefined;
  #model: ChannelModel | undefined = undefined;
  #writable = false;
  #inflight = 0;
  #queue: Entry[] = [];
  #head = 0;
  // Unsettled entries as an intrusive list: a Set under constant add/delete churn measured 3–4×
  // slower per publish than the rest of the publish path together.
  #first: Entry | undefined = undefined;
  #last: Entry | undefined = undefined;
  #count = 0;
  #closed = false;
  #drainWaiters: (() => void)[] = [];
  /**
   * Default-timeout publishes in deadline order (same timeout ⇒ FIFO = deadline order), watched by
   * one timer instead of a setTimeout per message, which would cost more than the publish itself.
   */
  #deadlines: Entry[] = [];
  #deadlineHead = 0;
  #deadlineTimer: NodeJS.Timeout | undefined = undefined;
  #published = 0;
  #republished = 0;
  #confirmed = 0;

  constructor(host: PublisherHost, opts: { maxPending: number; publishTimeout: number }) {
    this.#host = host;
    this.#maxPending = opts.maxPending;
    this.#timeout = opts.publishTimeout;
  }

  /** Counters for `broker.stats()`. */
  stats(): { pending: number; queued: number; published: number; republished: number; confirmed: number } {
    return {
      pending: this.#count,
      queued: this.#queue.length - this.#head,
      published: this.#published,
      republished: this.#republished,
      confirmed: this.#confirmed,
    };
  }

  /** Opens the confirm channel on a fresh connection and writes everything that waited. */
  async attach(model: ChannelModel): Promise<void> {
    // One confirm channel per connection: a second attach (setup racing a reopen) is a no-op.
    if (this.#channel && this.#model === model) return;
    const channel = await model.createConfirmChannel();
    if (this.#channel && this.#model === model) {
      await channel.close().catch(() => undefined);
      return;
    }
    this.#model = model;
    let channelError: Error | undefined;
    channel.on('error', (err: Error) => (channelError = err));
    channel.on('return', (msg: AmqpMessage) => this.#returned(msg));
    channel.on('drain', () => {
      if (this.#channel === channel) {
        this.#writable = true;
        this.#flush();
      }
    });
    channel.on('close', () => this.#channelClosed(channel, channelError));
    this.#channel = channel;
    this.#writable = true;
    this.#inflight = 0;
    this.#flush();
  }

  /** Validates, encodes and publishes; resolves on the broker's confirm. */
  publish(exchange: string, routingKey: string, body: unknown, opts: PublishOptions = {}): Promise<void> {
    if (typeof exchange !== 'string')
      throw new TypeError(`exchange must be a string, got ${describeValue(exchange)}`);
    if (typeof routingKey !== 'string') {
      throw new TypeError(`routingKey must be a string, got ${describeValue(routingKey)}`);
    }
    const signal = checkSignal(opts.signal);
    const timeout = checkDuration(opts.timeout, 'timeout', this.#timeout);
    const { content, contentType } = encodeBody(body, opts.contentType);
    if (this.#closed) return Promise.reject(new BrokerClosedError('Broker is closed: publish refused'));
    if (signal?.aborted) return Promise.reject(signal.reason);
    if (this.#count >= this.#maxPending) {
      return Promise.reject(
        new BufferFullError(
          `Publish buffer is full (${this.#count} pending, maxPending ${this.#maxPending})`,
        ),
      );
    }
    const options: Options.Publish & { messageId: string } = {
      messageId: opts.messageId ?? randomUUID(),
      contentType,
      deliveryMode: opts.persistent === false ? 1 : 2,
      mandatory: opts.mandatory ?? true,
      timestamp: Math.floor(Date.now() / 1000),
    };
    if (opts.headers !== undefined) options.headers = opts.headers;
    if (opts.correlationId !== undefined) options.correlationId = opts.correlationId;
    if (opts.replyTo !== undefined) options.replyTo = opts.replyTo;
    if (opts.expiration !== undefined) options.expiration = String(opts.expiration);
    if (opts.priority !== undefined) options.priority = opts.priority;
    if (opts.type !== undefined) options.type = opts.type;
    if (opts.appId !== undefined) options.appId = opts.appId;
    const entry = new Entry(this, exchange, routingKey, content, options, signal);
    this.#link(entry);
    signal?.addEventListener('abort', entry);
    if (timeout === this.#timeout) this.#addDeadline(entry, timeout);
    else if (timeout !== Infinity) entry.timer = setTimeout(onTimeout, timeout, entry);
    if (this.#writable && this.#inflight < WINDOW && this.#head === this.#queue.length) this.#write(entry);
    else this.#queue.push(entry);
    return entry.promise;
  }

  /** Stops taking publishes, waits up to `timeout` for the outstanding ones, fails the rest. */
  async close(timeout: number): Promise<void> {
    this.#closed = true;
    if (this.#count > 0 && timeout > 0) {
      await new Promise<void>((resolve) => {
        const timer = timeout === Infinity ? undefined : setTimeout(resolve, timeout);
        this.#drainWaiters.push(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
    for (const entry of this.#entries()) {
      this.settle(entry, new BrokerClosedError('Broker closed before the publish was confirmed'));
    }
    this.#channel = undefined;
    this.#writable = false;
  }

  /** Rejects every unsettled publish with `error` (the broker could not connect at all). */
  failAll(error: Error): void {
    for (const entry of this.#entries()) this.settle(entry, error);
  }

  /** The connection dropped: nothing can be written until the next `attach`. */
  detach(): void {
    this.#writable = false;
  }

  /** amqplib's confirm callback: `null` = ack, 'message nacked' = nack, anything else = channel gone. */
  confirmed(entry: Entry, err: unknown): void {
    if (
      this.#inflight > 0 &&
      --this.#inflight < WINDOW &&
      this.#head < this.#queue.length &&
      !this.#flushQueued
    ) {
      // Not from inside amqplib's confirm loop: the channel may be closing right now.
      this.#flushQueued = true;
      queueMicrotask(this.#flushTask);
    }
    if (entry.state === SETTLED) return;
    if (err === null || err === undefined) {
      this.#confirmed++;
      if (entry.returned !== undefined) {
        this.settle(entry, new UnroutableError(entry.exchange, entry.routingKey, entry.returned));
      } else this.settle(entry, undefined);
    } else if (err instanceof Error && err.message === 'message nacked') {
      this.settle(entry, new NackError(`The broker nacked message ${entry.options.messageId}`));
    } else {
      entry.state = QUEUED; // re-published by #channelClosed
      entry.lost = true;
    }
  }

  #addDeadline(entry: Entry, timeout: number): void {
    if (timeout === Infinity) return;
    entry.deadline = performance.now() + timeout;
    // Confirms come in publish order, so settled entries gather at the head: drop them now rather
    // than at the next expiry, or the list would pin every body published in the last `timeout` ms.
    const list = this.#deadlines;
    while (this.#deadlineHead < list.length && (list[this.#deadlineHead] as Entry).state === SETTLED) {
      list[this.#deadlineHead++] = undefined as unknown as Entry;
    }
    if (this.#deadlineHead > 1024 && this.#deadlineHead * 2 > list.length) {
      this.#deadlines = list.slice(this.#deadlineHead);
      this.#deadlineHead = 0;
    }
    this.#deadlines.push(entry);
    if (this.#deadlineTimer === undefined) this.#armDeadlines(timeout);
  }

  #armDeadlines(ms: number): void {
    this.#deadlineTimer = setTimeout(this.#expire, Math.max(0, Math.ceil(ms)));
  }

  readonly #expire = (): void => {
    this.#deadlineTimer = undefined;
    const now = performance.now();
    const list = this.#deadlines;
    while (this.#deadlineHead < list.length) {
      const entry = list[this.#deadlineHead] as Entry;
      if (entry.state !== SETTLED) {
        if (entry.deadline > now) break;
        this.timedOut(entry);
      }
      list[this.#deadlineHead++] = undefined as unknown as Entry;
    }
    if (this.#deadlineHead === list.length) {
      this.#deadlines = [];
      this.#deadlineHead = 0;
      return;
    }
    if (this.#deadlineHead > 1024) {
      this.#deadlines = list.slice(this.#deadlineHead);
      this.#deadlineHead = 0;
    }
    this.#armDeadlines((this.#deadlines[this.#deadlineHead] as Entry).deadline - now);
  };

  timedOut(entry: Entry): void {
    entry.timer = undefined;
    const where = entry.state === QUEUED ? 'waiting to be sent' : 'awaiting its confirm';
    this.settle(
      entry,
      new TimeoutError(
        `Publish to exchange ${JSON.stringify(entry.exchange)} with routing key ${JSON.stringify(entry.routingKey)} timed out ` +
          `(${where}, ${this.#host.connected() ? 'connected' : 'disconnected'}, ${this.#count} pending)`,
      ),
    );
  }

  /** Settles an entry once: `error === undefined` resolves. */
  settle(entry: Entry, error: unknown): void {
    if (entry.state === SETTLED) return;
    entry.state = SETTLED;
    this.#unlink(entry);
    if (entry.timer !== undefined) clearTimeout(entry.timer);
    entry.signal?.removeEventListener('abort', entry);
    if (error === undefined) entry.resolve();
    else entry.reject(error);
    if (this.#count === 0) {
      // Nothing left to expire: drop the timer so an idle or closed broker keeps no process alive.
      if (this.#deadlineTimer !== undefined) {
        clearTimeout(this.#deadlineTimer);
        this.#deadlineTimer = undefined;
      }
      this.#deadlines = [];
      this.#deadlineHead = 0;
      if (this.#drainWaiters.length > 0) for (const wake of this.#drainWaiters.splice(0)) wake();
    }
  }

  #write(entry: Entry): void {
    const channel = this.#channel as ConfirmChannel;
    let ok: boolean;
    try {
      ok = channel.publish(entry.exchange, entry.routingKey, entry.content, entry.options, entry.onConfirm);
    } catch (err) {
      if (err instanceof RangeError || err instanceof TypeError) {
        this.settle(entry, err); // bad headers or arguments: amqplib refuses to encode them
        return;
      }
      this.#queue.splice(this.#head, 0, entry); // channel closed under us: #channelClosed re-sends
      this.#writable = false;
      return;
    }
    entry.state = INFLIGHT;
    this.#inflight++;
    this.#published++;
    if (!ok) this.#writable = false;
  }

  #flushQueued = false;
  readonly #flushTask = (): void => {
    this.#flushQueued = false;
    this.#flush();
  };

  #flush(): void {
    while (this.#writable && this.#inflight < WINDOW && this.#head < this.#queue.length) {
      const entry = this.#queue[this.#head] as Entry;
      this.#queue[this.#head++] = undefined as unknown as Entry;
      if (entry.state === QUEUED) this.#write(entry);
    }
    if (this.#head === this.#queue.length) {
      this.#queue = [];
      this.#head = 0;
    } else if (this.#head > 1024 && this.#head * 2 > this.#queue.length) {
      this.#queue = this.#queue.slice(this.#head);
      this.#head = 0;
    }
  }

  #link(entry: Entry): void {
    entry.prev = this.#last;
    if (this.#last) this.#last.next = entry;
    else this.#first = entry;
    this.#last = entry;
    this.#count++;
  }

  #unlink(entry: Entry): void {
    if (entry.prev) entry.prev.next = entry.next;
    else this.#first = entry.next;
    if (entry.next) entry.next.prev = entry.prev;
    else this.#last = entry.prev;
    entry.prev = entry.next = undefined;
    this.#count--;
  }

  /** A snapshot of the unsettled entries in publish order (safe to settle while iterating). */
  #entries(): Entry[] {
    const out: Entry[] = [];
    for (let e = this.#first; e; e = e.next) out.push(e);
    return out;
  }

  #returned(msg: AmqpMessage): void {
    const id = msg.properties.messageId as string | undefined;
    // Returns are rare and come before their ack: a scan of the in-flight window beats a map
    // maintained on every publish.
    let entry: Entry | undefined;
    for (let e = this.#first; e && id !== undefined; e = e.next) {
      if (e.state === INFLIGHT && e.returned === undefined && e.options.messageId === id) {
        entry = e;
        break;
      }
    }
    const fields = msg.fields as { replyCode?: number; replyText?: string };
    if (entry) entry.returned = `${fields.replyCode ?? 312} ${fields.replyText ?? 'NO_ROUTE'}`;
  }

  /**
   * The channel closed: amqplib has already failed its unconfirmed callbacks (marking them QUEUED).
   * After a channel-level error the message that caused it is failed rather than re-sent forever.
   */
  #channelClosed(channel: ConfirmChannel, channelError: Error | undefined): void {
    const current = this.#channel === channel;
    if (current) {
      this.#channel = undefined;
      this.#writable = false;
    }
    const requeue: Entry[] = [];
    const channelLevel = channelError !== undefined && [403, 404, 405, 406].includes(codeOf(channelError));
    for (const entry of this.#entries()) {
      if (entry.state !== QUEUED) continue;
      if (entry.lost) {
        entry.lost = false;
        this.#republished++;
        if (channelLevel && this.#isCulprit(entry, channelError)) {
          this.settle(
            entry,
            new ConnkitError(`Publish failed: ${channelError.message}`, 'CHANNEL_ERROR', {
              cause: channelError,
            }),
          );
          continue;
        }
      }
      requeue.push(entry);
    }
    this.#queue = requeue;
    this.#head = 0;
    if (!current)
      this.#flush(); // a stale channel: its lost messages go out on the live one
    else if (!this.#closed) this.#host.reopen();
  }

  /** True while a confirm channel is open. */
  get attached(): boolean {
    return this.#channel !== undefined;
  }

  #isCulprit(entry: Entry, error: Error): boolean {
    const noExchange = /no exchange '(.*)' in vhost/.exec(error.message);
    if (noExchange) return entry.exchange === noExchange[1];
    const tooBig = /message size \d+ is larger than configured max size (\d+)/.exec(error.message);
    if (tooBig) return entry.content.length > Number(tooBig[1]);
    return ++entry.failures >= 3;
  }
}
