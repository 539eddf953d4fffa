/**
 * A consumer is subscribed once, whatever order the reconnect and its own re-subscribe come in.
 * A lost channel schedules a re-subscribe after a backoff (50–100 ms first); a connection that comes
 * back sooner restarts every consumer at once. The pending re-subscribe must then stand down: before
 * the fix it opened a second channel with a second consumer beside the first — an extra consumer on a
 * queue, that nobody cancels, and a stream read twice (the cluster test of a SIGKILLed node saw 289
 * offsets handled twice).
 */
import { afterEach, describe, expect, it } from 'vitest';
import { Broker } from '../../../adapters/amqp/index.js';
import { deleteQueues, withAmqpChannel } from '../../support/amqp.js';
import { until } from '../../support/async.js';
import { DeliveryTally } from '../../support/cluster-load.js';
import { uniqueName } from '../../support/names.js';
import { ChaosProxy } from '../../support/proxy.js';
import { amqpUrl } from '../../support/services.js';

const queues: string[] = [];
const cleanups: (() => Promise<void>)[] = [];

afterEach(async () => {
  for (const fn of cleanups.splice(0).reverse()) await fn();
  await deleteQueues(amqpUrl(), queues.splice(0));
});

/** A broker behind a proxy that reconnects within a few ms — sooner than a consumer's own retry. */
async function quicklyReconnecting() {
  const proxy = await ChaosProxy.forUrl(amqpUrl(), 5672);
  // When each consumer re-subscribe that was scheduled comes due (the consumer logs its delay).
  let retriesDueAt = 0;
  const log = (details: Record<string, unknown>, message: string): void => {
    if (/re-subscribes later/.test(message) && typeof details.delayMs === 'number') {
      retriesDueAt = Math.max(retriesDueAt, Date.now() + details.delayMs);
    }
  };
  const broker = new Broker({
    url: proxy.rewrite(amqpUrl()),
    clientName: uniqueName('connkit_resub'),
    reconnect: { initialDelay: 1, maxDelay: 5 },
    logger: { debug: log, info: () => undefined, warn: () => undefined },
  });
  broker.on('error', () => undefined);
  cleanups.push(async () => {
    await broker.close({ timeout: 2000 });
    await proxy.close();
  });
  /** Cuts the connection, waits until the consumer is back, then until its own retry has come due. */
  const cut = async (consumer: { stats(): { consuming: boolean } }): Promise<void> => {
    const reconnects = broker.stats().reconnects;
    expect(proxy.cutAll()).toBe(1);
    await until(
      () => broker.stats().reconnects > reconnects && proxy.connections === 1 && consumer.stats().consuming,
      15_000,
      'the consumer back on a new connection',
    );
    // The re-subscribe a lost channel scheduled is a timer of the consumer's own: once it is due (and
    // its turn of the event loop has passed), whatever it was going to do is done.
    await until(() => retriesDueAt > 0 && Date.now() > retriesDueAt + 100, 15_000, 'the scheduled retry due');
    retriesDueAt = 0;
  };
  return { broker, cut };
}

const consumersOn = (queue: string): Promise<number> =>
  withAmqpChannel(amqpUrl(), async (ch) => (await ch.checkQueue(queue)).consumerCount);

const ids = (prefix: string, n: number): string[] => Array.from({ length: n }, (_, i) => `${prefix}-${i}`);

describe('Consumer re-subscribe after a quick reconnect', () => {
  it('leaves exactly one consumer on the queue, cut after cut', async () => {
    const q = uniqueName('q_resub');
    queues.push(q);
    const { broker, cut } = await quicklyReconnecting();
    await broker.declare({ queues: [{ name: q }] });
    const seen: number[] = [];
    const consumer = broker.consume<number>(q, async (msg) => void seen.push(msg.body));
    await consumer.ready;
    for (let round = 0; round < 5; round++) {
      await cut(consumer);
      expect(await consumersOn(q)).toBe(1);
      await broker.sendToQueue(q, round);
      await until(() => seen.includes(round), 15_000, `message ${round} consumed`);
    }
    await consumer.close();
    expect(await consumersOn(q)).toBe(0); // nothing left consuming once the consumer is closed
  });

  it('reads a stream on from where its handlers got to, each offset once', async () => {
    const s = uniqueName('ck_stream_resub');
    queues.push(s);
    const { broker, cut } = await quicklyReconnecting();
    await broker.declare({ queues: [{ name: s, type: 'stream' }] });
    const tally = new DeliveryTally();
    const byOffset = new DeliveryTally();
    const consumer = broker.consume(
      s,
      async (msg) => {
        tally.add(msg.properties.messageId);
        byOffset.add(msg.offset);
        await new Promise((resolve) => setImmediate(resolve)); // deliveries queue behind busy handlers
      },
      { offset: 'first', concurrency: 4, prefetch: 16 },
    );
    await consumer.ready;
    const all: string[] = [];
    for (let round = 0; round < 3; round++) {
      const batch = ids(`r${round}`, 200);
      all.push(...batch);
      // Confirmed before the cut: the writer never re-publishes, so an id read twice is the reader's.
      await Promise.all(batch.map((id) => broker.sendToQueue(s, { id }, { messageId: id })));
      await until(() => tally.missing(batch).length === 0, 15_000, `round ${round} read`);
      await cut(consumer); // (a stream's declare-ok counts no consumers: the offsets below tell)
    }
    const last = ids('after', 200);
    all.push(...last);
    await Promise.all(last.map((id) => broker.sendToQueue(s, { id }, { messageId: id })));
    await until(() => tally.missing(all).length === 0, 15_000, 'every message read');
    expect(byOffset.duplicates).toBe(0);
    expect(tally.duplicates).toBe(0);
    expect(tally.total).toBe(all.length);
  });
});
