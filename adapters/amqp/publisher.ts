/**
 * Confirmed publishing over one shared confirm channel per connection. Every publish settles:
 * ack → resolve; nack → published again on a fresh channel a bounded number of times
 * ({@link NackRetry}), then `NackError`; mandatory return → `UnroutableError`; `timeout`; abort;
 * close → `BrokerClosedError`. Messages unconfirmed when their channel died are written again
 * (same `messageId`) on the next channel: at-least-once.
 * @module
 */
import type { ChannelModel, ConfirmChannel, Message as AmqpMessage, Options } from 'amqplib';
import { logInfo, type Logger, TimeoutError } from '../../src/internal/index.js';
import { NackRetry } from './nack-retry.js';
import { culpritError } from './channel-error.js';
import { BrokerClosedError, NackError, UnroutableError } from './errors.js';
import { readPublish, type PublishOptions } from './publish-options.js';
import { INFLIGHT, QUEUED, SETTLED, type EntryOwner, type PublishEntry } from './publish-entry.js';
import { PublishQueue } from './publish-queue.js';

export type { PublishOptions } from './publish-options.js';

/**
 * Most unconfirmed messages on the channel at once. Beyond it publishes wait in connkit's queue:
 * what is unconfirmed when a connection dies is re-published (and may be delivered twice), so the
 * window bounds the duplicates a cut can cause, at no cost to throughput (confirms stream back).
 */
const WINDOW = 512;

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
}

/**
 * The publishing half of the broker: the confirm channel and what goes over it; the publishes
 * themselves wait and settle in its {@link PublishQueue}.
 *
 * @example
 * ```ts
 * const publisher = new Publisher(host, { maxPending: 10_000, publishTimeout: 30_000, nackRetry: { attempts: 4, delay: 250 } });
 * await publisher.attach(model);
 * await publisher.publish('', 'jobs', { id: 1 });
 * ```
 */
export class Publisher implements EntryOwner {
  readonly #host: PublisherHost;
  readonly #timeout: number;
  readonly #queue: PublishQueue;
  readonly #nackRetry: NackRetry;
  #channel: ConfirmChannel | undefined = undefined;
  /** Counts attached channels: an entry remembers the one it was written on. */
  #generation = 0;
  /** The pause that followed the last retired channel. */
  #pause = 0;
  #model: ChannelModel | undefined = undefined;
  #writable = false;
  #inflight = 0;
  #closed = false;
  #flushQueued = false;
  #published = 0;
  #republished = 0;
  #confirmed = 0;
  #nackRetried = 0;

  constructor(
    host: PublisherHost,
    settings: {
      maxPending: number;
      publishTimeout: number;
      nackRetry?: { attempts: number; delay: number };
    },
  ) {
    this.#host = host;
    this.#timeout = settings.publishTimeout;
    this.#nackRetry = new NackRetry(settings.nackRetry ?? { attempts: 0, delay: 0 });
    this.#queue = new PublishQueue({ maxPending: settings.maxPending, connected: () => host.connected() });
  }

  /** Counters for `broker.stats()`. */
  stats(): {
    pending: number;
    queued: number;
    published: number;
    republished: number;
    nackRetried: number;
    confirmed: number;
  } {
    return {
      pending: this.#queue.count,
      queued: this.#queue.waiting,
      published: this.#published,
      republished: this.#republished,
      nackRetried: this.#nackRetried,
      confirmed: this.#confirmed,
    };
  }

  /** True while a confirm channel is open. */
  get attached(): boolean {
    return this.#channel !== undefined;
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
    channel.on('return', (msg: AmqpMessage) => this.#queue.markReturned(msg));
    channel.on('drain', () => {
      if (this.#channel === channel) {
        this.#writable = true;
        this.#flush();
      }
    });
    channel.on('close', () => this.#channelClosed(channel, channelError));
    this.#channel = channel;
    this.#generation++;
    this.#writable = true;
    this.#inflight = 0;
    // Everything waiting, in publish order — nacked messages re-queued meanwhile included.
    this.#queue.requeueUnsent();
    this.#flush();
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
    return this.#send(exchange, routingKey, content, properties, signal, timeout);
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
    return this.#send(exchange, routingKey, content, properties, undefined, this.#timeout);
  }

  #send(
    exchange: string,
    routingKey: string,
    content: Buffer,
    properties: Options.Publish,
    signal: AbortSignal | undefined,
    timeout: number,
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
    let entry: PublishEntry;
    try {
      entry = this.#queue.add(this, exchange, routingKey, content, properties, signal, timeout);
    } catch (err) {
      return Promise.reject(err); // BufferFullError
    }
    if (this.#writable && this.#inflight < WINDOW && this.#queue.waiting === 0) this.#write(entry);
    else this.#queue.push(entry);
    this.#host.demand();
    return entry.promise;
  }

  /** Stops taking publishes, waits up to `timeout` (any duration) for the outstanding ones, fails the rest. */
  async close(timeout: number): Promise<void> {
    this.#closed = true;
    await this.#queue.drained(timeout);
    this.failAll(new BrokerClosedError('Broker closed before the publish was confirmed'));
    this.#channel = undefined;
    this.#writable = false;
  }

  /** Rejects every unsettled publish with `error` (the broker closed, or could not connect at all). */
  failAll(error: Error): void {
    this.#queue.failAll(error);
  }

  /** The connection dropped: nothing can be written until the next `attach`. */
  detach(): void {
    this.#writable = false;
  }

  /** Settles an entry once (EntryOwner: its signal aborted). */
  settle(entry: PublishEntry, error: unknown): void {
    this.#queue.settle(entry, error);
  }

  /** amqplib's confirm callback: `null` = ack, 'message nacked' = nack, anything else = channel gone. */
  confirmed(entry: PublishEntry, err: unknown): void {
    if (this.#inflight > 0 && --this.#inflight < WINDOW && this.#queue.waiting > 0 && !this.#flushQueued) {
      // Not from inside amqplib's confirm loop: the channel may be closing right now.
      this.#flushQueued = true;
      queueMicrotask(this.#flushTask);
    }
    if (entry.state === SETTLED) return;
    if (err === null || err === undefined) {
      this.#confirmed++;
      if (entry.generation === this.#generation) this.#nackRetry.reset();
      if (entry.returned !== undefined) {
        this.settle(entry, new UnroutableError(entry.exchange, entry.routingKey, entry.returned));
      } else this.settle(entry, undefined);
    } else if (err instanceof Error && err.message === 'message nacked') {
      this.#nacked(entry);
    } else {
      entry.state = QUEUED; // re-published by #channelClosed
      entry.lost = true;
    }
  }

  /**
   * A nack: the channel it came over is retired (once), and the message waits for the next one —
   * unless its re-publishes are spent or its timeout leaves no room for the pause.
   */
  #nacked(entry: PublishEntry): void {
    if (this.#nackRetry.enabled && entry.generation === this.#generation && this.#channel) this.#retire();
    if (this.#nackRetry.enabled && this.#nackRetry.allows(entry, this.#pause)) {
      this.#nackRetried++;
      entry.state = QUEUED;
      this.#queue.push(entry);
      if (this.#writable && !this.#flushQueued) {
        this.#flushQueued = true;
        queueMicrotask(this.#flushTask);
      }
      return;
    }
    const times = entry.nacks + 1;
    this.settle(
      entry,
      new NackError(
        `The broker nacked message ${entry.options.messageId ?? '(without id)'}` +
          (times > 1 ? ` ${times} times, on ${times} channels` : ''),
      ),
    );
  }

  /**
   * Stops writing to the current channel and opens a fresh one after a pause. The retired channel
   * still gets the confirms of what is in flight on it, then closes.
   */
  #retire(): void {
    const channel = this.#channel as ConfirmChannel;
    this.#channel = undefined;
    this.#writable = false;
    this.#pause = this.#nackRetry.pause();
    logInfo(this.#host.logger, 'connkit/amqp: the broker nacked a publish, opening a fresh confirm channel', {
      pauseMs: this.#pause,
    });
    channel
      .waitForConfirms()
      .catch(() => undefined)
      .then(() => channel.close())
      .catch(() => undefined);
    if (!this.#closedAndIdle()) this.#host.reopen(this.#pause);
  }

  #closedAndIdle(): boolean {
    return this.#closed && this.#queue.count === 0;
  }

  #write(entry: PublishEntry): void {
    const channel = this.#channel as ConfirmChannel;
    let ok: boolean;
    try {
      ok = channel.publish(entry.exchange, entry.routingKey, entry.content, entry.options, entry.onConfirm);
    } catch (err) {
      if (err instanceof RangeError || err instanceof TypeError) {
        this.settle(entry, err); // header values amqplib cannot encode
        return;
      }
      this.#queue.unshift(entry); // channel closed under us: #channelClosed re-sends
      this.#writable = false;
      return;
    }
    entry.state = INFLIGHT;
    entry.generation = this.#generation;
    this.#inflight++;
    this.#published++;
    if (!ok) this.#writable = false;
  }

  readonly #flushTask = (): void => {
    this.#flushQueued = false;
    this.#flush();
  };

  #flush(): void {
    while (this.#writable && this.#inflight < WINDOW) {
      const entry = this.#queue.shift();
      if (entry === undefined) return;
      if (entry.state === QUEUED) this.#write(entry);
    }
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
    let lost = 0;
    for (const entry of this.#queue.entries()) {
      if (entry.state !== QUEUED || !entry.lost) continue;
      entry.lost = false;
      lost++;
      const failure = culpritError(entry, channelError);
      if (failure) this.settle(entry, failure);
    }
    this.#republished += lost;
    this.#queue.requeueUnsent();
    if (lost > 0) {
      logInfo(this.#host.logger, 'connkit/amqp: confirm channel closed, re-publishing unconfirmed messages', {
        count: lost,
        reason: channelError?.message,
      });
    }
    if (!current)
      this.#flush(); // a stale channel: its lost messages go out on the live one
    else if (!this.#closedAndIdle()) this.#host.reopen(0);
  }
}
