/**
 * Outbox and inbox on the real PostgreSQL and RabbitMQ: a message is published if and only if its
 * transaction committed, and its effect is applied once however often it is delivered.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Broker, NonRetryableError } from '../../../adapters/amqp/index.js';
import { Inbox, Outbox } from '../../../adapters/outbox/index.js';
import { Database } from '../../../adapters/postgres/index.js';
import { sleep } from '../../../src/timeout.js';
import { deleteQueues, withAmqpChannel } from '../../support/amqp.js';
import { uniqueName } from '../../support/names.js';
import { backendsOf, createTestSchema } from '../../support/pg.js';
import { until } from '../../support/async.js';
import { ChaosProxy } from '../../support/proxy.js';
import { amqpUrl, databaseUrl } from '../../support/services.js';

let schema: { name: string; drop(): Promise<void> };
let db: Database;
const queues: string[] = [];
const brokers: Broker[] = [];

beforeAll(async () => {
  schema = await createTestSchema(databaseUrl());
  db = new Database({ url: databaseUrl(), applicationName: uniqueName('outbox') });
});

afterAll(async () => {
  await Promise.all(brokers.map((b) => b.close()));
  await db.close();
  await schema.drop();
  // the consumer's retry creates a delay queue per queue and delay
  await deleteQueues(amqpUrl(), [...queues, ...queues.map((q) => `${q}.connkit-delay.50ms`)]);
});

async function newBroker(url = amqpUrl()): Promise<Broker> {
  const broker = new Broker({
    url,
    clientName: uniqueName('outbox-test'),
    reconnect: { initialDelay: 50, maxDelay: 500 },
  });
  brokers.push(broker);
  await broker.connect();
  return broker;
}

async function newQueue(broker: Broker): Promise<string> {
  const queue = uniqueName('q');
  queues.push(queue);
  await broker.declare({ queues: [{ name: queue, options: { durable: true } }] });
  return queue;
}

/** Drains a queue with a raw amqplib channel: every message body (as JSON) currently in it. */
async function drain(queue: string, expected: number, ms = 10_000): Promise<unknown[]> {
  return withAmqpChannel(amqpUrl(), async (ch) => {
    const bodies: unknown[] = [];
    const deadline = Date.now() + ms;
    while (Date.now() < deadline) {
      const msg = await ch.get(queue, { noAck: true });
      if (msg) {
        bodies.push({ id: msg.properties.messageId, body: JSON.parse(msg.content.toString()) as unknown });
        continue;
      }
      if (bodies.length >= expected) {
        // a short grace period for anything extra (duplicates) still on its way
        await sleep(200);
        const extra = await ch.get(queue, { noAck: true });
        if (!extra) break;
        bodies.push({
          id: extra.properties.messageId,
          body: JSON.parse(extra.content.toString()) as unknown,
        });
        continue;
      }
      await sleep(50);
    }
    return bodies;
  });
}

async function untilDrained(outbox: Outbox, ms = 15_000): Promise<number> {
  const deadline = Date.now() + ms;
  for (;;) {
    const { n } = await db.one<{ n: number }>(`select count(*)::int as n from ${outbox.table}`);
    if (n === 0 || Date.now() > deadline) return n;
    await sleep(50);
  }
}

describe('Outbox', () => {
  it('install() is idempotent', async () => {
    const outbox = new Outbox(db, await newBroker(), { table: `${schema.name}.install_twice` });
    await Promise.all([outbox.install(), outbox.install()]);
    await outbox.install();
    const { n } = await db.one<{ n: number }>(`select count(*)::int as n from ${schema.name}.install_twice`);
    expect(n).toBe(0);
  });

  it('publishes a committed message exactly once and nothing for a rolled-back one', async () => {
    const broker = await newBroker();
    const queue = await newQueue(broker);
    const outbox = new Outbox(db, broker, { table: `${schema.name}.commit_rollback`, pollInterval: 100 });
    await outbox.install();
    const committedId = await db.transaction((tx) =>
      outbox.enqueue(tx, { exchange: '', routingKey: queue, body: { kind: 'committed' } }),
    );
    await expect(
      db.transaction(async (tx) => {
        await outbox.enqueue(tx, { exchange: '', routingKey: queue, body: { kind: 'rolled back' } });
        throw new Error('business rule failed');
      }),
    ).rejects.toThrow('business rule failed');
    const relay = outbox.start();
    try {
      expect(await untilDrained(outbox)).toBe(0);
      const got = await drain(queue, 1);
      expect(got).toEqual([{ id: committedId, body: { kind: 'committed' } }]);
      const stats = await relay.stats();
      expect(stats).toMatchObject({ pending: 0, published: 1, failed: 0, running: true });
    } finally {
      await relay.stop();
    }
    expect((await relay.stats()).running).toBe(false);
  });

  it('enqueue() gives a message without messageId a UUIDv7: time-ordered, later ids sorting after earlier ones', async () => {
    const outbox = new Outbox(db, await newBroker(), { table: `${schema.name}.uuid_v7` });
    await outbox.install();
    const before = Date.now();
    const ids = await db.transaction(async (tx) => {
      const out: string[] = [];
      for (let i = 0; i < 20; i++)
        out.push(await outbox.enqueue(tx, { exchange: '', routingKey: 'k', body: i }));
      return out;
    });
    for (const id of ids) {
      expect(id).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
      expect(parseInt(id.replaceAll('-', '').slice(0, 12), 16)).toBeGreaterThanOrEqual(before);
    }
    expect(ids).toEqual([...ids].sort());
    const stored = await db.rows<{ message_id: string }>(
      `select message_id from ${outbox.table} order by id`,
    );
    expect(stored.map((r) => r.message_id)).toEqual(ids);
  });

  it('wakes on NOTIFY instead of waiting for the poll interval', async () => {
    const broker = await newBroker();
    const queue = await newQueue(broker);
    const app = uniqueName('outbox_wake');
    await using relayDb = new Database({ url: databaseUrl(), applicationName: app });
    const outbox = new Outbox(relayDb, broker, { table: `${schema.name}.notify_wake`, pollInterval: 60_000 });
    await outbox.install();
    const relay = outbox.start();
    try {
      // Enqueue once the relay LISTENs (a 300 ms sleep could end, on a busy machine, before the
      // LISTEN was sent: the NOTIFY would be lost and the row wait for the 60 s poll).
      await until(
        async () => (await backendsOf(databaseUrl(), app)).some((b) => /^LISTEN /i.test(b.query)),
        20_000,
        'the relay to listen',
      );
      await db.transaction((tx) => outbox.enqueue(tx, { exchange: '', routingKey: queue, body: { n: 1 } }));
      // 20 s: a hang guard for a busy machine, still a third of the 60 s poll interval.
      expect(await untilDrained(outbox, 20_000)).toBe(0);
    } finally {
      await relay.stop();
    }
  });

  it('keeps rows while the broker is unreachable and publishes them all when it returns', async () => {
    const proxy = await ChaosProxy.forUrl(amqpUrl(), 5672);
    try {
      const broker = await newBroker(proxy.rewrite(amqpUrl()));
      const queue = await newQueue(broker);
      const outbox = new Outbox(db, broker, {
        table: `${schema.name}.broker_down`,
        pollInterval: 100,
        publishTimeout: 500,
      });
      await outbox.install();
      proxy.refuse(true);
      proxy.cutAll();
      const relay = outbox.start();
      try {
        const ids: string[] = [];
        for (let i = 0; i < 50; i++) {
          ids.push(
            await db.transaction((tx) =>
              outbox.enqueue(tx, { exchange: '', routingKey: queue, body: { i } }),
            ),
          );
        }
        await sleep(1000);
        const stalled = await relay.stats();
        expect(stalled.pending).toBe(50);
        proxy.refuse(false);
        expect(await untilDrained(outbox, 30_000)).toBe(0);
        const got = (await drain(queue, 50)) as { id: string }[];
        expect(new Set(got.map((m) => m.id))).toEqual(new Set(ids));
      } finally {
        await relay.stop();
      }
    } finally {
      await proxy.close();
    }
  });

  it('two relays in parallel publish everything, without loss', async () => {
    const broker = await newBroker();
    const queue = await newQueue(broker);
    const table = `${schema.name}.two_relays`;
    const a = new Outbox(db, broker, { table, batchSize: 10, pollInterval: 50 });
    const b = new Outbox(db, await newBroker(), { table, batchSize: 10, pollInterval: 50 });
    await a.install();
    const ids = await Promise.all(
      Array.from({ length: 300 }, (_, i) =>
        db.transaction((tx) => a.enqueue(tx, { exchange: '', routingKey: queue, body: { i } })),
      ),
    );
    const [ra, rb] = [a.start(), b.start()];
    try {
      expect(await untilDrained(a, 30_000)).toBe(0);
    } finally {
      await Promise.all([ra.stop(), rb.stop()]);
    }
    const [sa, sb] = [await ra.stats(), await rb.stats()];
    expect(sa.published + sb.published).toBe(300);
    const got = (await drain(queue, 300)) as { id: string }[];
    expect(new Set(got.map((m) => m.id))).toEqual(new Set(ids));
    expect(got.length).toBe(300); // SKIP LOCKED: no row went out twice in the normal case
  });
});

describe('Outbox relay (overlapping batches)', () => {
  async function filled(table: string, rows: number, batchSize: number) {
    const relayApp = uniqueName('relay');
    const relayDb = new Database({ url: databaseUrl(), applicationName: relayApp, pool: { max: 6 } });
    const broker = await newBroker();
    const queue = await newQueue(broker);
    const outbox = new Outbox(relayDb, broker, {
      table: `${schema.name}.${table}`,
      batchSize,
      pollInterval: 50,
    });
    await outbox.install();
    await relayDb.transaction(async (tx) => {
      for (let i = 0; i < rows; i++)
        await outbox.enqueue(tx, { exchange: '', routingKey: queue, body: { i } });
    });
    return { relayApp, relayDb, queue, outbox };
  }

  it('overlaps batches (more than one batch transaction open) and still publishes in id order', async () => {
    const { relayDb, queue, outbox } = await filled('overlap', 400, 20);
    let peak = 0;
    const sampler = setInterval(() => (peak = Math.max(peak, relayDb.stats().pool.borrowed)), 0);
    const relay = outbox.start();
    try {
      expect(await untilDrained(outbox)).toBe(0);
    } finally {
      clearInterval(sampler);
      await relay.stop();
      await relayDb.close();
    }
    const got = (await drain(queue, 400)) as { body: { i: number } }[];
    expect(got.map((m) => m.body.i)).toEqual(Array.from({ length: 400 }, (_, i) => i));
    expect(peak).toBeGreaterThanOrEqual(2); // the next batch was read while one awaited its confirms
    expect(peak).toBeLessThanOrEqual(3); // at most three batch transactions at once
  });

  it('a publish that fails in an open batch stops the overlap, backs off, and loses nothing else', async () => {
    const { relayDb, queue, outbox } = await filled('failing', 200, 20);
    // Row 30 (second batch) goes to an exchange that does not exist: the broker closes the channel.
    await relayDb.query(`update ${outbox.table} set exchange = 'connkit-no-such-exchange' where id = (
      select id from ${outbox.table} order by id offset 29 limit 1)`);
    const relay = outbox.start();
    try {
      const deadline = Date.now() + 30_000; // a hang guard for a busy machine
      while ((await relay.stats()).published < 199 && Date.now() < deadline) await sleep(20);
    } finally {
      await relay.stop();
    }
    const stats = await relay.stats();
    expect(stats).toMatchObject({ published: 199, pending: 1 });
    expect(stats.failed).toBeGreaterThanOrEqual(1);
    expect(stats.lastError).toBeInstanceOf(Error);
    expect(stats.lastError?.message).toMatch(/no-such-exchange/);
    expect(stats.lastError).toMatchObject({ code: 'CHANNEL_ERROR' });
    const left = await relayDb.one<{ attempts: number; last_error: string }>(
      `select attempts, last_error from ${outbox.table}`,
    );
    expect(left.attempts).toBeGreaterThanOrEqual(1);
    const got = (await drain(queue, 199)) as { body: { i: number } }[];
    expect(got.length).toBeLessThan(199 + 3 * 20); // duplicates only from the batches in flight
    const expected = Array.from({ length: 200 }, (_, i) => i).filter((i) => i !== 29);
    // The channel error also cost the confirms of the neighbours in flight, which the broker
    // re-publishes (same messageId): at least once, exactly what the Inbox deduplicates.
    expect([...new Set(got.map((m) => m.body.i))].sort((a, b) => a - b)).toEqual(expected);
    await relayDb.close();
  });

  it('stop() in the middle of a drain finishes the open batches: every published row is deleted, none is left locked', async () => {
    const { relayApp, relayDb, queue, outbox } = await filled('stop_mid', 2_000, 50);
    const relay = outbox.start();
    try {
      const deadline = Date.now() + 30_000; // a hang guard for a busy machine
      while ((await relay.stats()).published < 200 && Date.now() < deadline) await sleep(5);
    } finally {
      await relay.stop();
    }
    const { published, pending } = await relay.stats();
    expect(published).toBeGreaterThanOrEqual(200);
    expect(published + pending).toBe(2_000); // no row lost, none deleted without its confirm
    expect((await backendsOf(databaseUrl(), relayApp)).filter((b) => b.state !== 'idle')).toEqual([]);
    const got = (await drain(queue, published)) as { body: { i: number } }[];
    expect(got.length).toBe(published); // exactly what was deleted reached the queue, once
    expect(got.map((m) => m.body.i)).toEqual(Array.from({ length: published }, (_, i) => i));
    await relayDb.close();
  });
});

describe('Outbox argument checks', () => {
  it('enqueue() with a bad exchange, routing key, message or headers throws synchronously, writing nothing', async () => {
    const outbox = new Outbox(db, await newBroker(), { table: `${schema.name}.bad_enqueue` });
    await outbox.install();
    await db.transaction(async (tx) => {
      const bad: [string, () => unknown, typeof TypeError, RegExp][] = [
        [
          'exchange',
          () => outbox.enqueue(tx, { exchange: 1 as never, routingKey: 'k', body: 1 }),
          TypeError,
          /exchange.*1/,
        ],
        [
          'routingKey',
          () => outbox.enqueue(tx, { exchange: '', routingKey: null as never, body: 1 }),
          TypeError,
          /routingKey.*null/,
        ],
        ['message', () => outbox.enqueue(tx, 'msg' as never), TypeError, /message.*"msg"/],
        [
          'body',
          () => outbox.enqueue(tx, { exchange: '', routingKey: 'k', body: undefined }),
          TypeError,
          /body/,
        ],
        [
          'headers',
          () => outbox.enqueue(tx, { exchange: '', routingKey: 'k', body: 1, headers: 'h' as never }),
          TypeError,
          /headers.*"h"/,
        ],
        [
          'messageId',
          () => outbox.enqueue(tx, { exchange: '', routingKey: 'k', body: 1, messageId: 7 as never }),
          TypeError,
          /messageId.*7/,
        ],
      ];
      for (const [name, call, cls, message] of bad) {
        expect(call, name).toThrow(cls);
        expect(call, name).toThrow(message);
      }
    });
    const { n } = await db.one<{ n: number }>(`select count(*)::int as n from ${outbox.table}`);
    expect(n).toBe(0);
  });

  it('a relay failure goes to the logger and stats().lastError keeps the Error itself', async () => {
    const broker = await newBroker();
    const warnings: { details: Record<string, unknown>; message: string }[] = [];
    const logger = {
      warn: (details: Record<string, unknown>, message: string) => void warnings.push({ details, message }),
    };
    const outbox = new Outbox(db, broker, {
      table: `${schema.name}.relay_logged`,
      pollInterval: 100,
      logger,
    });
    await outbox.install();
    await db.transaction((tx) =>
      outbox.enqueue(tx, { exchange: 'connkit-no-such-exchange-2', routingKey: 'k', body: 1 }),
    );
    const relay = outbox.start();
    try {
      const deadline = Date.now() + 10_000;
      while (warnings.length === 0 && Date.now() < deadline) await sleep(20);
    } finally {
      await relay.stop();
    }
    const stats = await relay.stats();
    expect(stats.lastError).toBeInstanceOf(Error);
    expect(warnings[0]?.message).toMatch(/relay/);
    expect(warnings[0]?.details.err).toBeInstanceOf(Error);
    expect((warnings[0]?.details.err as Error).message).toMatch(/no-such-exchange-2/);
  });
});

describe('Inbox', () => {
  it('applies a redelivered message once and acknowledges the duplicate', async () => {
    const broker = await newBroker();
    const queue = await newQueue(broker);
    const inbox = new Inbox(db, { table: `${schema.name}.inbox_dupes` });
    await inbox.install();
    await db.query(`create table ${schema.name}.effects (message_id text, n int)`);
    const consumer = broker.consume<{ n: number }>(
      queue,
      inbox.handler(async (msg, tx) => {
        await tx.query(`insert into ${schema.name}.effects values ($1, $2)`, [
          msg.properties.messageId,
          msg.body.n,
        ]);
      }),
      { concurrency: 4 },
    );
    await consumer.ready;
    try {
      // the broker delivers at least once: simulate with the same message id three times
      for (let i = 0; i < 3; i++) await broker.sendToQueue(queue, { n: 7 }, { messageId: 'order-7' });
      await broker.sendToQueue(queue, { n: 8 }, { messageId: 'order-8' });
      const deadline = Date.now() + 10_000;
      while (inbox.stats().applied + inbox.stats().duplicates < 4 && Date.now() < deadline) await sleep(50);
      expect(inbox.stats()).toEqual({ applied: 2, duplicates: 2, failed: 0 });
      const rows = await db.rows<{ message_id: string; n: number }>(
        `select message_id, n from ${schema.name}.effects order by message_id`,
      );
      expect(rows).toEqual([
        { message_id: 'order-7', n: 7 },
        { message_id: 'order-8', n: 8 },
      ]);
    } finally {
      await consumer.close();
    }
  });

  it('rolls back the effect and the id when the handler fails, so a retry applies it', async () => {
    const broker = await newBroker();
    const queue = await newQueue(broker);
    const inbox = new Inbox(db, { table: `${schema.name}.inbox_retry` });
    await inbox.install();
    await db.query(`create table ${schema.name}.retry_effects (message_id text)`);
    let calls = 0;
    const consumer = broker.consume(
      queue,
      inbox.handler(async (msg, tx) => {
        await tx.query(`insert into ${schema.name}.retry_effects values ($1)`, [msg.properties.messageId]);
        calls += 1;
        if (calls === 1) throw new Error('transient');
      }),
      { retry: { attempts: 3, delay: 50 } },
    );
    await consumer.ready;
    try {
      await broker.sendToQueue(queue, 'x', { messageId: 'once' });
      const deadline = Date.now() + 10_000;
      while (inbox.stats().applied < 1 && Date.now() < deadline) await sleep(50);
      expect(calls).toBe(2);
      expect(inbox.stats()).toEqual({ applied: 1, duplicates: 0, failed: 1 });
      const { n } = await db.one<{ n: number }>(
        `select count(*)::int as n from ${schema.name}.retry_effects`,
      );
      expect(n).toBe(1);
    } finally {
      await consumer.close();
    }
  });

  it('fails a message without an id with a clear reason unless idOf is given', async () => {
    const inbox = new Inbox(db, { table: `${schema.name}.inbox_noid` });
    await inbox.install();
    const handler = inbox.handler(async () => undefined);
    const msg = {
      body: {},
      properties: { headers: {} },
      fields: { routingKey: 'orders', deliveryTag: 1, redelivered: false, exchange: '' },
      queue: 'orders',
      attempt: 1,
    } as never;
    await expect(handler(msg, new AbortController().signal)).rejects.toMatchObject({
      code: 'MISSING_MESSAGE_ID',
      message: expect.stringMatching(/without an id/),
    });
    await expect(handler(msg, new AbortController().signal)).rejects.toBeInstanceOf(NonRetryableError);
    const keyed = new Inbox(db, { table: `${schema.name}.inbox_noid`, idOf: () => 'business-key-1' });
    await keyed.handler(async () => undefined)(msg, new AbortController().signal);
    expect(keyed.stats().applied).toBe(1);
  });

  it('handler(fn) throws TypeError synchronously when fn is not a function', () => {
    const inbox = new Inbox(db, { table: `${schema.name}.inbox_badfn` });
    expect(() => inbox.handler('nope' as never)).toThrow(TypeError);
    expect(() => inbox.handler('nope' as never)).toThrow(/fn.*"nope"/);
  });

  it('a foreign message without message_id is dead-lettered at once (MissingMessageIdError is non-retryable); its effect never runs', async () => {
    const broker = await newBroker();
    const queue = await newQueue(broker);
    const dead = await newQueue(broker);
    const inbox = new Inbox(db, { table: `${schema.name}.inbox_foreign` });
    await inbox.install();
    let applied = 0;
    const consumer = broker.consume(
      queue,
      inbox.handler(async () => {
        applied += 1;
      }),
      { retry: { attempts: 3, delay: 50 }, deadLetter: dead },
    );
    await consumer.ready;
    try {
      // A publisher that sends no message_id (raw amqplib, as many foreign clients do).
      await withAmqpChannel(amqpUrl(), async (ch) => {
        ch.sendToQueue(queue, Buffer.from('{"order":1}'), { contentType: 'application/json' });
        await ch.checkQueue(queue);
      });
      const got = await withAmqpChannel(amqpUrl(), async (ch) => {
        const deadline = Date.now() + 15_000;
        while (Date.now() < deadline) {
          const msg = await ch.get(dead, { noAck: true });
          if (msg) return msg;
          await sleep(25);
        }
        return undefined;
      });
      expect(got).toBeDefined();
      expect(got?.properties.messageId).toBeUndefined();
      expect(got?.properties.headers?.['x-connkit-error-name']).toBe('MissingMessageIdError');
      expect(got?.properties.headers?.['x-connkit-attempt']).toBeUndefined(); // never retried
      expect(applied).toBe(0);
      expect(inbox.stats()).toMatchObject({ applied: 0, failed: 1 });
      expect(consumer.stats()).toMatchObject({ retried: 0, deadLettered: 1 });
    } finally {
      await consumer.close();
    }
  });
});
