/**
 * The Inbox on the real PostgreSQL and RabbitMQ: deduplication per consumer (fan-out), the
 * migration of tables keyed by message id alone, and retention (pruning in batches).
 */
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Broker } from '../../../adapters/amqp/index.js';
import { Inbox, type InboxHandler } from '../../../adapters/outbox/index.js';
import { Database } from '../../../adapters/postgres/index.js';
import { runProcess } from '../../../src/process.js';
import { deleteExchanges, deleteQueues } from '../../support/amqp.js';
import { until } from '../../support/async.js';
import { uniqueName } from '../../support/names.js';
import { createTestSchema } from '../../support/pg.js';
import { amqpUrl, databaseUrl } from '../../support/services.js';

const tsx = createRequire(import.meta.url).resolve('tsx/cli');
const exitFixture = fileURLToPath(new URL('./fixtures/pruning-exits.ts', import.meta.url));

let schema: { name: string; drop(): Promise<void> };
let db: Database;
const queues: string[] = [];
const exchanges: string[] = [];
const brokers: Broker[] = [];

beforeAll(async () => {
  schema = await createTestSchema(databaseUrl());
  db = new Database({ url: databaseUrl(), applicationName: uniqueName('inbox') });
});

afterAll(async () => {
  await Promise.all(brokers.map((b) => b.close()));
  await db.close();
  await schema.drop();
  await deleteQueues(amqpUrl(), queues);
  await deleteExchanges(amqpUrl(), exchanges);
});

async function newBroker(): Promise<Broker> {
  const broker = new Broker({ url: amqpUrl(), clientName: uniqueName('inbox-test') });
  broker.on('error', () => undefined);
  brokers.push(broker);
  await broker.connect();
  return broker;
}

async function newQueues(broker: Broker, n: number): Promise<string[]> {
  const names = Array.from({ length: n }, () => uniqueName('q'));
  queues.push(...names);
  await broker.declare({ queues: names.map((name) => ({ name, options: { durable: true } })) });
  return names;
}

/** A table of effects `(queue, message_id)` and a handler body that records one. */
async function effectsTable(name: string) {
  const table = `${schema.name}.${name}`;
  await db.query(`create table ${table} (queue text not null, message_id text not null)`);
  return {
    table,
    rows: () =>
      db.rows<{ queue: string; message_id: string }>(
        `select queue, message_id from ${table} order by queue, message_id`,
      ),
  };
}

describe('Inbox deduplication per consumer', () => {
  it('fan-out to three queues: each queue’s handler applies the message once; a redelivery to one is still a duplicate', async () => {
    const broker = await newBroker();
    const exchange = uniqueName('fan');
    exchanges.push(exchange);
    const qs = await newQueues(broker, 3);
    await broker.declare({
      exchanges: [{ name: exchange, type: 'fanout' }],
      bindings: qs.map((queue) => ({ queue, exchange, routingKey: '' })),
    });
    const inbox = new Inbox(db, { table: `${schema.name}.inbox_fanout` });
    await inbox.install();
    const effects = await effectsTable('fanout_effects');
    const consumers = qs.map((q) =>
      broker.consume(
        q,
        inbox.handler(async (msg, tx) => {
          await tx.query(`insert into ${effects.table} values ($1, $2)`, [
            msg.queue,
            msg.properties.messageId,
          ]);
        }),
      ),
    );
    try {
      await Promise.all(consumers.map((c) => c.ready));
      await broker.publish(exchange, 'order.created', { order: 1 }, { messageId: 'order-1' });
      await until(() => inbox.stats().applied + inbox.stats().duplicates === 3, 10_000, 'three deliveries');
      expect(inbox.stats()).toEqual({ applied: 3, duplicates: 0, failed: 0 });
      // The broker delivers at least once: the same message again, to the second queue only.
      await broker.sendToQueue(qs[1]!, { order: 1 }, { messageId: 'order-1' });
      await until(() => inbox.stats().duplicates === 1, 10_000, 'the redelivery');
      expect(inbox.stats()).toEqual({ applied: 3, duplicates: 1, failed: 0 });
      expect(await effects.rows()).toEqual([...qs].sort().map((queue) => ({ queue, message_id: 'order-1' })));
    } finally {
      await Promise.all(consumers.map((c) => c.close()));
    }
  });

  it('handler(fn, { consumer }) dedupes across the queues that share that consumer name', async () => {
    const broker = await newBroker();
    const [oldQueue, newQueue, other] = await newQueues(broker, 3);
    const inbox = new Inbox(db, { table: `${schema.name}.inbox_named` });
    await inbox.install();
    const effects = await effectsTable('named_effects');
    const record: InboxHandler<unknown> = async (msg, tx) => {
      await tx.query(`insert into ${effects.table} values ($1, $2)`, [msg.queue, msg.properties.messageId]);
    };
    // billing moved from oldQueue to newQueue: one logical consumer, two queues.
    const billing = inbox.handler(record, { consumer: 'billing' });
    const consumers = [
      broker.consume(oldQueue!, billing),
      broker.consume(newQueue!, billing),
      broker.consume(other!, inbox.handler(record)),
    ];
    try {
      await Promise.all(consumers.map((c) => c.ready));
      await broker.sendToQueue(oldQueue!, 1, { messageId: 'inv-9' });
      await until(() => inbox.stats().applied === 1, 10_000, 'the first delivery');
      await broker.sendToQueue(newQueue!, 1, { messageId: 'inv-9' });
      await broker.sendToQueue(other!, 1, { messageId: 'inv-9' });
      await until(() => inbox.stats().applied + inbox.stats().duplicates === 3, 10_000, 'three deliveries');
      expect(inbox.stats()).toEqual({ applied: 2, duplicates: 1, failed: 0 });
      expect(await effects.rows()).toEqual(
        [
          { queue: oldQueue!, message_id: 'inv-9' },
          { queue: other!, message_id: 'inv-9' },
        ].sort((a, b) => a.queue.localeCompare(b.queue)),
      );
      const keys = await db.rows<{ consumer: string }>(
        `select consumer from ${schema.name}.inbox_named order by consumer`,
      );
      expect(keys.map((k) => k.consumer)).toEqual(['billing', other!].sort());
    } finally {
      await Promise.all(consumers.map((c) => c.close()));
    }
  });

  it('handler(fn, { consumer }) throws synchronously for a consumer that is not a non-empty string', () => {
    const inbox = new Inbox(db, { table: `${schema.name}.inbox_badconsumer` });
    const fn = async (): Promise<void> => undefined;
    expect(() => inbox.handler(fn, { consumer: '' })).toThrow(TypeError);
    expect(() => inbox.handler(fn, { consumer: 7 as never })).toThrow(/consumer.*7/);
    expect(() => inbox.handler(fn, 'billing' as never)).toThrow(/options.*"billing"/);
  });
});

describe('Inbox.install()', () => {
  it('migrates a table keyed by message_id alone: rows kept, key (consumer, message_id), concurrent installs safe', async () => {
    const table = `${schema.name}.inbox_legacy`;
    await db.query(`create table ${table} (
      message_id text primary key,
      applied_at timestamptz not null default clock_timestamp())`);
    await db.query(`insert into ${table} (message_id) values ('old-1'), ('old-2'), ('old-3')`);
    // Three "processes" install at once, each on its own connection pool.
    const dbs = Array.from(
      { length: 3 },
      () => new Database({ url: databaseUrl(), applicationName: uniqueName('install') }),
    );
    try {
      await Promise.all(dbs.map((d) => new Inbox(d, { table }).install()));
    } finally {
      await Promise.all(dbs.map((d) => d.close()));
    }
    await new Inbox(db, { table }).install(); // and once more: nothing left to do
    expect(await db.rows(`select consumer, message_id from ${table} order by message_id`)).toEqual([
      { consumer: '', message_id: 'old-1' },
      { consumer: '', message_id: 'old-2' },
      { consumer: '', message_id: 'old-3' },
    ]);
    const key = await db.one<{ columns: string[] }>(
      `select array(select a.attname from unnest(c.conkey) with ordinality k(n, i)
                    join pg_attribute a on a.attrelid = c.conrelid and a.attnum = k.n order by k.i)::text[] as columns
       from pg_constraint c where c.conrelid = $1::regclass and c.contype = 'p'`,
      [table],
    );
    expect(key.columns).toEqual(['consumer', 'message_id']);
    const indexed = await db.rows<{ indexdef: string }>(
      `select indexdef from pg_indexes where schemaname = $1 and tablename = 'inbox_legacy'`,
      [schema.name],
    );
    expect(indexed.some((i) => /\(applied_at\)/.test(i.indexdef))).toBe(true);

    // A message applied before the migration (no consumer recorded) stays applied for every consumer.
    const inbox = new Inbox(db, { table });
    let runs = 0;
    const handler = inbox.handler(async () => void runs++);
    const msg = (id: string, queue: string) =>
      ({
        body: null,
        properties: { messageId: id, headers: {} },
        fields: { routingKey: queue, deliveryTag: 1, redelivered: true, exchange: '' },
        queue,
        attempt: 1,
      }) as never;
    const signal = new AbortController().signal;
    await handler(msg('old-2', 'orders'), signal);
    await handler(msg('new-1', 'orders'), signal);
    await handler(msg('new-1', 'billing'), signal);
    await handler(msg('new-1', 'orders'), signal);
    expect(runs).toBe(2);
    expect(inbox.stats()).toEqual({ applied: 2, duplicates: 2, failed: 0 });
  });
});

describe('Inbox retention', () => {
  /** An inbox with `old` rows applied an hour ago and the ids of `fresh` messages applied through a queue. */
  async function inboxWith(name: string, old: number, fresh: number, options: { keep?: number } = {}) {
    const broker = await newBroker();
    const [queue] = await newQueues(broker, 1);
    const table = `${schema.name}.${name}`;
    const inbox = new Inbox(db, { table, keep: 600_000, ...options });
    await inbox.install();
    await db.query(
      `insert into ${table} (consumer, message_id, applied_at)
       select 'elsewhere', 'old-' || i, now() - interval '1 hour' from generate_series(1, $1::int) i`,
      [old],
    );
    const effects = await effectsTable(`${name}_effects`);
    const consumer = broker.consume(
      queue!,
      inbox.handler(async (msg, tx) => {
        await tx.query(`insert into ${effects.table} values ($1, $2)`, [msg.queue, msg.properties.messageId]);
      }),
      { concurrency: 4 },
    );
    await consumer.ready;
    const ids = Array.from({ length: fresh }, (_, i) => `fresh-${i}`);
    for (const id of ids) await broker.sendToQueue(queue!, { id }, { messageId: id });
    await until(() => inbox.stats().applied === fresh, 10_000, `${fresh} messages applied`);
    const count = async (): Promise<number> =>
      (await db.one<{ n: number }>(`select count(*)::int as n from ${table}`)).n;
    return { broker, queue: queue!, table, inbox, effects, consumer, ids, count };
  }

  it('startPruning() deletes the rows older than keep in batches of batchSize and keeps the newer ones', async () => {
    const { broker, queue, inbox, effects, consumer, ids, count } = await inboxWith('prune_batches', 7, 5);
    const pruner = inbox.startPruning({ batchSize: 2, interval: 60_000 });
    try {
      await until(() => pruner.stats().pruned === 7, 10_000, 'the 7 old rows to go');
      // 2 + 2 + 2 + 1: four short statements, then the pruner waits for the next interval.
      expect(pruner.stats()).toMatchObject({ pruned: 7, rounds: 4, running: true, lastError: undefined });
      expect(await count()).toBe(5);
      // The messages within the window are still deduplicated.
      for (const id of ids) await broker.sendToQueue(queue, { id }, { messageId: id });
      await until(() => inbox.stats().duplicates === 5, 10_000, 'five duplicates');
      expect((await effects.rows()).length).toBe(5);
    } finally {
      await pruner.stop();
      await consumer.close();
    }
    expect(pruner.stats().running).toBe(false);
  });

  it('pruning while messages within the window are redelivered never applies one of them twice', async () => {
    const { broker, queue, inbox, effects, consumer, ids, count } = await inboxWith(
      'prune_concurrent',
      300,
      40,
    );
    const pruner = inbox.startPruning({ batchSize: 3, interval: 20 });
    try {
      const redeliveries = Promise.all(
        [1, 2, 3].map(async () => {
          for (const id of ids) await broker.sendToQueue(queue, { id }, { messageId: id });
        }),
      );
      await until(() => pruner.stats().pruned === 300, 20_000, 'the 300 old rows to go');
      await redeliveries;
      await until(() => inbox.stats().duplicates === 120, 20_000, '120 duplicates');
      expect(pruner.stats().rounds).toBeGreaterThanOrEqual(100); // batches of at most 3
      expect(inbox.stats()).toEqual({ applied: 40, duplicates: 120, failed: 0 });
      const rows = await effects.rows();
      expect(rows.map((r) => r.message_id).sort()).toEqual([...ids].sort());
      expect(await count()).toBe(40);
    } finally {
      await pruner.stop();
      await consumer.close();
    }
  });

  it('keep: Infinity never prunes; a keep beyond any timestamp prunes nothing and fails nothing', async () => {
    const { inbox, consumer, count, table } = await inboxWith('prune_never', 3, 1, { keep: Infinity });
    try {
      const never = inbox.startPruning({ interval: 10 });
      expect(never.stats()).toMatchObject({ running: false, rounds: 0 }); // nothing to do, ever
      await never.stop();
      const huge = new Inbox(db, { table, keep: Number.MAX_VALUE }).startPruning({ interval: 10 });
      await until(() => huge.stats().rounds >= 2, 10_000, 'two pruning rounds');
      await huge.stop();
      expect(huge.stats()).toMatchObject({ pruned: 0, lastError: undefined });
      expect(await count()).toBe(4);
    } finally {
      await consumer.close();
    }
  });

  it('new Inbox() checks keep as a duration; startPruning() checks its options, synchronously', () => {
    const table = `${schema.name}.prune_args`;
    expect(() => new Inbox(db, { table, keep: -1 })).toThrow(RangeError);
    expect(() => new Inbox(db, { table, keep: -1 })).toThrow(/keep.*-1/);
    expect(() => new Inbox(db, { table, keep: '7d' as never })).toThrow(TypeError);
    expect(() => new Inbox(db, { table, keep: NaN })).toThrow(/keep.*NaN/);
    const inbox = new Inbox(db, { table });
    expect(() => inbox.startPruning({ batchSize: 0 })).toThrow(/batchSize.*0/);
    expect(() => inbox.startPruning({ interval: -5 })).toThrow(/interval.*-5/);
    expect(() => inbox.startPruning({ signal: 'x' as never })).toThrow(/signal.*"x"/);
  });

  it('a pruning failure goes to the logger and stats().lastError, and the pruner keeps trying; the signal stops it', async () => {
    const warnings: { details: Record<string, unknown>; message: string }[] = [];
    const logger = {
      warn: (details: Record<string, unknown>, message: string) => void warnings.push({ details, message }),
    };
    // Never installed: every round fails with "relation does not exist".
    const inbox = new Inbox(db, { table: `${schema.name}.prune_missing`, keep: 1000, logger });
    const stop = new AbortController();
    const pruner = inbox.startPruning({ signal: stop.signal, interval: 10 });
    await until(() => warnings.length >= 2, 15_000, 'two reported failures');
    expect(warnings[0]?.message).toMatch(/prun/);
    expect(warnings[0]?.details).toMatchObject({ table: `${schema.name}.prune_missing` });
    expect((warnings[0]?.details.err as Error).message).toMatch(/prune_missing/);
    expect(pruner.stats().lastError).toBeInstanceOf(Error);
    expect(pruner.stats().running).toBe(true);
    stop.abort();
    await until(() => !pruner.stats().running, 10_000, 'the pruner to stop');
  });

  it('the pruner stops quietly once its Database is closed', async () => {
    const table = `${schema.name}.prune_closed`;
    const warnings: unknown[] = [];
    const own = new Database({ url: databaseUrl(), applicationName: uniqueName('prune-closed') });
    const inbox = new Inbox(own, { table, logger: { warn: (details) => void warnings.push(details) } });
    await inbox.install();
    const pruner = inbox.startPruning({ interval: 10 });
    await until(() => pruner.stats().rounds >= 1, 10_000, 'a first round');
    await own.close();
    await until(() => !pruner.stats().running, 10_000, 'the pruner to stop');
    expect(warnings).toEqual([]);
    expect(pruner.stats().lastError).toBeUndefined();
    await pruner.stop(); // idempotent
  });

  it('a pruner waiting for its next round never keeps the process alive', async () => {
    const table = `${schema.name}.prune_exit`;
    await new Inbox(db, { table }).install();
    // The fixture starts a pruner with an hour-long interval, waits for its first round and closes
    // its Database: the process must exit on its own, long before the hour is up.
    const result = await runProcess(process.execPath, [tsx, exitFixture, table], {
      env: { ...process.env, DATABASE_URL: databaseUrl() },
      timeout: 30_000,
    });
    expect(result.stderr).toBe('');
    expect(result.exitCode).toBe(0);
    expect(JSON.parse(result.stdout.trim())).toEqual({ rounds: 1, running: true, lastError: null });
  });
});
