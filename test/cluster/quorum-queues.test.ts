/**
 * Issue 17.3 — quorum queues: `type` and `deliveryLimit` in the topology reach the broker
 * (`x-queue-type`, `x-delivery-limit`, read back with `rabbitmqctl list_queues`), a consumer's retry
 * and dead-letter queues for a quorum queue are quorum queues too, and a message waiting out its
 * retry delay survives the loss of the node its delay queue was led from.
 */
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { Broker, type Message } from '../../adapters/amqp/index.js';
import { until } from '../support/async.js';
import { deleteQueues, withAmqpChannel } from '../support/amqp.js';
import { portOf } from '../support/cluster-load.js';
import { uniqueName } from '../support/names.js';
import {
  clusterSkipReason,
  rabbitCluster,
  type RabbitCluster,
  type QueueRow,
} from '../support/rabbit-cluster.js';

/** `list_queues arguments` as JSON: `[[name, type, value], …]` → `{ name: value }`. */
function argumentsOf(r: QueueRow): Record<string, unknown> {
  const table = (r['arguments'] ?? []) as [string, string, unknown][];
  return Object.fromEntries(table.map(([name, , value]) => [name, value]));
}

describe.skipIf(clusterSkipReason({ control: true }))('Broker on a 3-node cluster: quorum queues', () => {
  let cluster: RabbitCluster;
  const queues: string[] = [];
  const brokers: Broker[] = [];

  beforeAll(async () => {
    cluster = rabbitCluster();
    await cluster.ensureAllRunning();
  });

  beforeEach(() => cluster.ensureAllRunning());

  afterAll(async () => {
    await Promise.all(brokers.map((b) => b.close({ timeout: 5_000 })));
    if (cluster === undefined) return;
    await cluster.ensureAllRunning();
    await deleteQueues(cluster.urls[0]!, queues);
  });

  function broker(urls: string[], name: string): Broker {
    const b = new Broker({
      urls,
      clientName: name,
      heartbeat: 2_000,
      reconnect: { initialDelay: 100, maxDelay: 1_000 },
    });
    brokers.push(b);
    return b;
  }

  function fresh(prefix: string): string {
    const name = uniqueName(prefix);
    queues.push(name);
    return name;
  }

  /** `name`'s row as node `node` lists it, polled until present (a quorum queue without a leader is left out). */
  async function row(name: string, node = 0): Promise<QueueRow> {
    let found: QueueRow | undefined;
    await until(
      async () => {
        const rows = await cluster.queues({
          node,
          columns: ['name', 'type', 'members', 'leader', 'arguments'],
        });
        found = rows.find((r) => r.name === name);
        return found !== undefined;
      },
      30_000,
      `queue ${name} listed`,
    );
    return found!;
  }

  it("declare(): type 'quorum' and 'stream' reach the broker as x-queue-type, replicated on all three nodes", async () => {
    const b = broker(cluster.urls, 'ck-qq-declare');
    const qq = fresh('ck_qq');
    const stream = fresh('ck_stream');
    await b.declare({
      queues: [
        { name: qq, type: 'quorum' },
        { name: stream, type: 'stream' },
      ],
    });
    const q1 = await row(qq);
    expect(q1.type).toBe('quorum');
    expect([...q1.members].sort()).toEqual([...cluster.nodes].sort());
    const s1 = await row(stream);
    expect(s1.type).toBe('stream');
    expect([...s1.members].sort()).toEqual([...cluster.nodes].sort());
  });

  it('declare(): refused quorum arguments throw before anything is declared', async () => {
    const b = broker(cluster.urls, 'ck-qq-refused');
    const qq = fresh('ck_qq_refused');
    expect(() => b.declare({ queues: [{ name: qq, type: 'quorum', options: { maxPriority: 5 } }] })).toThrow(
      /cannot take argument 'x-max-priority'/,
    );
    expect(() => b.declare({ queues: [{ name: qq, deliveryLimit: 3 }] })).toThrow(
      /deliveryLimit .* needs type 'quorum'/,
    );
    const rows = await cluster.queues({ columns: ['name'] });
    expect(rows.map((r) => r.name)).not.toContain(qq);
  });

  it('deliveryLimit dead-letters a poison message after that many redeliveries', async () => {
    const b = broker(cluster.urls, 'ck-qq-limit');
    const qq = fresh('ck_qq_limit');
    const dlq = fresh('ck_qq_limit_dead');
    await b.declare({
      queues: [
        { name: dlq, type: 'quorum' },
        {
          name: qq,
          type: 'quorum',
          deliveryLimit: 2,
          options: { deadLetterExchange: '', deadLetterRoutingKey: dlq },
        },
      ],
    });
    expect(argumentsOf(await row(qq))).toMatchObject({ 'x-delivery-limit': 2 });
    await b.sendToQueue(qq, { poison: true }, { messageId: 'poison-1' });
    // A consumer that crashes on the message: it goes back to the queue, again and again.
    const counts: unknown[] = [];
    await withAmqpChannel(cluster.urls[1]!, async (ch) => {
      await ch.prefetch(1);
      await ch.consume(qq, (m) => {
        if (m === null) return;
        counts.push(m.properties.headers?.['x-delivery-count'] ?? 0);
        ch.nack(m, false, true);
      });
      const dead: Message[] = [];
      const watcher = b.consume(dlq, async (msg) => void dead.push(msg));
      await until(() => dead.length === 1, 30_000, 'the poison message in the dead-letter queue');
      await watcher.close();
      expect(dead[0]!.properties.messageId).toBe('poison-1');
      const death = (dead[0]!.properties.headers?.['x-death'] as { reason: string }[] | undefined)?.[0];
      expect(death?.reason).toBe('delivery_limit');
    });
    // Delivered once, then redelivered twice (x-delivery-count 1, 2): the limit held.
    expect(counts).toEqual([0, 1, 2]);
  });

  it("consume(): a quorum queue's retry and dead-letter queues are quorum queues; a retried message comes back and a spent one is dead-lettered", async () => {
    const b = broker(cluster.urls, 'ck-qq-retry');
    const qq = fresh('ck_qq_retry');
    const dead = fresh('ck_qq_retry_dead');
    queues.push(`${qq}.connkit-delay.200ms`, `${qq}.connkit-delay.400ms`);
    await b.declare({ queues: [{ name: qq, type: 'quorum' }] });
    const attempts = new Map<string, number[]>();
    const consumer = b.consume(
      qq,
      async (msg) => {
        const id = String(msg.properties.messageId);
        attempts.set(id, [...(attempts.get(id) ?? []), msg.attempt]);
        if (id === 'always-fails' || msg.attempt < 3) throw new Error(`attempt ${msg.attempt} fails`);
      },
      { retry: { attempts: 3, delay: [200, 400] }, deadLetter: dead },
    );
    await consumer.ready;
    for (const name of [`${qq}.connkit-delay.200ms`, `${qq}.connkit-delay.400ms`, dead]) {
      expect((await row(name)).type, name).toBe('quorum');
    }
    expect(argumentsOf(await row(`${qq}.connkit-delay.200ms`))).toMatchObject({
      'x-dead-letter-strategy': 'at-least-once',
    });
    await b.sendToQueue(qq, 'third time lucky', { messageId: 'succeeds-3rd' });
    await b.sendToQueue(qq, 'never', { messageId: 'always-fails' });
    await until(
      () => consumer.stats().deadLettered === 1 && (attempts.get('succeeds-3rd')?.length ?? 0) === 3,
      30_000,
      'retries done',
    );
    expect(attempts.get('succeeds-3rd')).toEqual([1, 2, 3]);
    expect(attempts.get('always-fails')).toEqual([1, 2, 3]);
    const spent: Message[] = [];
    const watcher = b.consume(dead, async (msg) => void spent.push(msg));
    await until(() => spent.length === 1, 10_000, 'the spent message in the dead-letter queue');
    expect(spent[0]!.properties.messageId).toBe('always-fails');
    await watcher.close();
    await consumer.close();
  });

  it(
    'consume(): a message waiting in a quorum delay queue survives the loss of the node the delay queue was led from',
    { timeout: 180_000 },
    async () => {
      const urls = cluster.urls;
      const qq = fresh('ck_qq_delay');
      const delayQueue = `${qq}.connkit-delay.6000ms`;
      queues.push(delayQueue);
      // Consumer on node 1: its delay queue is declared (and led) there.
      const b = broker(urls, 'ck-qq-delay');
      await b.declare({ queues: [{ name: qq, type: 'quorum' }] });
      const seen: { attempt: number; at: number }[] = [];
      const consumer = b.consume(
        qq,
        async (msg) => {
          seen.push({ attempt: msg.attempt, at: Date.now() });
          if (msg.attempt === 1) throw new Error('retry me later');
        },
        { retry: { attempts: 2, delay: 6_000 } },
      );
      await consumer.ready;
      await b.sendToQueue(qq, 'wait for me', { messageId: 'delayed-1' });
      await until(() => consumer.stats().retried === 1, 10_000, 'the message in the delay queue');
      const delayRow = await row(delayQueue);
      // A classic delay queue lives on one node only, and goes with it.
      expect(delayRow.type).toBe('quorum');
      const node = cluster.nodes.indexOf(delayRow.leader);
      expect(node).toBeGreaterThanOrEqual(0);
      // The node holding the waiting message goes (a classic delay queue would take it along).
      await cluster.kill(node);
      try {
        await until(() => seen.length === 2, 60_000, 'the retried message back from the delay queue');
        expect(seen[1]!.attempt).toBe(2);
        expect(seen[1]!.at - seen[0]!.at).toBeGreaterThanOrEqual(5_000);
        expect(cluster.beamPid(node)).toBeUndefined();
        expect(portOf(b.stats().url)).not.toBe(portOf(urls[node]));
        // Acked twice: once when relayed to the delay queue, once handled.
        expect(consumer.stats()).toMatchObject({ retried: 1, acked: 2 });
      } finally {
        await consumer.close();
        await cluster.start(node);
      }
    },
  );
});
