/**
 * Issue 17.2 — a silent partition: the node a producer Broker is connected to is SIGSTOPped for
 * longer than two heartbeats (its sockets stay open, nothing arrives), then SIGCONTed. The Broker
 * notices the silence within about one heartbeat interval, reconnects to the next URL (not the
 * silent one, which would hold it for `connectTimeout`), and nothing confirmed is lost. Then the
 * same with the quorum queue's leader on the silent node: the broker itself stalls the queue until
 * Raft elects another leader. Prints `[cluster] silent-node {…}` (RELIABILITY.md quotes it).
 */
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { Broker } from '../../adapters/amqp/index.js';
import { until } from '../support/async.js';
import { deleteQueues, withAmqpChannel } from '../support/amqp.js';
import { ConfirmedLoad, DeliveryTally, portOf, RecordingLogger } from '../support/cluster-load.js';
import { uniqueName } from '../support/names.js';
import { clusterSkipReason, rabbitCluster, type RabbitCluster } from '../support/rabbit-cluster.js';

const HEARTBEAT = 2_000;
/** How long the node stays paused at most when publishing does not resume by itself. */
const PAUSE_MS = 10_000;

describe.skipIf(clusterSkipReason({ control: true }))(
  'Broker on a 3-node cluster: a node gone silent',
  () => {
    let cluster: RabbitCluster;
    const queues: string[] = [];

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

    /**
     * A quorum queue led by node `leader`, a producer Broker on node `silent` (urls in node order
     * from there) and a consumer Broker on the remaining node; pauses `silent` under load until the
     * producer confirms again on the next node, resumes it; checks nothing was lost.
     */
    async function silence(silent: number, leader: number): Promise<Record<string, unknown>> {
      const urls = cluster.urls;
      const queue = uniqueName('ck_silent');
      queues.push(queue);
      // Declared through the leader's node: a quorum queue's leader starts on the declaring node.
      await withAmqpChannel(urls[leader]!, (ch) =>
        ch.assertQueue(queue, { durable: true, arguments: { 'x-queue-type': 'quorum' } }),
      );
      const order = (first: number): string[] => [0, 1, 2].map((k) => urls[(first + k) % 3]!);
      const other = [0, 1, 2].find((i) => i !== silent && i !== leader) ?? (silent + 2) % 3;
      const topology = { queues: [{ name: queue, type: 'quorum' as const }] };
      const log = new RecordingLogger();
      const common = { heartbeat: HEARTBEAT, reconnect: { initialDelay: 100, maxDelay: 1_000 }, topology };
      const producer = new Broker({ urls: order(silent), clientName: `${queue}-p`, logger: log, ...common });
      const consumerBroker = new Broker({ urls: order(other), clientName: `${queue}-c`, ...common });
      const deliveries = new DeliveryTally();
      const load = new ConfirmedLoad({
        publish: (id) => producer.sendToQueue(queue, { id }, { messageId: id }),
        idPrefix: queue,
        inFlight: 64,
        perSecond: 300,
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
        expect(portOf(producer.stats().url)).toBe(portOf(urls[silent]));
        load.start();
        await until(() => load.confirmed.size >= 600, 30_000, '600 confirms before the pause');

        const t = Date.now();
        await cluster.pause(silent);
        const next = urls[(silent + 1) % 3]!;
        await until(
          () => producer.stats().connected && portOf(producer.stats().url) === portOf(next),
          60_000,
          'the producer on the next node',
        );
        const lostLine = log
          .after(t)
          .find((l) => l.message === 'connkit/amqp: connection lost, reconnecting');
        const detectedMs = (lostLine?.at ?? NaN) - t;
        // The silent node was not dialled first: it would have held the Broker for connectTimeout.
        expect(log.dialledAfter(t)[0]).toBe(producer.stats().url);
        // Resumed once publishing flows again on the next node — or, when the queue's leader is the
        // silent node, after PAUSE_MS: under load the other nodes may not elect a new leader before
        // Erlang's net_ticktime (60 s) calls the node down — in any case after two heartbeats.
        await until(
          () =>
            (load.confirmedSince(t) >= 500 || Date.now() - t > PAUSE_MS) &&
            Date.now() - t > 2 * HEARTBEAT + 500,
          PAUSE_MS + 10_000,
          'publishing to flow again, or the pause to last its time',
        );
        cluster.resume(silent);
        await until(() => load.confirmedSince(t) >= 500, 60_000, '500 confirms after the pause');
        const recovered = Date.now();

        await until(() => load.confirmed.size >= 2_000, 60_000, '2000 confirms');
        await load.stop();
        expect(load.settled).toBe(load.started);
        await until(
          () => deliveries.missing(load.confirmed).length === 0,
          90_000,
          'every confirmed message delivered',
        );
        // Caught by connkit's silence watch (amqplib's own check would say 'Heartbeat timeout', later).
        expect(String(lostLine?.details['reason'])).toMatch(/sent nothing for \d+ ms/);
        await consumer.close();
        return {
          detectedMs,
          firstConfirmMs: load.firstConfirmAfter(t),
          worstGapMs: load.worstGap(t, recovered),
          confirmed: load.confirmed.size,
          failed: Object.fromEntries(load.failures),
          lost: deliveries.missing(load.confirmed).length,
          duplicates: deliveries.duplicates,
          republished: producer.stats().publisher.republished,
          nackRetried: producer.stats().publisher.nackRetried,
        };
      } finally {
        await load.stop();
        await Promise.all([producer.close({ timeout: 5_000 }), consumerBroker.close({ timeout: 5_000 })]);
      }
    }

    it(
      'Broker: SIGSTOP of its node (the queue led elsewhere) is caught by heartbeat and fails over to the next URL within 2 heartbeats, nothing lost',
      { timeout: 180_000 },
      async () => {
        const figures = await silence(0, 1);
        console.log(
          `[cluster] silent-node ${JSON.stringify({ heartbeatMs: HEARTBEAT, leader: 'elsewhere', ...figures })}`,
        );
        // Target: ≤ heartbeat × 2 from the pause to the next confirm (detection + reconnect).
        expect(figures['worstGapMs']).toBeLessThanOrEqual(2 * HEARTBEAT + 1_000);
        expect(figures['failed']).toEqual({});
      },
    );

    it(
      'Broker: SIGSTOP of its node when it also leads the quorum queue — the queue stalls on the broker side until the node is back or another leads; the Broker fails over by heartbeat and loses nothing',
      { timeout: 180_000 },
      async () => {
        const figures = await silence(1, 1);
        console.log(
          `[cluster] silent-node ${JSON.stringify({ heartbeatMs: HEARTBEAT, leader: 'on the silent node', ...figures })}`,
        );
        expect(figures['lost']).toBe(0);
      },
    );
  },
);
