/**
 * The `connkit:amqp:publish` and `connkit:amqp:process` TracingChannels on the real broker, with a
 * subscriber and without OpenTelemetry: one publish until its confirm, one delivery through its
 * handler until it is settled, with names, sizes and outcomes — never a body.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { recordChannel, type ChannelEvent } from '../../support/channels.js';
import { Broker, UnroutableError, type BrokerOptions } from '../../../adapters/amqp/index.js';
import { rejectionOf, until } from '../../support/async.js';
import { deleteQueues } from '../../support/amqp.js';
import { uniqueName } from '../../support/names.js';
import { amqpUrl } from '../../support/services.js';

const queues: string[] = [];
const cleanups: (() => Promise<void> | void)[] = [];

afterEach(async () => {
  for (const fn of cleanups.splice(0).reverse()) await fn();
  await deleteQueues(amqpUrl(), queues.splice(0));
});

/** Every event of `name` (the context copied as it was then) until the test ends. */
function record(name: string): ChannelEvent[] {
  const { events, stop } = recordChannel(name);
  cleanups.push(stop);
  return events;
}

function broker(opts: Partial<BrokerOptions> = {}): Broker {
  const b = new Broker({ url: amqpUrl(), clientName: uniqueName('connkit_dc'), ...opts });
  b.on('error', () => undefined);
  cleanups.push(() => b.close({ timeout: 2000 }));
  return b;
}

describe('connkit:amqp:publish', () => {
  it('one publish until its confirm: start, end, asyncStart, asyncEnd; error on a failed one; no body', async () => {
    const q = uniqueName('dc_q');
    queues.push(q);
    const b = broker({ topology: { queues: [{ name: q }] } });
    await b.connect();
    const events = record('connkit:amqp:publish');
    await b.sendToQueue(q, 'body-secret-0815', { messageId: 'm-1' });
    expect(events.map(([e]) => e)).toEqual(['start', 'end', 'asyncStart', 'asyncEnd']);
    expect(events[0]?.[1]).toEqual({
      exchange: '',
      routingKey: q,
      messageId: 'm-1',
      bodySize: 16,
      persistent: true,
      mandatory: true,
    });
    expect(JSON.stringify(events)).not.toContain('body-secret');
    events.length = 0;
    const nowhere = uniqueName('nowhere');
    expect(await rejectionOf(b.publish('', nowhere, 'x', { persistent: false }))).toBeInstanceOf(
      UnroutableError,
    );
    expect(events.map(([e]) => e)).toEqual(['start', 'end', 'error', 'asyncStart', 'asyncEnd']);
    expect(events[2]?.[1]).toMatchObject({ routingKey: nowhere, persistent: false });
    expect(events[2]?.[1]['error']).toBeInstanceOf(UnroutableError);
  });
});

describe('connkit:amqp:process', () => {
  it('one delivery through its handler, with its outcome; the handler’s error on a failed one', async () => {
    const q = uniqueName('dc_q');
    queues.push(q, `${q}.dead`);
    const b = broker({ topology: { queues: [{ name: q }] } });
    const events = record('connkit:amqp:process');
    const consumer = b.consume<string>(
      q,
      async (msg) => {
        if (msg.body === 'bad') throw new Error('handler failed');
      },
      { deadLetter: `${q}.dead` },
    );
    await consumer.ready;
    await b.sendToQueue(q, 'good', { messageId: 'm-good' });
    await until(() => events.some(([e]) => e === 'asyncEnd'), 10_000, 'the first delivery processed');
    expect(events.map(([e]) => e)).toEqual(['start', 'end', 'asyncStart', 'asyncEnd']);
    expect(events[3]?.[1]).toEqual({
      queue: q,
      exchange: '',
      routingKey: q,
      messageId: 'm-good',
      bodySize: 4,
      attempt: 1,
      redelivered: false,
      outcome: 'ack',
    });
    events.length = 0;
    await b.sendToQueue(q, 'bad');
    await until(() => events.some(([e]) => e === 'asyncEnd'), 10_000, 'the second delivery processed');
    expect(events.map(([e]) => e)).toEqual(['start', 'end', 'error', 'asyncStart', 'asyncEnd']);
    expect(events[4]?.[1]).toMatchObject({ outcome: 'dead-letter', error: new Error('handler failed') });
  });
});
