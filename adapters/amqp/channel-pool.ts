/**
 * A small pool of plain channels for short operations (declarations, queue checks). A channel that
 * an operation broke (a failed `assertQueue` closes it) is dropped, never handed out again; a new
 * connection starts a new pool generation.
 * @module
 */
import type { Channel, ChannelModel } from 'amqplib';
import { Semaphore } from '../../src/semaphore.js';

/**
 * Channels of the current connection, at most `max` at once.
 *
 * @example
 * ```ts
 * const pool = new ChannelPool(8);
 * await pool.use(model, (ch) => ch.assertQueue('jobs'));
 * ```
 */
export class ChannelPool {
  readonly #permits: Semaphore;
  #model: ChannelModel | undefined = undefined;
  #idle: Channel[] = [];

  constructor(max: number) {
    this.#permits = new Semaphore(max);
  }

  /** Runs `fn` on a channel of `model`; the channel returns to the pool if it is still open. */
  async use<R>(model: ChannelModel, fn: (channel: Channel) => Promise<R>, signal?: AbortSignal): Promise<R> {
    await this.#permits.acquire({ signal });
    try {
      if (this.#model !== model) {
        this.#model = model;
        this.#idle = [];
      }
      const channel = this.#idle.pop() ?? (await this.#open(model));
      const state = channel as Channel & { connkitClosed?: boolean };
      try {
        return await fn(channel);
      } finally {
        if (!state.connkitClosed && this.#model === model) this.#idle.push(channel);
      }
    } finally {
      this.#permits.release();
    }
  }

  /** Forgets every channel (the connection is gone or closing). */
  clear(): void {
    this.#model = undefined;
    this.#idle = [];
  }

  async #open(model: ChannelModel): Promise<Channel> {
    const channel = await model.createChannel();
    channel.on('error', () => undefined); // the operation's promise carries the error
    channel.on('close', () => {
      (channel as Channel & { connkitClosed?: boolean }).connkitClosed = true;
      const i = this.#idle.indexOf(channel);
      if (i !== -1) this.#idle.splice(i, 1);
    });
    return channel;
  }
}
