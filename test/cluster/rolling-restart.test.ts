/**
 * Issue 17.5 — a rolling restart: each of the three nodes is stopped gracefully and started again,
 * one after the other, while a producer Broker publishes confirmed messages to a quorum queue and
 * a consumer Broker acks them. No confirmed message is lost. Prints `[cluster] rolling-restart {…}`
 * with the duplicates and the worst gap between two confirms (RELIABILITY.md quotes it).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Broker } from '../../adapters/amqp/index.js';
import { until } from '../support/async.js';
import { deleteQueues } from '../support/amqp.js';
import { ConfirmedLoad, DeliveryTally } from '../support/cluster-load.js';
import { uniqueName } from '../support/names.js';
import { clusterSkipReason, rabbitCluster, type RabbitCluster } from '../support/rabbit-cluster.js';

describe.skipIf(clusterSkipReason({ control: true }))('Broker on a 3-node cluster: rolling restart', () => {
  let cluster: RabbitCluster;
  const queue = uniqueName('ck_rolling');

  beforeAll(async () => {
    cluster = rabbitCluster();
    await cluster.ensureAllRunning();
  });

  afterAll(async () => {
    if (cluster === undefined) return;
    await cluster.ensureAllRunning();
    await deleteQueues(cluster.urls[0]!, [queue]);
  });

  it(
    'Broker: every node stopped and started in turn under a steady publish/consume load — 0 confirmed messages lost',
    { timeout: 300_000 },
    async () => {
      const urls = cluster.urls;
      const common = {
        heartbeat: 2_000,
        reconnect: { initialDelay: 100, maxDelay: 1_000 },
        topology: { queues: [{ name: queue, type: 'quorum' as const }] },
      };
      const producer = new Broker({ urls, clientName: `${queue}-p`, ...common });
      const consumerBroker = new Broker({
        urls: [urls[1]!, urls[2]!, urls[0]!],
        clientName: `${queue}-c`,
        ...common,
      });
      const deliveries = new DeliveryTally();
      const load = new ConfirmedLoad({
        publish: (id) => producer.sendToQueue(queue, { id }, { messageId: id }),
        idPrefix: queue,
        inFlight: 64,
        perSecond: 200,
      });
      try {
        await producer.connect();
        await consumerBroker.connect();
        const consumer = consumerBroker.consume(
          queue,
          async (msg) => deliveries.add(msg.properties.messageId),
          {
            concurrency: 8,
            prefetch: 64,
          },
        );
        await consumer.ready;
        load.start();
        await until(() => load.confirmed.size >= 500, 30_000, '500 confirms before the first restart');
        const began = Date.now();
        const restarts: { node: number; stopMs: number; startMs: number }[] = [];
        for (const node of [0, 1, 2]) {
          const t0 = Date.now();
          await cluster.stop(node);
          const t1 = Date.now();
          await cluster.start(node);
          restarts.push({ node, stopMs: t1 - t0, startMs: Date.now() - t1 });
          // Load and consumption go on before the next node goes.
          const confirmed = load.confirmed.size;
          const delivered = deliveries.total;
          await until(
            () => load.confirmed.size >= confirmed + 300 && deliveries.total >= delivered + 300,
            60_000,
            `progress after restarting node ${node}`,
          );
        }
        const ended = Date.now();
        await load.stop();
        expect(load.settled).toBe(load.started);
        await until(
          () => deliveries.missing(load.confirmed).length === 0,
          90_000,
          'every confirmed message delivered',
        );
        const figures = {
          confirmed: load.confirmed.size,
          failed: Object.fromEntries(load.failures),
          lost: deliveries.missing(load.confirmed).length,
          duplicates: deliveries.duplicates,
          worstGapMs: load.worstGap(began, ended),
          republished: producer.stats().publisher.republished,
          nackRetried: producer.stats().publisher.nackRetried,
          reconnects: { producer: producer.stats().reconnects, consumer: consumerBroker.stats().reconnects },
          restarts,
        };
        console.log(`[cluster] rolling-restart ${JSON.stringify(figures)}`);
        expect(figures.lost).toBe(0);
        expect(figures.failed).toEqual({});
        await consumer.close();
      } finally {
        await load.stop();
        await Promise.all([producer.close({ timeout: 5_000 }), consumerBroker.close({ timeout: 5_000 })]);
      }
    },
  );
});
