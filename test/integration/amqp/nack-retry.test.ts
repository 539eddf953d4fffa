/**
 * What a publish does on `basic.nack`, with real nacks from the test broker (a queue full with
 * `x-overflow: reject-publish`): the channel is retired, the message goes out again on a fresh
 * channel after the pause — and resolves once the broker takes it — or, when the nacks persist,
 * rejects with `NackError` after `nackRetry.attempts` re-publishes. (The cluster tests meet the
 * RabbitMQ 3.10 fault this is for: nacks right after a quorum queue leader's node died.)
 */
import { afterEach, describe, expect, it } from 'vitest';
import { Broker, NackError } from '../../../adapters/amqp/index.js';
import { deleteQueues, withAmqpChannel } from '../../support/amqp.js';
import { until } from '../../support/async.js';
import { RecordingLogger } from '../../support/cluster-load.js';
import { uniqueName } from '../../support/names.js';
import { amqpUrl } from '../../support/services.js';

const brokers: Broker[] = [];
const queues: string[] = [];

afterEach(async () => {
  await Promise.all(brokers.splice(0).map((b) => b.close({ timeout: 2_000 })));
  await deleteQueues(amqpUrl(), queues.splice(0));
});

/** A Broker and a queue that holds one message and nacks the next publishes while full. */
async function fullQueue(nackRetry: { attempts?: number; delay?: number }, logger = new RecordingLogger()) {
  const q = uniqueName('q_full');
  queues.push(q);
  const broker = new Broker({
    url: amqpUrl(),
    clientName: uniqueName('connkit_nack'),
    nackRetry,
    logger,
    topology: { queues: [{ name: q, options: { maxLength: 1, overflow: 'reject-publish' } }] },
  });
  broker.on('error', () => undefined);
  brokers.push(broker);
  await broker.sendToQueue(q, 'fills the queue', { messageId: 'first' });
  return { broker, q };
}

describe('Broker.publish() on a nack', () => {
  it('publishes a nacked message again on a fresh channel after the pause, and resolves once the broker takes it', async () => {
    const log = new RecordingLogger();
    const { broker, q } = await fullQueue({ attempts: 5, delay: 300 }, log);
    const second = broker.sendToQueue(q, 'waits for room', { messageId: 'second' });
    // The first nack retires the channel: room is made while the publisher pauses.
    // >= 1: on a busy machine the 300 ms pause may end, and the next nack come, between two polls.
    await until(() => broker.stats().publisher.nackRetried >= 1, 20_000, 'the first nack');
    await withAmqpChannel(amqpUrl(), async (ch) => {
      const got = await ch.get(q, { noAck: true });
      expect(got && got.properties.messageId).toBe('first');
    });
    await second;
    expect(broker.stats().publisher).toMatchObject({ pending: 0, confirmed: 2 });
    expect(broker.stats().publisher.nackRetried).toBeGreaterThanOrEqual(1);
    expect(log.lines.some((l) => /nacked a publish, opening a fresh confirm channel/.test(l.message))).toBe(
      true,
    );
    const depth = await withAmqpChannel(amqpUrl(), async (ch) => (await ch.checkQueue(q)).messageCount);
    expect(depth).toBe(1);
  });

  it('rejects with NackError after nackRetry.attempts re-publishes when the nacks persist', async () => {
    const { broker, q } = await fullQueue({ attempts: 2, delay: 50 });
    const started = Date.now();
    await expect(broker.sendToQueue(q, 'no room', { messageId: 'rejected' })).rejects.toThrow(
      /nacked message rejected 3 times, on 3 channels/,
    );
    // Pauses of 50 then 100 ms between the three channels.
    expect(Date.now() - started).toBeGreaterThanOrEqual(150);
    expect(broker.stats().publisher.nackRetried).toBe(2);
    // Publishing goes on afterwards.
    await withAmqpChannel(amqpUrl(), (ch) => ch.purgeQueue(q));
    await broker.sendToQueue(q, 'room again');
  });

  it('nackRetry { attempts: 0 }: the first nack is final', async () => {
    const { broker, q } = await fullQueue({ attempts: 0 });
    await expect(broker.sendToQueue(q, 'no room')).rejects.toBeInstanceOf(NackError);
    expect(broker.stats().publisher.nackRetried).toBe(0);
  });

  it('does not wait for a pause its publish timeout has no room for', async () => {
    const { broker, q } = await fullQueue({ attempts: 3, delay: 5_000 });
    const started = Date.now();
    await expect(broker.sendToQueue(q, 'no room', { timeout: 1_000 })).rejects.toBeInstanceOf(NackError);
    // Not the 5 s pause (a NackError, not the 1 s TimeoutError, already says it did not wait for
    // it); the bound is the pause, not the timeout: a busy machine's round trips can take a second.
    expect(Date.now() - started).toBeLessThan(5_000);
  });
});
