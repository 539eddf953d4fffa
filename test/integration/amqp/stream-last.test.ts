/**
 * Issue 17.4 — `consume(stream, handler, { offset: 'last' })` on the test broker (a stream works on
 * one node too; the other offsets are proven on the cluster in test/cluster/streams.test.ts). RabbitMQ
 * starts a `'last'` reader at the last *chunk* written: messages written with a confirm awaited
 * between them land in chunks of their own, so such a reader gets the last message and none of the
 * first ones, then every new message.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { until } from '../../support/async.js';
import { deleteQueues } from '../../support/amqp.js';
import { testBrokers } from '../../support/brokers.js';
import { DeliveryTally } from '../../support/cluster-load.js';
import { uniqueName } from '../../support/names.js';
import { amqpUrl } from '../../support/services.js';

const queues: string[] = [];
const { broker, closeAll } = testBrokers();

afterEach(async () => {
  await closeAll();
  await deleteQueues(amqpUrl(), queues.splice(0));
});

const range = (prefix: string, from: number, to: number): string[] =>
  Array.from({ length: to - from }, (_, i) => `${prefix}-${from + i}`);

describe("Broker.consume(stream, { offset: 'last' })", () => {
  it('starts at the last chunk written, then reads every new message once', async () => {
    const b = broker();
    const s = uniqueName('ck_stream_last');
    queues.push(s);
    await b.declare({ queues: [{ name: s, type: 'stream' }] });
    // One at a time, each confirmed before the next: every message is a chunk of its own.
    for (const id of range('old', 0, 20)) await b.sendToQueue(s, { id }, { messageId: id });

    const tally = new DeliveryTally();
    const offsets: number[] = [];
    const reader = b.consume(
      s,
      async (msg) => {
        tally.add(msg.properties.messageId);
        offsets.push(msg.offset!);
      },
      { offset: 'last', prefetch: 10 },
    );
    await reader.ready;
    await until(
      () => tally.count('old-19') === 1,
      10_000,
      "the last message written before the 'last' reader",
    );
    for (const id of range('new', 0, 20)) await b.sendToQueue(s, { id }, { messageId: id });
    await until(() => tally.missing(range('new', 0, 20)).length === 0, 10_000, 'the 20 new messages');

    expect(range('old', 0, 10).filter((id) => tally.count(id) > 0)).toEqual([]);
    expect(tally.duplicates).toBe(0);
    expect(offsets.every((o, i) => i === 0 || o > offsets[i - 1]!)).toBe(true);
    await reader.close();
  });
});
