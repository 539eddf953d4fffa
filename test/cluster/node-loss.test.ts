/**
 * Issue 17.1 — node loss under load: a producer Broker publishes confirmed messages (64 in flight)
 * to a quorum queue replicated on all three nodes while a consumer Broker on another node acks
 * them; the producer's node is SIGKILLed, later the consumer's, then another node is stopped
 * gracefully. Every publish settles, every confirmed message is delivered (counted by id), each
 * Broker reconnects to the next node in its `urls` (never dialling the dead one first) and the
 * consumer resumes by itself. Prints `[cluster] node-loss {…}`: the gap each fault caused, the
 * duplicates, the re-publishes (RELIABILITY.md quotes it).
 */
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { Broker } from '../../adapters/amqp/index.js';
import { until } from '../support/async.js';
import { deleteQueues } from '../support/amqp.js';
import { ConfirmedLoad, DeliveryTally, portOf, RecordingLogger } from '../support/cluster-load.js';
import { uniqueName } from '../support/names.js';
import { clusterSkipReason, rabbitCluster, type RabbitCluster } from '../support/rabbit-cluster.js';

/** A node's SIGKILL resets its sockets: the next confirm should follow within this (target 2 s). */
const KILL_GAP_BOUND = 5_000;

describe.skipIf(clusterSkipReason({ control: true }))(
  'Broker on a 3-node cluster: node loss under load',
  () => {
    let cluster: RabbitCluster;
    const queue = uniqueName('ck_nodeloss');
    const queues = [queue];

    beforeAll(async () => {
      cluster = rabbitCluster();
      await cluster.ensureAllRunning();
    });

    beforeEach(() => cluster.ensureAllRunning());

    afterAll(async () => {
      if (cluster === undefined) return;
      await cluster.ensureAllRunning();
      await deleteQueues(cluster.urls[0]!, queues);
    });

    it(
      'Broker: SIGKILL of the producer node, then of the consumer node, then a graceful stop — every confirmed message delivered, reconnects go to the next URL',
      { timeout: 240_000 },
      async () => {
        const urls = cluster.urls;
        const topology = { queues: [{ name: queue, type: 'quorum' as const }] };
        const producerLog = new RecordingLogger();
        const consumerLog = new RecordingLogger();
        const options = { heartbeat: 2_000, reconnect: { initialDelay: 100, maxDelay: 1_000 }, topology };
        // The producer declares the queue on node 1: its leader starts there.
        const producer = new Broker({
          urls,
          clientName: `${queue}-producer`,
          logger: producerLog,
          ...options,
        });
        const consumerUrls = [urls[1]!, urls[2]!, urls[0]!];
        const consumerBroker = new Broker({
          urls: consumerUrls,
          clientName: `${queue}-consumer`,
          logger: consumerLog,
          ...options,
        });
        const deliveries = new DeliveryTally();
        const load = new ConfirmedLoad({
          publish: (id) => producer.sendToQueue(queue, { id }, { messageId: id }),
          idPrefix: queue,
          inFlight: 64,
          perSecond: 300,
        });
        const nodeOf = (broker: Broker, list: string[]): number =>
          list.findIndex((u) => portOf(u) === portOf(broker.stats().url));
        const report: Record<string, unknown>[] = [];
        try {
          await producer.connect();
          await consumerBroker.connect();
          const consumer = consumerBroker.consume(
            queue,
            async (msg) => deliveries.add(msg.properties.messageId),
            { concurrency: 8, prefetch: 64 },
          );
          await consumer.ready;
          expect(nodeOf(producer, urls)).toBe(0);
          expect(nodeOf(consumerBroker, urls)).toBe(1);
          load.start();
          await until(() => load.confirmed.size >= 1_000, 30_000, '1000 confirms before the first fault');

          /**
           * Injects `fault` on node `node` and waits until both Brokers are on their next URL and the
           * load and the consumer made progress; records the gap; restarts the node.
           */
          const survive = async (what: string, node: number, fault: () => Promise<void>): Promise<void> => {
            const producerAt = nodeOf(producer, urls);
            const consumerAt = nodeOf(consumerBroker, consumerUrls);
            const producerMoves = producerAt === node;
            const consumerMoves = urls.indexOf(consumerUrls[consumerAt]!) === node;
            const t = Date.now();
            const deliveredBefore = deliveries.total;
            await fault();
            if (producerMoves) {
              await until(
                () => producer.stats().connected && nodeOf(producer, urls) !== node,
                30_000,
                `${what}: producer reconnected`,
              );
              // The next URL in its list — and it was dialled first, not the dead node.
              expect(nodeOf(producer, urls)).toBe((producerAt + 1) % 3);
              expect(producerLog.dialledAfter(t)[0]).toBe(producer.stats().url);
            }
            if (consumerMoves) {
              await until(
                () => consumerBroker.stats().connected && nodeOf(consumerBroker, consumerUrls) !== consumerAt,
                30_000,
                `${what}: consumer reconnected`,
              );
              expect(nodeOf(consumerBroker, consumerUrls)).toBe((consumerAt + 1) % 3);
              expect(consumerLog.dialledAfter(t)[0]).toBe(consumerBroker.stats().url);
            }
            await until(() => load.confirmedSince(t) >= 500, 60_000, `${what}: 500 confirms after the fault`);
            // The consumer resumed by itself: deliveries go on.
            await until(
              () => consumer.stats().consuming && deliveries.total >= deliveredBefore + 500,
              60_000,
              `${what}: deliveries after the fault`,
            );
            const recovered = Date.now();
            report.push({
              fault: what,
              firstConfirmMs: load.firstConfirmAfter(t),
              worstGapMs: load.worstGap(t, recovered),
            });
            await cluster.start(node);
          };

          await survive('SIGKILL producer node', nodeOf(producer, urls), () =>
            cluster.kill(nodeOf(producer, urls)),
          );
          await survive(
            'SIGKILL consumer node',
            urls.indexOf(consumerUrls[nodeOf(consumerBroker, consumerUrls)]!),
            () => cluster.kill(urls.indexOf(consumerUrls[nodeOf(consumerBroker, consumerUrls)]!)),
          );
          await survive('graceful stop of the producer node', nodeOf(producer, urls), () =>
            cluster.stop(nodeOf(producer, urls)),
          );

          await until(() => load.confirmed.size >= 5_000, 60_000, '5000 confirmed publishes');
          await load.stop();
          // Every publish settled, none failed (a nack after the leader's death was retried, not final).
          expect(load.settled).toBe(load.started);
          expect(Object.fromEntries(load.failures)).toEqual({});
          expect(producer.stats().publisher.pending).toBe(0);
          await until(
            () => deliveries.missing(load.confirmed).length === 0,
            60_000,
            'every confirmed message delivered',
          );

          const figures = {
            confirmed: load.confirmed.size,
            failed: load.failed,
            lost: deliveries.missing(load.confirmed).length,
            delivered: deliveries.total,
            duplicates: deliveries.duplicates,
            republished: producer.stats().publisher.republished,
            nackRetried: producer.stats().publisher.nackRetried,
            reconnects: {
              producer: producer.stats().reconnects,
              consumer: consumerBroker.stats().reconnects,
            },
            faults: report,
          };
          console.log(`[cluster] node-loss ${JSON.stringify(figures)}`);
          for (const r of report.filter((x) => String(x['fault']).startsWith('SIGKILL'))) {
            expect(r['worstGapMs'], String(r['fault'])).toBeLessThan(KILL_GAP_BOUND);
          }
          await consumer.close();
        } finally {
          await load.stop();
          await Promise.all([producer.close({ timeout: 5_000 }), consumerBroker.close({ timeout: 5_000 })]);
        }
      },
    );

    it(
      "Broker with nackRetry off: after a SIGKILL of the queue leader's node every publish still settles and nothing confirmed is lost (prints what the RabbitMQ 3.10 nack fault costs without the retry)",
      { timeout: 180_000 },
      async () => {
        const urls = cluster.urls;
        const q = `${queue}_noretry`;
        queues.push(q);
        const topology = { queues: [{ name: q, type: 'quorum' as const }] };
        const common = { reconnect: { initialDelay: 100, maxDelay: 1_000 }, topology };
        const producer = new Broker({ urls, clientName: `${q}-p`, nackRetry: { attempts: 0 }, ...common });
        const consumerBroker = new Broker({
          urls: [urls[1]!, urls[2]!, urls[0]!],
          clientName: `${q}-c`,
          ...common,
        });
        const deliveries = new DeliveryTally();
        const load = new ConfirmedLoad({
          publish: (id) => producer.sendToQueue(q, { id }, { messageId: id }),
          idPrefix: q,
          inFlight: 64,
          perSecond: 300,
        });
        try {
          await producer.connect();
          await consumerBroker.connect();
          const consumer = consumerBroker.consume(
            q,
            async (msg) => deliveries.add(msg.properties.messageId),
            {
              concurrency: 8,
              prefetch: 64,
            },
          );
          await consumer.ready;
          load.start();
          await until(() => load.confirmed.size >= 500, 30_000, '500 confirms before the kill');
          const t = Date.now();
          await cluster.kill(0);
          // Ten seconds of publishing after the kill, or 500 confirms, whichever comes first.
          await until(
            () => load.confirmedSince(t) >= 500 || Date.now() - t > 10_000,
            20_000,
            'publishing after the kill',
          );
          const afterKill = { confirmed: load.confirmedSince(t), settled: load.settled };
          await load.stop();
          expect(load.settled).toBe(load.started);
          await until(
            () => deliveries.missing(load.confirmed).length === 0,
            60_000,
            'every confirmed message delivered',
          );
          console.log(
            `[cluster] node-loss nackRetry off ${JSON.stringify({
              confirmedAfterKill: afterKill.confirmed,
              failed: Object.fromEntries(load.failures),
              lost: deliveries.missing(load.confirmed).length,
            })}`,
          );
          await consumer.close();
        } finally {
          await load.stop();
          await Promise.all([producer.close({ timeout: 5_000 }), consumerBroker.close({ timeout: 5_000 })]);
          await cluster.start(0);
        }
      },
    );
  },
);
