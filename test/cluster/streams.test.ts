/**
 * Issue 17.4 — streams: `type: 'stream'` declares one; `consume(stream, handler, { offset })` reads
 * it from 'first', 'next', a number or a Date, with `msg.offset` on every message; a consumer that
 * restarts at a stored offset reads every later message exactly once; a consumer whose node dies
 * goes on from where its handler got to (no gap, no duplicate); a failing handler never nacks
 * (a nack on a stream closes the whole connection).
 */
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { Broker, type Message } from '../../adapters/amqp/index.js';
import { until } from '../support/async.js';
import { deleteQueues } from '../support/amqp.js';
import { DeliveryTally, portOf } from '../support/cluster-load.js';
import { uniqueName } from '../support/names.js';
import { clusterSkipReason, rabbitCluster, type RabbitCluster } from '../support/rabbit-cluster.js';

describe.skipIf(clusterSkipReason({ control: true }))('Broker on a 3-node cluster: streams', () => {
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

  /** A fresh stream declared through `b`. */
  async function stream(b: Broker, prefix: string): Promise<string> {
    const name = uniqueName(prefix);
    queues.push(name);
    await b.declare({ queues: [{ name, type: 'stream' }] });
    return name;
  }

  async function publish(b: Broker, s: string, ids: string[]): Promise<void> {
    await Promise.all(ids.map((id) => b.sendToQueue(s, { id }, { messageId: id })));
  }

  const range = (prefix: string, from: number, to: number): string[] =>
    Array.from({ length: to - from }, (_, i) => `${prefix}-${from + i}`);

  it("consume(stream, { offset: 'first' }) reads every message in order with msg.offset; a restart at a stored offset reads every later one exactly once", async () => {
    const b = broker(cluster.urls, 'ck-stream-offsets');
    const s = await stream(b, 'ck_stream');
    // One at a time: offsets follow publish order.
    for (const id of range('m', 0, 50)) await b.sendToQueue(s, { id }, { messageId: id });

    const first: Message[] = [];
    const reader = b.consume(s, async (msg) => void first.push(msg), { offset: 'first', prefetch: 10 });
    await until(() => first.length === 50, 20_000, 'all 50 from the first offset');
    expect(first.map((m) => String(m.properties.messageId))).toEqual(range('m', 0, 50));
    const offsets = first.map((m) => m.offset!);
    expect(offsets.every((o, i) => i === 0 || o > offsets[i - 1]!)).toBe(true);
    await reader.close();

    // The app stored the offset of message 29; it restarts there + 1 after 30 more were written.
    const stored = first[29]!.offset!;
    await publish(b, s, range('m', 50, 80));
    const tally = new DeliveryTally();
    const again = b.consume(s, async (msg) => tally.add(msg.properties.messageId), {
      offset: stored + 1,
      concurrency: 4,
    });
    await until(() => tally.distinct === 50, 20_000, 'messages 30..79');
    expect(tally.missing(range('m', 30, 80))).toEqual([]);
    expect(tally.count('m-29')).toBe(0);
    expect(tally.duplicates).toBe(0);
    await again.close();
  });

  it("consume(stream, { offset: 'next' | Date }) starts at new messages / at the given time", async () => {
    const b = broker(cluster.urls, 'ck-stream-next');
    const s = await stream(b, 'ck_stream_next');
    await publish(b, s, range('old', 0, 20));
    const fromNext = new DeliveryTally();
    const next = b.consume(s, async (msg) => fromNext.add(msg.properties.messageId), { offset: 'next' });
    await next.ready;
    // The broker's time resolution for offsets is the second: start in a second of its own.
    const second = Math.ceil(Date.now() / 1000) * 1000;
    await until(() => Date.now() >= second + 50, 2_000, 'the next second');
    const since = new Date(second);
    await publish(b, s, range('new', 0, 20));
    await until(() => fromNext.distinct === 20, 20_000, "the 20 new messages via 'next'");
    expect(fromNext.missing(range('new', 0, 20))).toEqual([]);
    expect(fromNext.count('old-19')).toBe(0);

    const fromDate = new DeliveryTally();
    const dated = b.consume(s, async (msg) => fromDate.add(msg.properties.messageId), { offset: since });
    await until(() => fromDate.distinct === 20, 20_000, 'the 20 messages written since the date');
    expect(fromDate.missing(range('new', 0, 20))).toEqual([]);
    expect(range('old', 0, 20).filter((id) => fromDate.count(id) > 0)).toEqual([]);
    await Promise.all([next.close(), dated.close()]);
  });

  it('a failing handler on a stream never nacks: the connection stays up, the offset moves on, deadLetter gets the message', async () => {
    const b = broker(cluster.urls, 'ck-stream-fail');
    const s = await stream(b, 'ck_stream_fail');
    const dead = uniqueName('ck_stream_dead');
    queues.push(dead);
    await publish(b, s, range('f', 0, 10));
    const handled: string[] = [];
    const consumer = b.consume(
      s,
      async (msg) => {
        if (msg.properties.messageId === 'f-3') throw new Error('cannot handle f-3');
        handled.push(String(msg.properties.messageId));
      },
      { offset: 'first', deadLetter: dead },
    );
    await until(() => handled.length === 9, 20_000, 'the other nine handled');
    expect(consumer.stats()).toMatchObject({ deadLettered: 1, rejected: 0 });
    expect(b.stats().reconnects).toBe(0);
    const spent: Message[] = [];
    const watcher = b.consume(dead, async (msg) => void spent.push(msg));
    await until(() => spent.length === 1, 10_000, 'f-3 in the dead-letter queue');
    expect(spent[0]!.properties.messageId).toBe('f-3');
    expect(spent[0]!.properties.headers?.['x-connkit-error']).toBe('cannot handle f-3');

    // Without deadLetter: reported, skipped — still no nack, no reconnect.
    const errors: unknown[] = [];
    b.on('error', (err) => errors.push(err));
    const skipped: string[] = [];
    const plain = b.consume(
      s,
      async (msg) => {
        if (msg.properties.messageId === 'f-5') throw new Error('cannot handle f-5');
        skipped.push(String(msg.properties.messageId));
      },
      { offset: 'first' },
    );
    await until(() => skipped.length === 9, 20_000, 'the other nine handled by the plain consumer');
    expect(plain.stats().rejected).toBe(1);
    expect(errors.length).toBeGreaterThanOrEqual(1);
    expect(b.stats().reconnects).toBe(0);
    await Promise.all([consumer.close(), watcher.close(), plain.close()]);
  });

  it(
    'a stream consumer whose node is SIGKILLed goes on from where its handler got to: every message exactly once',
    { timeout: 180_000 },
    async () => {
      const urls = cluster.urls;
      const writer = broker([urls[0]!, urls[1]!, urls[2]!], 'ck-stream-writer');
      const s = await stream(writer, 'ck_stream_kill');
      const reader = broker([urls[1]!, urls[2]!, urls[0]!], 'ck-stream-reader');
      await reader.connect();
      expect(portOf(reader.stats().url)).toBe(portOf(urls[1]));
      const tally = new DeliveryTally();
      // The consumer's promise is per offset: no offset handled twice, none skipped. A message id can
      // stand at two offsets when the writer re-published a publish whose confirm the kill cut off
      // (publishing is at-least-once) — that is the writer's duplicate, not the reader's.
      const byOffset = new DeliveryTally();
      const consumer = reader.consume(
        s,
        async (msg) => {
          tally.add(msg.properties.messageId);
          byOffset.add(msg.offset);
        },
        { offset: 'first', concurrency: 4, prefetch: 16 },
      );
      await consumer.ready;
      let written = 0;
      const writing = (async () => {
        while (written < 3_000) {
          const ids = range('k', written, written + 50);
          await publish(writer, s, ids);
          written += 50;
        }
      })();
      await until(() => tally.distinct >= 600, 30_000, '600 read before the kill');
      await cluster.kill(1);
      try {
        await until(
          () => reader.stats().connected && portOf(reader.stats().url) === portOf(urls[2]),
          30_000,
          'the reader on the next node',
        );
        await writing;
        await until(() => tally.distinct === 3_000, 60_000, 'all 3000 read');
        expect(tally.missing(range('k', 0, 3_000))).toEqual([]);
        expect(byOffset.duplicates).toBe(0); // no offset handled twice
        expect(byOffset.distinct).toBe(tally.total); // every delivery its own offset
        console.log(
          `[cluster] stream reader across a SIGKILL: ${byOffset.distinct} offsets read once each; ` +
            `${tally.duplicates} ids written twice by the writer's re-publishes`,
        );
        expect(consumer.stats().restarts + reader.stats().reconnects).toBeGreaterThan(0);
      } finally {
        await consumer.close();
        await cluster.start(1);
      }
    },
  );
});
