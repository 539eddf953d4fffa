/**
 * Declared topology, remembered so it can be re-declared after every reconnect (a broker restart
 * loses non-durable entities, and a failover node may not have them yet).
 * @module
 */
import type { Channel, Options } from 'amqplib';
import { describeValue } from '../../src/internal/index.js';
import { assertOptions, checkQueueSpec, queueTypeOf, type QueueSpec, type QueueType } from './queue-type.js';

export type { QueueSpec, QueueType } from './queue-type.js';

/**
 * An exchange to declare.
 *
 * @example
 * ```ts
 * const ex: ExchangeSpec = { name: 'orders', type: 'topic', options: { durable: true } };
 * ```
 */
export interface ExchangeSpec {
  name: string;
  type: 'direct' | 'topic' | 'fanout' | 'headers' | (string & {});
  options?: Options.AssertExchange;
}

/**
 * A binding of a queue to an exchange.
 *
 * @example
 * ```ts
 * const b: BindingSpec = { queue: 'jobs', exchange: 'orders', routingKey: 'order.*' };
 * ```
 */
export interface BindingSpec {
  queue: string;
  exchange: string;
  routingKey: string;
  /** Binding arguments (headers exchanges). */
  args?: Record<string, unknown>;
}

/**
 * Exchanges, queues and bindings, as given to `new Broker({ topology })` or `broker.declare()`.
 *
 * @example
 * ```ts
 * const topology: Topology = {
 *   exchanges: [{ name: 'orders', type: 'topic' }],
 *   queues: [{ name: 'orders.created', type: 'quorum' }],
 *   bindings: [{ queue: 'orders.created', exchange: 'orders', routingKey: 'order.created' }],
 * };
 * ```
 */
export interface Topology {
  exchanges?: ExchangeSpec[];
  queues?: QueueSpec[];
  bindings?: BindingSpec[];
}

function checkName(value: unknown, what: string): void {
  if (typeof value !== 'string') throw new TypeError(`${what} must be a string, got ${describeValue(value)}`);
}

function checkObject(value: unknown, what: string): void {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    throw new TypeError(`${what} must be an object, got ${describeValue(value)}`);
  }
}

function listOf(value: unknown, what: string): Record<string, unknown>[] {
  if (value === undefined) return [];
  if (!Array.isArray(value)) throw new TypeError(`${what} must be an array, got ${describeValue(value)}`);
  for (const item of value) checkObject(item, `each of ${what}`);
  return value as Record<string, unknown>[];
}

/**
 * Validates a topology's shape synchronously: lists are arrays of objects, names strings, options
 * objects.
 *
 * @example
 * ```ts
 * checkTopology({ queues: [{ name: 1 as never }] }); // TypeError: queue name must be a string, got 1
 * ```
 */
export function checkTopology(topology: Topology): void {
  checkObject(topology, 'topology');
  for (const e of listOf(topology.exchanges, 'topology.exchanges')) {
    checkName(e.name, 'exchange name');
    checkName(e.type, 'exchange type');
    if (e.options !== undefined) checkObject(e.options, `options of exchange ${describeValue(e.name)}`);
  }
  for (const q of listOf(topology.queues, 'topology.queues')) {
    checkName(q.name, 'queue name');
    if (q.options !== undefined) checkObject(q.options, `options of queue ${describeValue(q.name)}`);
    checkQueueSpec(q as unknown as QueueSpec);
  }
  for (const b of listOf(topology.bindings, 'topology.bindings')) {
    checkName(b.queue, 'binding queue');
    checkName(b.exchange, 'binding exchange');
    checkName(b.routingKey, 'binding routingKey');
    if (b.args !== undefined) checkObject(b.args, 'binding args');
  }
}

/**
 * Declares a topology on a channel: exchanges, then queues, then bindings.
 *
 * @example
 * ```ts
 * await applyTopology(channel, { queues: [{ name: 'jobs' }] });
 * ```
 */
export async function applyTopology(channel: Channel, topology: Topology): Promise<void> {
  for (const e of topology.exchanges ?? []) await channel.assertExchange(e.name, e.type, e.options);
  for (const q of topology.queues ?? []) await channel.assertQueue(q.name, assertOptions(q));
  for (const b of topology.bindings ?? []) await channel.bindQueue(b.queue, b.exchange, b.routingKey, b.args);
}

/**
 * Everything declared so far, deduplicated by name (a later declaration of the same name
 * replaces the earlier one), in declaration order.
 *
 * @example
 * ```ts
 * const registry = new TopologyRegistry();
 * registry.add({ queues: [{ name: 'jobs' }] });
 * await applyTopology(channel, registry.snapshot());
 * ```
 */
export class TopologyRegistry {
  #exchanges = new Map<string, ExchangeSpec>();
  #queues = new Map<string, QueueSpec>();
  #bindings = new Map<string, BindingSpec>();

  /** Remembers a topology (after it was declared successfully). */
  add(topology: Topology): void {
    for (const e of topology.exchanges ?? []) this.#exchanges.set(e.name, e);
    for (const q of topology.queues ?? []) this.#queues.set(q.name, q);
    for (const b of topology.bindings ?? []) {
      this.#bindings.set(JSON.stringify([b.queue, b.exchange, b.routingKey, b.args ?? null]), b);
    }
  }

  /** The declared type of queue `name` (undefined: not declared here, or the broker's default). */
  queueType(name: string): QueueType | undefined {
    const spec = this.#queues.get(name);
    return spec === undefined ? undefined : queueTypeOf(spec);
  }

  /** True when nothing was declared. */
  get empty(): boolean {
    return this.#exchanges.size + this.#queues.size + this.#bindings.size === 0;
  }

  /** The whole remembered topology. */
  snapshot(): Topology {
    return {
      exchanges: [...this.#exchanges.values()],
      queues: [...this.#queues.values()],
      bindings: [...this.#bindings.values()],
    };
  }
}
