/**
 * Load: 10 000 concurrent callers on a pool of 10, and 10 000 confirmed publishes with 256 in
 * flight. Everything settles, nothing leaks (pool, server connections, broker channels, listeners),
 * and the heap after GC returns near its start.
 */
import { getEventListeners, setMaxListeners } from 'node:events';
import { afterAll, describe, expect, it } from 'vitest';
import { Semaphore } from '../../src/semaphore.js';
import { Database } from '../../adapters/postgres/index.js';
import { Broker } from '../../adapters/amqp/index.js';
import { deleteQueues, withAmqpChannel } from '../support/amqp.js';
import { FaultTally, settlesWithin } from '../support/fault-tally.js';
import { until } from '../support/async.js';
import { mib, settledHeap } from '../support/heap.js';
import { uniqueName } from '../support/names.js';
import { backendsOf } from '../support/pg.js';
import { clientCounts, canUseRabbitmqctl } from '../support/rabbit-admin.js';
import { amqpUrl, databaseUrl } from '../support/services.js';

const N = 10_000;
/** Retained heap allowed after a load (MiB). A leak of ≥ 840 bytes per operation would exceed it. */
const HEAP_BOUND = 8 * 1024 * 1024;

const queues: string[] = [];
afterAll(async () => {
  if (queues.length > 0) await deleteQueues(amqpUrl(), queues);
});

describe('Database.query() under load', () => {
  it('settles 10 000 concurrent callers on a pool of 10 and leaves nothing borrowed, pending or open', async () => {
    const applicationName = uniqueName('load_pg');
    const db = new Database({
      url: databaseUrl(),
      applicationName,
      pool: { max: 10, acquireTimeout: 120_000 },
    });
    try {
      // Warm-up: connections, prepared code paths, so the heap baseline is not the cold start.
      await Promise.all(Array.from({ length: 200 }, (_, i) => db.query('select $1::int as n', [i])));
      const before = await settledHeap();
      const signal = new AbortController().signal; // long-lived: no listener may stay on it
      // 5 000 calls share it at once; Node would warn of a "possible leak" past 10 listeners.
      setMaxListeners(N, signal);
      const tally = new FaultTally('load: 10 000 concurrent db.query, pool max 10');
      const started = performance.now();
      const results = await settlesWithin(
        Promise.all(
          Array.from({ length: N }, (_, i) =>
            tally.track(120_000, () =>
              db.one<{ n: number }>('select $1::int as n', [i], i % 2 === 0 ? { signal } : undefined),
            ),
          ),
        ),
        180_000,
        '10 000 queries',
      );
      const elapsed = performance.now() - started;
      expect(tally.failed).toBe(0);
      expect(results.every((r, i) => r.ok && r.value.n === i)).toBe(true);
      const stats = db.stats().pool;
      expect(stats.borrowed).toBe(0);
      expect(stats.pending).toBe(0);
      expect(stats.size).toBeLessThanOrEqual(10);
      expect(getEventListeners(signal, 'abort')).toHaveLength(0);
      // The server's view: exactly the pool's and the pipeline's connections, no more.
      const backends = await backendsOf(databaseUrl(), applicationName);
      expect(backends.length).toBe(db.stats().pool.size + db.stats().pipeline.connections);
      results.length = 0;
      const after = await settledHeap();
      tally.extra['elapsedMs'] = Math.round(elapsed);
      tally.extra['poolAfter'] = db.stats().pool;
      tally.extra['serverConnections'] = backends.length;
      tally.extra['heapBefore'] = mib(before);
      tally.extra['heapAfter'] = mib(after);
      tally.report();
      expect(after - before).toBeLessThan(HEAP_BOUND);
    } finally {
      await db.close();
    }
    expect(await backendsOf(databaseUrl(), applicationName)).toHaveLength(0);
  });
});

describe('Broker.publish() under load', () => {
  it('confirms 10 000 publishes with 256 in flight and returns to its resting channels', async () => {
    const q = uniqueName('load_q');
    queues.push(q);
    const clientName = uniqueName('connkit_load');
    const broker = new Broker({
      url: amqpUrl(),
      clientName,
      topology: { queues: [{ name: q, options: { durable: true } }] },
    });
    broker.on('error', () => undefined);
    try {
      await broker.connect();
      await Promise.all(Array.from({ length: 200 }, (_, i) => broker.sendToQueue(q, { i: -i })));
      const resting = (await canUseRabbitmqctl()) ? await clientCounts(clientName) : undefined;
      const before = await settledHeap();
      const tally = new FaultTally('load: 10 000 publishes, 256 in flight');
      const window = new Semaphore(256);
      let maxInFlight = 0;
      let inFlight = 0;
      const started = performance.now();
      const outcomes = await settlesWithin(
        Promise.all(
          Array.from({ length: N }, (_, i) =>
            window.use(() =>
              tally.track(30_000, async () => {
                maxInFlight = Math.max(maxInFlight, ++inFlight);
                try {
                  await broker.sendToQueue(q, { i }, { messageId: `${q}-${i}` });
                } finally {
                  inFlight--;
                }
              }),
            ),
          ),
        ),
        120_000,
        '10 000 publishes',
      );
      const elapsed = performance.now() - started;
      expect(outcomes.filter((o) => !o.ok)).toEqual([]);
      expect(maxInFlight).toBe(256);
      const pub = broker.stats().publisher;
      expect(pub.pending).toBe(0);
      expect(pub.queued).toBe(0);
      // Every confirmed message is in the queue.
      const depth = await withAmqpChannel(amqpUrl(), async (ch) => (await ch.checkQueue(q)).messageCount);
      expect(depth).toBe(N + 200);
      outcomes.length = 0;
      const after = await settledHeap();
      tally.extra['elapsedMs'] = Math.round(elapsed);
      tally.extra['messagesInQueue'] = depth;
      tally.extra['heapBefore'] = mib(before);
      tally.extra['heapAfter'] = mib(after);
      if (resting) {
        // One connection; no more channels than before the load (publisher + pooled channels).
        const now = await clientCounts(clientName);
        tally.extra['channels'] = { resting: resting.channels, afterLoad: now.channels };
        expect(now.connections).toBe(1);
        // Idle pooled channels may have been retired meanwhile (idleTimeout), never added.
        expect(now.channels).toBeLessThanOrEqual(resting.channels);
        expect(now.channels).toBeGreaterThanOrEqual(1); // the publisher's confirm channel
      } else {
        console.log(
          '[faults] rabbitmqctl is not usable here: broker channel counts not checked (publisher stats only)',
        );
      }
      tally.report();
      expect(after - before).toBeLessThan(HEAP_BOUND);
    } finally {
      await broker.close();
    }
    if (await canUseRabbitmqctl())
      await until(
        async () => (await clientCounts(clientName)).connections === 0,
        30_000,
        'connection closed',
      );
  });
});
