import { describe, expect, it } from 'vitest';
import { resolveConsumeOptions } from '../../../adapters/amqp/consume-options.js';
import { FailurePolicy } from '../../../adapters/amqp/failure-policy.js';
import { Broker } from '../../../adapters/amqp/index.js';
import { assertOptions, checkQueueSpec, queueTypeOf } from '../../../adapters/amqp/queue-type.js';
import { checkTopology, TopologyRegistry } from '../../../adapters/amqp/topology.js';
import { delayQueueArguments } from '../../../adapters/amqp/wire.js';

describe('checkQueueSpec()', () => {
  it('accepts the three types, deliveryLimit on a quorum queue, and what quorum queues and streams take', () => {
    expect(() => checkQueueSpec({ name: 'a', type: 'classic', options: { maxPriority: 5 } })).not.toThrow();
    expect(() => checkQueueSpec({ name: 'b', type: 'quorum', deliveryLimit: 3 })).not.toThrow();
    expect(() =>
      checkQueueSpec({
        name: 'c',
        type: 'quorum',
        options: {
          messageTtl: 100,
          deadLetterExchange: '',
          arguments: { 'x-dead-letter-strategy': 'at-least-once' },
        },
      }),
    ).not.toThrow();
    expect(() =>
      checkQueueSpec({
        name: 'd',
        type: 'stream',
        options: { arguments: { 'x-max-age': '1D', 'x-max-length-bytes': 1e9 } },
      }),
    ).not.toThrow();
  });

  it('throws RangeError quoting an unknown type', () => {
    expect(() => checkQueueSpec({ name: 'q', type: 'lazy' as never })).toThrow(RangeError);
    expect(() => checkQueueSpec({ name: 'q', type: 'lazy' as never })).toThrow(
      /must be 'classic', 'quorum' or 'stream', got "lazy"/,
    );
  });

  it('throws TypeError when type and arguments x-queue-type disagree', () => {
    expect(() =>
      checkQueueSpec({ name: 'q', type: 'quorum', options: { arguments: { 'x-queue-type': 'classic' } } }),
    ).toThrow(/type 'quorum' but options.arguments\['x-queue-type'\] is "classic"/);
  });

  it('deliveryLimit: an integer ≥ 0 on a quorum queue only (also one typed through arguments)', () => {
    expect(() => checkQueueSpec({ name: 'q', type: 'quorum', deliveryLimit: -1 })).toThrow(RangeError);
    expect(() => checkQueueSpec({ name: 'q', type: 'quorum', deliveryLimit: 1.5 })).toThrow(/got 1.5/);
    expect(() => checkQueueSpec({ name: 'q', type: 'quorum', deliveryLimit: '3' as never })).toThrow(
      /got "3"/,
    );
    expect(() => checkQueueSpec({ name: 'q', deliveryLimit: 3 })).toThrow(
      /needs type 'quorum'.*got type "classic"/,
    );
    expect(() => checkQueueSpec({ name: 'q', type: 'stream', deliveryLimit: 3 })).toThrow(TypeError);
    expect(() =>
      checkQueueSpec({ name: 'q', deliveryLimit: 3, options: { arguments: { 'x-queue-type': 'quorum' } } }),
    ).not.toThrow();
  });

  it.each([
    ['quorum', { maxPriority: 10 }, /cannot take argument 'x-max-priority'/],
    ['quorum', { arguments: { 'x-queue-mode': 'lazy' } }, /cannot take argument 'x-queue-mode'/],
    ['quorum', { arguments: { 'x-queue-master-locator': 'min-masters' } }, /use 'x-queue-leader-locator'/],
    ['quorum', { durable: false }, /cannot be non-durable/],
    ['quorum', { exclusive: true }, /cannot be exclusive/],
    ['quorum', { autoDelete: true }, /cannot be autoDelete/],
    ['stream', { messageTtl: 1000 }, /cannot take argument 'x-message-ttl' \(use 'x-max-age'\)/],
    ['stream', { deadLetterExchange: 'dlx' }, /cannot take argument 'x-dead-letter-exchange'/],
    ['stream', { maxLength: 10 }, /use 'x-max-length-bytes'/],
    ['stream', { overflow: 'reject-publish' }, /cannot take argument 'x-overflow'/],
    [
      'stream',
      { arguments: { 'x-single-active-consumer': true } },
      /cannot take argument 'x-single-active-consumer'/,
    ],
    ['stream', { exclusive: true }, /cannot be exclusive/],
  ] as const)('a %s queue refuses %j before anything is sent (TypeError)', (type, options, message) => {
    expect(() => checkQueueSpec({ name: 'q', type, options })).toThrow(TypeError);
    expect(() => checkQueueSpec({ name: 'q', type, options })).toThrow(message);
  });
});

describe('assertOptions()', () => {
  it('adds x-queue-type and x-delivery-limit to the arguments, durable by default, keeping the rest', () => {
    expect(
      assertOptions({
        name: 'q',
        type: 'quorum',
        deliveryLimit: 3,
        options: { deadLetterExchange: 'dlx', arguments: { a: 1 } },
      }),
    ).toEqual({
      durable: true,
      deadLetterExchange: 'dlx',
      arguments: { a: 1, 'x-queue-type': 'quorum', 'x-delivery-limit': 3 },
    });
  });

  it('leaves a spec without type and deliveryLimit as it is', () => {
    const options = { durable: false };
    expect(assertOptions({ name: 'q', options })).toBe(options);
  });
});

describe('queueTypeOf() / TopologyRegistry.queueType()', () => {
  it('reads type, else x-queue-type in the arguments, else undefined; a later declaration wins', () => {
    expect(queueTypeOf({ name: 'q', type: 'stream' })).toBe('stream');
    expect(queueTypeOf({ name: 'q', options: { arguments: { 'x-queue-type': 'quorum' } } })).toBe('quorum');
    expect(queueTypeOf({ name: 'q' })).toBeUndefined();
    const registry = new TopologyRegistry();
    registry.add({ queues: [{ name: 'a' }, { name: 'b', type: 'quorum' }] });
    expect(registry.queueType('a')).toBeUndefined();
    expect(registry.queueType('b')).toBe('quorum');
    expect(registry.queueType('nope')).toBeUndefined();
    registry.add({ queues: [{ name: 'a', type: 'quorum' }] });
    expect(registry.queueType('a')).toBe('quorum');
  });
});

describe('checkTopology() / Broker', () => {
  it('checks every queue of a topology, synchronously in new Broker() and broker.declare()', async () => {
    const bad = {
      queues: [{ name: 'ok' }, { name: 'q', type: 'quorum' as const, options: { maxPriority: 2 } }],
    };
    expect(() => checkTopology(bad)).toThrow(
      /queue "q" of type 'quorum' cannot take argument 'x-max-priority'/,
    );
    expect(() => new Broker({ url: 'amqp://localhost', topology: bad })).toThrow(TypeError);
    const broker = new Broker({ url: 'amqp://localhost' });
    expect(() => broker.declare(bad)).toThrow(TypeError);
    await broker.close();
  });
});

describe('delayQueueArguments()', () => {
  it('a quorum delay queue dead-letters at-least-once (which needs reject-publish)', () => {
    expect(delayQueueArguments('q', 100)).toEqual({
      'x-message-ttl': 100,
      'x-dead-letter-exchange': '',
      'x-dead-letter-routing-key': 'q',
    });
    expect(delayQueueArguments('q', 100, true)).toEqual({
      'x-message-ttl': 100,
      'x-dead-letter-exchange': '',
      'x-dead-letter-routing-key': 'q',
      'x-queue-type': 'quorum',
      'x-dead-letter-strategy': 'at-least-once',
      'x-overflow': 'reject-publish',
    });
  });
});

describe('FailurePolicy.topology()', () => {
  const settings = resolveConsumeOptions('jobs', async () => undefined, {
    retry: { attempts: 4, delay: [100, 200, 200] },
  });
  const host = { republish: async () => undefined, reportError: () => undefined };

  it("follows the source queue's type: quorum delay queues for a quorum queue, classic otherwise", () => {
    const policy = new FailurePolicy('jobs', settings, host);
    const quorum = policy.topology('quorum').queues ?? [];
    expect(quorum.map((q) => [q.name, q.type])).toEqual([
      ['jobs.connkit-delay.100ms', 'quorum'],
      ['jobs.connkit-delay.200ms', 'quorum'],
    ]);
    expect(() => checkTopology(policy.topology('quorum'))).not.toThrow();
    const classic = policy.topology(undefined).queues ?? [];
    expect(classic.map((q) => q.type)).toEqual([undefined, undefined]);
    expect(classic[0]!.options?.arguments).not.toHaveProperty('x-queue-type');
  });
});
