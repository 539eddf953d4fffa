/**
 * {@link Declarations}: the topology a Broker has declared, applied on the broker over the channel
 * pool — now, and again on every new connection (a broker restart loses non-durable entities, and a
 * failover node may not have them yet).
 * @module
 */
import type { ChannelModel } from 'amqplib';
import type { ChannelPool } from './channel-pool.js';
import { applyTopology, TopologyRegistry, type QueueType, type Topology } from './topology.js';

/**
 * Declared topology and the channels to declare it with.
 *
 * @example
 * ```ts
 * const declarations = new Declarations(pool, opts.topology);
 * await declarations.declare(model, { queues: [{ name: 'jobs' }] });
 * await declarations.redeclare(newModel); // after a reconnect
 * ```
 */
export class Declarations {
  readonly #pool: ChannelPool;
  readonly #registry = new TopologyRegistry();

  /** @param initial topology of the Broker's options (already checked) */
  constructor(pool: ChannelPool, initial?: Topology) {
    this.#pool = pool;
    if (initial !== undefined) this.#registry.add(initial);
  }

  /**
   * Declares `topology` on `model` and remembers it once the broker accepted all of it. `signal`
   * bounds the wait for a channel; the caller's scope bounds the rest.
   */
  async declare(model: ChannelModel, topology: Topology, signal?: AbortSignal): Promise<void> {
    await this.#pool.use(model, (channel) => applyTopology(channel, topology), signal);
    if (signal?.aborted !== true) this.#registry.add(topology);
  }

  /** Declares everything remembered, on a new connection. */
  async redeclare(model: ChannelModel): Promise<void> {
    if (this.#registry.empty) return;
    const topology = this.#registry.snapshot();
    await this.#pool.use(model, (channel) => applyTopology(channel, topology));
  }

  /** The type queue `name` was declared with through this Broker, if it was. */
  queueType(name: string): QueueType | undefined {
    return this.#registry.queueType(name);
  }

  /**
   * Makes sure queue `name` exists: checked, or declared durable (of `type`, default classic) when
   * missing — a dead-letter queue.
   */
  async ensureQueue(model: ChannelModel, name: string, type?: QueueType): Promise<void> {
    try {
      await this.#pool.use(model, (channel) => channel.checkQueue(name));
    } catch {
      const args = type === undefined ? undefined : { 'x-queue-type': type };
      await this.#pool.use(model, (channel) => channel.assertQueue(name, { durable: true, arguments: args }));
    }
  }
}
