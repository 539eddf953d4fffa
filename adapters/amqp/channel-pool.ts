/**
 * Plain channels for short operations (declarations, queue checks), pooled by the core `Pool`.
 * Channels belong to one connection: each new connection gets a fresh pool and the old one is
 * closed. A channel that an operation broke (a failed `assertQueue` closes it) fails `reset` and is
 * destroyed instead of being lent again.
 *
 * Publishing does not use this pool: one shared confirm channel per connection was measured as
 * fast as raw amqplib, and a single channel keeps confirms in publish order (see publisher.ts).
 * @module
 */
import type { Channel, ChannelModel } from 'amqplib';
import { Pool } from '../../src/internal/index.js';

const noop = (): void => undefined;
const closedChannels = new WeakSet<Channel>();

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
  readonly #max: number;
  #model: ChannelModel | undefined = undefined;
  #pool: Pool<Channel> | undefined = undefined;

  constructor(max: number) {
    this.#max = max;
  }

  /** Runs `fn` on a channel of `model`; the channel returns to the pool if it is still open. */
  async use<R>(model: ChannelModel, fn: (channel: Channel) => Promise<R>, signal?: AbortSignal): Promise<R> {
    if (this.#model !== model || !this.#pool) {
      this.clear();
      this.#model = model;
      this.#pool = new Pool<Channel>(
        {
          create: async () => {
            const channel = await model.createChannel();
            channel.on('error', noop); // the operation's own promise carries the error
            channel.on('close', () => closedChannels.add(channel));
            return channel;
          },
          destroy: async (channel) => {
            if (!closedChannels.has(channel)) await channel.close().catch(noop);
          },
          validate: (channel) => !closedChannels.has(channel),
          reset: (channel) => !closedChannels.has(channel),
        },
        // Channels are not database connections: no db.client.connection.* metrics for them.
        { max: this.#max, name: 'amqp-channels', acquireTimeout: Infinity, metrics: false },
      );
    }
    return this.#pool.use((channel) => fn(channel), { signal });
  }

  /** Drops the pool of a connection that is gone or closing. */
  clear(): void {
    const pool = this.#pool;
    this.#pool = undefined;
    this.#model = undefined;
    if (pool) void pool.close({ timeout: 0 }).catch(noop);
  }
}
