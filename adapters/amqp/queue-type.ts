/**
 * Queue types (`x-queue-type`): classic, quorum (replicated on the cluster's nodes through Raft)
 * and stream (an append-only replicated log). {@link checkQueueSpec} refuses, before anything is
 * sent, the declarations a broker refuses with a 406 that closes the channel; {@link assertOptions}
 * turns a spec into amqplib's `assertQueue` options.
 * @module
 */
import type { Options } from 'amqplib';
import { describeValue } from '../../src/internal/index.js';

/**
 * A queue to declare. `type` sets `x-queue-type`: a `'quorum'` queue is replicated on the
 * cluster's nodes (a consumer's retry and dead-letter queues for it are quorum queues too), a
 * `'stream'` is a replicated log read from an offset (`consume(…, { offset })`). Dead-lettering:
 * `options: { deadLetterExchange: 'dlx' }` or the `x-dead-letter-*` arguments. What the broker
 * would refuse for the type (non-durable, exclusive, `x-max-priority` on a quorum queue …) throws
 * before anything is sent.
 *
 * @example
 * ```ts
 * const q: QueueSpec = { name: 'jobs', type: 'quorum', deliveryLimit: 5, options: { deadLetterExchange: 'dlx' } };
 * ```
 */
export interface QueueSpec {
  name: string;
  options?: Options.AssertQueue;
  /** `x-queue-type`. @default the broker's default (classic) */
  type?: QueueType;
  /**
   * `x-delivery-limit` (quorum queues only): after this many redeliveries (deliveries beyond the
   * first) the message is dead-lettered (or dropped without a dead-letter exchange).
   */
  deliveryLimit?: number;
}

/**
 * A queue's type.
 *
 * @example
 * ```ts
 * const type: QueueType = 'quorum';
 * ```
 */
export type QueueType = 'classic' | 'quorum' | 'stream';

const TYPES: readonly string[] = ['classic', 'quorum', 'stream'];

/** Arguments RabbitMQ refuses (406) for each replicated type, with what to do instead. */
const REFUSED: Record<'quorum' | 'stream', Record<string, string>> = {
  quorum: {
    'x-max-priority': 'quorum queues have no priorities',
    'x-queue-mode': 'quorum queues keep messages on disk anyway',
    'x-queue-master-locator': "use 'x-queue-leader-locator'",
  },
  stream: {
    'x-max-priority': 'streams have no priorities',
    'x-queue-mode': 'streams keep messages on disk anyway',
    'x-queue-master-locator': "use 'x-queue-leader-locator'",
    'x-dead-letter-exchange': 'streams do not dead-letter',
    'x-dead-letter-routing-key': 'streams do not dead-letter',
    'x-message-ttl': "use 'x-max-age'",
    'x-expires': 'streams do not expire',
    'x-overflow': 'streams do not overflow: they drop old segments',
    'x-max-length': "use 'x-max-length-bytes'",
    'x-delivery-limit': 'streams do not redeliver',
    'x-single-active-consumer': 'streams have no single active consumer over AMQP 0-9-1',
  },
};

/** `assertQueue` options that map to arguments (amqplib's names). */
const OPTION_ARGUMENTS: Record<string, string> = {
  messageTtl: 'x-message-ttl',
  expires: 'x-expires',
  deadLetterExchange: 'x-dead-letter-exchange',
  deadLetterRoutingKey: 'x-dead-letter-routing-key',
  maxLength: 'x-max-length',
  maxPriority: 'x-max-priority',
  overflow: 'x-overflow',
  queueMode: 'x-queue-mode',
};

/**
 * The type a spec declares: `type`, else `options.arguments['x-queue-type']`, else undefined (the
 * broker's default, classic).
 *
 * @example
 * ```ts
 * queueTypeOf({ name: 'q', options: { arguments: { 'x-queue-type': 'quorum' } } }); // 'quorum'
 * ```
 */
export function queueTypeOf(spec: QueueSpec): QueueType | undefined {
  if (spec.type !== undefined) return spec.type;
  const fromArgs = (spec.options?.arguments as Record<string, unknown> | undefined)?.['x-queue-type'];
  return typeof fromArgs === 'string' && TYPES.includes(fromArgs) ? (fromArgs as QueueType) : undefined;
}

function argumentsOf(options: Options.AssertQueue | undefined): Record<string, unknown> {
  const args: Record<string, unknown> = { ...(options?.arguments as Record<string, unknown> | undefined) };
  for (const [option, arg] of Object.entries(OPTION_ARGUMENTS)) {
    const value = (options as Record<string, unknown> | undefined)?.[option];
    if (value !== undefined) args[arg] = value;
  }
  return args;
}

/**
 * Checks `type` and `deliveryLimit` of a queue spec and, for quorum queues and streams, what the
 * broker would refuse: non-durable, exclusive or auto-delete queues and the arguments that type
 * does not take. Throws `TypeError`/`RangeError` naming the queue and the value.
 *
 * @example
 * ```ts
 * checkQueueSpec({ name: 'q', type: 'quorum', options: { maxPriority: 10 } });
 * // TypeError: queue "q" of type 'quorum' cannot take argument 'x-max-priority' (quorum queues have no priorities)
 * ```
 */
export function checkQueueSpec(spec: QueueSpec): void {
  const name = JSON.stringify(spec.name);
  if (spec.type !== undefined && !TYPES.includes(spec.type)) {
    throw new RangeError(
      `type of queue ${name} must be 'classic', 'quorum' or 'stream', got ${describeValue(spec.type)}`,
    );
  }
  const args = argumentsOf(spec.options);
  const declared = args['x-queue-type'];
  if (spec.type !== undefined && declared !== undefined && declared !== spec.type) {
    throw new TypeError(
      `queue ${name} has type '${spec.type}' but options.arguments['x-queue-type'] is ${describeValue(declared)}`,
    );
  }
  const type = queueTypeOf(spec);
  if (spec.deliveryLimit !== undefined) {
    const limit = spec.deliveryLimit as unknown;
    if (typeof limit !== 'number' || !Number.isInteger(limit) || limit < 0 || limit > 2 ** 31 - 1) {
      throw new RangeError(
        `deliveryLimit of queue ${name} must be an integer in [0, ${2 ** 31 - 1}], got ${describeValue(limit)}`,
      );
    }
    if (type !== 'quorum') {
      throw new TypeError(
        `deliveryLimit of queue ${name} needs type 'quorum' (x-delivery-limit is a quorum queue argument), got type ${describeValue(type ?? 'classic')}`,
      );
    }
  }
  if (type !== 'quorum' && type !== 'stream') return;
  const o = spec.options ?? {};
  for (const [property, bad] of [
    ['durable', o.durable === false],
    ['exclusive', o.exclusive === true],
    ['autoDelete', o.autoDelete === true],
  ] as const) {
    if (bad) {
      throw new TypeError(
        `queue ${name} of type '${type}' cannot be ${property === 'durable' ? 'non-durable' : property}: the broker refuses it`,
      );
    }
  }
  for (const [arg, why] of Object.entries(REFUSED[type])) {
    if (args[arg] !== undefined) {
      throw new TypeError(`queue ${name} of type '${type}' cannot take argument '${arg}' (${why})`);
    }
  }
}

/**
 * amqplib `assertQueue` options for a checked spec: its options with `x-queue-type` and
 * `x-delivery-limit` added to the arguments (durable by default, as amqplib does).
 *
 * @example
 * ```ts
 * assertOptions({ name: 'q', type: 'quorum', deliveryLimit: 3 });
 * // { durable: true, arguments: { 'x-queue-type': 'quorum', 'x-delivery-limit': 3 } }
 * ```
 */
export function assertOptions(spec: QueueSpec): Options.AssertQueue | undefined {
  if (spec.type === undefined && spec.deliveryLimit === undefined) return spec.options;
  const args: Record<string, unknown> = {
    ...(spec.options?.arguments as Record<string, unknown> | undefined),
  };
  if (spec.type !== undefined) args['x-queue-type'] = spec.type;
  if (spec.deliveryLimit !== undefined) args['x-delivery-limit'] = spec.deliveryLimit;
  return { durable: true, ...spec.options, arguments: args };
}
