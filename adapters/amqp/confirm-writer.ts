/**
 * {@link ConfirmWriter}: the channel side of publishing — one confirm channel at a time, what is
 * written to it (within a window, honouring `drain`), and what its confirms and its death mean for
 * the publishes of the {@link PublishQueue}: ack → resolve (or `UnroutableError` after a return);
 * nack → published again on a fresh channel ({@link NackRetry}) or `NackError`; channel gone →
 * written again on the next one.
 * @module
 */
import type { ChannelModel, ConfirmChannel, Message as AmqpMessage } from 'amqplib';
import { logInfo, withContext, type Logger } from '../../src/internal/index.js';
import { UnroutableError } from './errors.js';
import type { NackRetry } from './nack-retry.js';
import { INFLIGHT, QUEUED, SETTLED, type EntryOwner, type PublishEntry } from './publish-entry.js';
import type { PublishQueue } from './publish-queue.js';

/**
 * Most unconfirmed messages on the channel at once. Beyond it publishes wait in connkit's queue:
 * what is unconfirmed when a connection dies is re-published (and may be delivered twice), so the
 * window bounds the duplicates a cut can cause, at no cost to throughput (confirms stream back).
 */
const WINDOW = 512;

/**
 * What the writer needs from the publisher.
 *
 * @example
 * ```ts
 * const host: WriterHost = { reopen(delay) {}, closedAndIdle: () => false, logger: console };
 * ```
 */
export interface WriterHost {
  /** This writer's channel failed or was retired while the connection is up: attach another after `delay` ms. */
  reopen(delay: number): void;
  /** True once the publisher is closed and nothing is pending: no channel is needed any more. */
  closedAndIdle(): boolean;
  readonly logger?: Logger | undefined;
}

/**
 * The confirm channel and what goes over it.
 *
 * @example
 * ```ts
 * const writer = new ConfirmWriter(host, queue, new NackRetry({ attempts: 3, delay: 250 }));
 * await writer.attach(model);
 * writer.submit(entry);
 * ```
 */
export class ConfirmWriter implements EntryOwner {
  readonly counts = { published: 0, republished: 0, nackRetried: 0, confirmed: 0 };
  readonly #host: WriterHost;
  readonly #queue: PublishQueue;
  readonly #nackRetry: NackRetry;
  #channel: ConfirmChannel | undefined = undefined;
  #model: ChannelModel | undefined = undefined;
  /** Counts attached channels: an entry remembers the one it was written on. */
  #generation = 0;
  /** The pause that followed the last retired channel. */
  #pause = 0;
  #writable = false;
  /** Unconfirmed writes on the current channel. */
  #inflight = 0;
  /** Retired channels (by generation) and their unconfirmed writes: closed once those are confirmed. */
  readonly #retired = new Map<number, { channel: ConfirmChannel; inflight: number }>();
  #flushQueued = false;

  constructor(host: WriterHost, queue: PublishQueue, nackRetry: NackRetry) {
    this.#host = host;
    this.#queue = queue;
    this.#nackRetry = nackRetry;
  }

  /** True while a confirm channel is open. */
  get attached(): boolean {
    return this.#channel !== undefined;
  }

  /** Opens the confirm channel on `model` and writes everything that waited. */
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

  /** Nothing can be written until the next `attach` (the connection dropped, or closing). */
  detach(): void {
    this.#writable = false;
  }

  /** Forgets the channel (the publisher closed). */
  release(): void {
    this.#channel = undefined;
    this.#writable = false;
  }

  /** Writes a new entry now when the channel takes it and nobody waits before it; else queues it. */
  submit(entry: PublishEntry): void {
    if (this.#writable && this.#inflight < WINDOW && this.#queue.waiting === 0) this.#write(entry);
    else this.#queue.push(entry);
  }

  /** Settles an entry once (EntryOwner: its signal aborted). */
  settle(entry: PublishEntry, error: unknown): void {
    this.#queue.settle(entry, error);
  }

  /** amqplib's confirm callback: `null` = ack, 'message nacked' = nack, anything else = channel gone. */
  confirmed(entry: PublishEntry, err: unknown): void {
    if (entry.generation !== this.#generation) this.#retiredConfirm(entry.generation);
    else if (this.#inflight > 0 && --this.#inflight < WINDOW && this.#queue.waiting > 0) this.#flushSoon();
    if (entry.state === SETTLED) return;
    if (err === null || err === undefined) {
      this.counts.confirmed++;
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
    const retry = this.#nackRetry;
    if (retry.enabled && entry.generation === this.#generation && this.#channel) this.#retire();
    if (retry.enabled && retry.allows(entry, this.#pause)) {
      this.counts.nackRetried++;
      entry.state = QUEUED;
      this.#queue.push(entry);
      if (this.#writable) this.#flushSoon();
    } else this.settle(entry, retry.error(entry));
  }

  /**
   * Stops writing to the current channel and asks for a fresh one after a pause. The retired
   * channel still gets the confirms of what is in flight on it (closing it earlier would fail
   * those, and re-publish messages the broker may have taken), then closes.
   */
  #retire(): void {
    const channel = this.#channel as ConfirmChannel;
    this.#channel = undefined;
    this.#writable = false;
    // Its confirms from now on are told apart from those of the next channel by the generation.
    this.#retired.set(this.#generation, { channel, inflight: this.#inflight });
    if (this.#inflight === 0) this.#retiredConfirm(this.#generation, 0);
    this.#generation++;
    this.#inflight = 0;
    this.#pause = this.#nackRetry.pause();
    logInfo(this.#host.logger, 'connkit/amqp: the broker nacked a publish, opening a fresh confirm channel', {
      pauseMs: this.#pause,
    });
    if (!this.#host.closedAndIdle()) this.#host.reopen(this.#pause);
  }

  /** A confirm (or its failure) on a retired channel: the last one closes it. */
  #retiredConfirm(generation: number, count = 1): void {
    const retired = this.#retired.get(generation);
    if (retired === undefined) return;
    retired.inflight -= count;
    if (retired.inflight > 0) return;
    this.#retired.delete(generation);
    retired.channel.close().catch(() => undefined);
  }

  #write(entry: PublishEntry): void {
    const channel = this.#channel as ConfirmChannel;
    let ok: boolean;
    try {
      ok =
        entry.context === undefined
          ? channel.publish(entry.exchange, entry.routingKey, entry.content, entry.options, entry.onConfirm)
          : // Written from a drain or confirm callback, or after a reconnect: in the caller's context
            // still, not in that of whichever publish or event happens to flush it.
            withContext(entry.context, () =>
              channel.publish(
                entry.exchange,
                entry.routingKey,
                entry.content,
                entry.options,
                entry.onConfirm,
              ),
            );
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
    this.counts.published++;
    if (!ok) this.#writable = false;
  }

  /** A flush on the next microtask — not from inside amqplib's confirm loop: the channel may be closing right now. */
  #flushSoon(): void {
    if (this.#flushQueued) return;
    this.#flushQueued = true;
    queueMicrotask(this.#flushTask);
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
    for (const [generation, retired] of this.#retired) {
      if (retired.channel === channel) this.#retired.delete(generation);
    }
    const lost = this.#queue.requeueLost(channelError);
    this.counts.republished += lost;
    if (lost > 0) {
      logInfo(this.#host.logger, 'connkit/amqp: confirm channel closed, re-publishing unconfirmed messages', {
        count: lost,
        reason: channelError?.message,
      });
    }
    if (!current)
      this.#flush(); // a stale channel: its lost messages go out on the live one
    else if (!this.#host.closedAndIdle()) this.#host.reopen(0);
  }
}
