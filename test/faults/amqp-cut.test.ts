import { afterEach, describe, expect, it } from 'vitest';
import { Broker } from '../../adapters/amqp/index.js';
import { deleteQueues } from '../support/amqp.js';
import { uniqueName } from '../support/names.js';
import { ChaosProxy } from '../support/proxy.js';
import { connectionPids, rabbitmqctl } from '../support/rabbit-admin.js';
import { amqpUrl } from '../support/services.js';
import { flush, until } from '../support/async.js';

const cleanups: (() => Promise<void>)[] = [];

afterEach(async () => {
  for (const fn of cleanups.splice(0).reverse()) await fn();
});

describe('Broker under connection cuts', () => {
  it('settles every publish, delivers every confirmed message and resumes consuming', async () => {
    const N = 5000;
    const q = uniqueName('fault');
    const clientName = uniqueName('connkit_f_fault');
    const proxy = await ChaosProxy.forUrl(amqpUrl(), 5672);
    const broker = new Broker({
      url: proxy.rewrite(amqpUrl()),
      clientName,
      reconnect: { initialDelay: 50, maxDelay: 500 },
      publishTimeout: 60_000,
      topology: { queues: [{ name: q, options: { durable: true } }] },
    });
    const errors: Error[] = [];
    broker.on('error', (e: Error) => errors.push(e));
    cleanups.push(async () => {
      await broker.close({ timeout: 5000 });
      await proxy.close();
      await deleteQueues(amqpUrl(), [q]);
    });
    await broker.connect();

    const deliveries = new Map<number, number>();
    let total = 0;
    const consumer = broker.consume<{ i: number }>(
      q,
      async (msg) => {
        total++;
        deliveries.set(msg.body.i, (deliveries.get(msg.body.i) ?? 0) + 1);
        if (total % 7 === 0) await flush();
      },
      { concurrency: 8, prefetch: 64 },
    );
    await consumer.ready;

    // the broker-side connection id, found by our connection name, for a broker-side close later
    const [pid] = await connectionPids(clientName);
    expect(pid).toBeDefined();

    // a paced stream: 256 in flight, so the faults land mid-stream
    let confirmed = 0;
    let cuts = 0;
    const outcomes: Promise<unknown>[] = [];
    const inFlight = new Set<Promise<unknown>>();
    const producer = (async () => {
      for (let i = 0; i < N; i++) {
        if (inFlight.size >= 256) await Promise.race(inFlight);
        if (i % 50 === 0) await new Promise((r) => setTimeout(r, 20));
        const p = broker.sendToQueue(q, { i }, { messageId: `m-${i}` }).then(
          () => {
            confirmed++;
            return true;
          },
          (err: unknown) => err,
        );
        inFlight.add(p);
        void p.then(() => inFlight.delete(p));
        outcomes.push(p);
        // Cut right after a write, with up to 256 messages in flight — once the broker is connected
        // through the proxy: the broker-side close below lands whenever rabbitmqctl gets to it
        // (1–3 s, longer on a busy machine), and a cut made while the broker is still reconnecting
        // from it would find nothing to cut.
        if (i === 2500 || i === 4000) {
          await until(
            () => broker.stats().connected && proxy.connections === 1,
            30_000,
            'the broker connected through the proxy',
          );
          cuts += proxy.cutAll();
        }
      }
    })();

    await until(() => confirmed >= 500, 60_000);
    await rabbitmqctl('close_connection', pid!, 'connkit fault test');
    await producer;
    expect(cuts).toBe(2);

    const settled = await Promise.all(outcomes);
    const failures = settled.filter((o) => o !== true);
    expect(failures).toEqual([]);

    // every confirmed message is delivered at least once
    await until(() => deliveries.size === N, 60_000);
    const duplicates = total - deliveries.size;
    console.log(
      `[amqp fault] ${N} publishes, ${broker.stats().reconnects} reconnects, ` +
        `${broker.stats().publisher.republished} re-published, ${cuts} proxy cuts + 1 broker-side close, ${total} deliveries, ${duplicates} duplicates`,
    );
    // the broker-side close may land on a connection a proxy cut already replaced
    await until(() => broker.stats().reconnects >= 2, 60_000);
    expect(errors.length).toBeGreaterThan(0); // the cuts were reported, not thrown
    // no delivery of a dead channel was acked on a new one (that closes the channel with 406)
    expect(errors.filter((e) => /unknown delivery tag|PRECONDITION/i.test(e.message))).toEqual([]);

    // the consumer resumed by itself
    await broker.sendToQueue(q, { i: N });
    await until(() => deliveries.has(N), 60_000);
    expect(consumer.stats().consuming).toBe(true);
  }, 120_000);
});
