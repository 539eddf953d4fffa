/**
 * Trace context through the outbox, and the outbox/inbox metrics, on the real PostgreSQL and
 * RabbitMQ with the in-memory SDK: `enqueue` stores its `create` span's context with the row, the
 * relay sends the row inside a `send` span whose parent is that context and whose context the message
 * carries, and `install()` brings an older table up to date.
 */
import { trace, type SpanContext } from '@opentelemetry/api';
import type { ReadableSpan } from '@opentelemetry/sdk-trace-base';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { Broker, type Message } from '../../../adapters/amqp/index.js';
import { Inbox, Outbox } from '../../../adapters/outbox/index.js';
import { Database } from '../../../adapters/postgres/index.js';
import { sql } from '../../../adapters/postgres/sql.js';
import { until } from '../../support/async.js';
import { deleteQueues, getMessage } from '../../support/amqp.js';
import { uniqueName } from '../../support/names.js';
import {
  installMetrics,
  installTracing,
  pointOf,
  type TestMetrics,
  type TestTracing,
} from '../../support/otel.js';
import { createTestSchema } from '../../support/pg.js';
import { amqpUrl, databaseUrl } from '../../support/services.js';

let schema: { name: string; drop(): Promise<void> };
let db: Database;
let broker: Broker;
const queues: string[] = [];
let tracing: TestTracing | undefined;
let meters: TestMetrics | undefined;

beforeAll(async () => {
  schema = await createTestSchema(databaseUrl());
  db = new Database({ url: databaseUrl(), applicationName: uniqueName('outbox-trace') });
  broker = new Broker({ url: amqpUrl(), clientName: uniqueName('outbox-trace') });
  await broker.connect();
});

afterEach(async () => {
  await tracing?.uninstall();
  await meters?.uninstall();
  tracing = meters = undefined;
});

afterAll(async () => {
  await broker.close();
  await db.close();
  await schema.drop();
  await deleteQueues(amqpUrl(), queues);
});

async function newQueue(): Promise<string> {
  const queue = uniqueName('q');
  queues.push(queue);
  await broker.declare({ queues: [{ name: queue }] });
  return queue;
}

function newOutbox(): Outbox {
  return new Outbox(db, broker, { table: `${schema.name}.${uniqueName('outbox')}`, pollInterval: 50 });
}

interface StoredRow {
  message_id: string;
  traceparent: string | null;
  tracestate: string | null;
}

const storedRows = (outbox: Outbox): Promise<StoredRow[]> =>
  db.rows<StoredRow>(
    sql`select message_id, traceparent, tracestate from ${sql.id(outbox.table)} order by id`,
  );

const spanId = (s: ReadableSpan): string => s.spanContext().spanId;
const parentId = (s: ReadableSpan): string | undefined => s.parentSpanContext?.spanId;
const traceparentOf = (sc: SpanContext): string => `00-${sc.traceId}-${sc.spanId}-01`;

describe('outbox trace context', () => {
  it('enqueue under an active span stores its create span’s context; the relay sends the row inside a send span, child of it, whose context the message carries', async () => {
    tracing = installTracing();
    const outbox = newOutbox();
    await outbox.install();
    const queue = await newQueue();
    const tracer = trace.getTracer('test');
    const { id, root } = await tracer.startActiveSpan('order', async (span) => {
      const id = await db.transaction((tx) =>
        outbox.enqueue(tx, { exchange: '', routingKey: queue, body: { n: 1 }, headers: { app: 'x' } }),
      );
      span.end();
      return { id, root: span.spanContext() };
    });
    const [row] = await storedRows(outbox);
    const spans = () => tracing!.exporter.getFinishedSpans();
    const create = spans().find((s) => s.name === 'create amq.default')!;
    expect(create.kind).toBe(3); // producer
    expect(create.spanContext().traceId).toBe(root.traceId);
    expect(parentId(create)).toBe(root.spanId);
    expect(create.attributes).toMatchObject({
      'messaging.system': 'rabbitmq',
      'messaging.operation.type': 'create',
      'messaging.destination.name': '',
      'messaging.rabbitmq.destination.routing_key': queue,
      'messaging.message.id': id,
    });
    expect(row).toEqual({
      message_id: id,
      traceparent: traceparentOf(create.spanContext()),
      tracestate: null,
    });

    const relay = outbox.start();
    try {
      const msg = await getMessage(amqpUrl(), queue, 10_000);
      await until(() => spans().some((s) => s.name === 'send amq.default'), 20_000, 'the send span');
      const send = spans().find((s) => s.name === 'send amq.default')!;
      expect(send.kind).toBe(3);
      expect(send.spanContext().traceId).toBe(root.traceId);
      expect(parentId(send)).toBe(spanId(create));
      expect(send.attributes).toMatchObject({
        'messaging.operation.type': 'send',
        'messaging.message.id': id,
      });
      // The message carries the send span's context, and keeps its own headers.
      expect(msg.properties.headers).toMatchObject({
        app: 'x',
        traceparent: traceparentOf(send.spanContext()),
      });
    } finally {
      await relay.stop();
    }
  });

  it('stores nothing without an active span, and nothing without an SDK; such rows go out without trace headers, even from a relay started inside a span', async () => {
    const outbox = newOutbox();
    await outbox.install();
    const queue = await newQueue();
    const enqueue = (n: number) =>
      db.transaction((tx) => outbox.enqueue(tx, { exchange: '', routingKey: queue, body: { n } }));
    await enqueue(1); // no SDK
    tracing = installTracing();
    await enqueue(2); // an SDK, no active span
    expect((await storedRows(outbox)).map((r) => [r.traceparent, r.tracestate])).toEqual([
      [null, null],
      [null, null],
    ]);
    expect(tracing.exporter.getFinishedSpans().filter((s) => s.name.startsWith('create'))).toEqual([]);
    // A relay started inside a span does not lend that span to the rows it sends later.
    const relay = trace.getTracer('test').startActiveSpan('boot', (span) => {
      const started = outbox.start();
      span.end();
      return started;
    });
    try {
      for (let i = 0; i < 2; i++) {
        const msg = await getMessage(amqpUrl(), queue, 10_000);
        expect(msg.properties.headers?.['traceparent']).toBeUndefined();
      }
      expect(tracing.exporter.getFinishedSpans().filter((s) => s.name.startsWith('send'))).toEqual([]);
    } finally {
      await relay.stop();
    }
  });

  it('a relay without an SDK forwards the stored context unchanged', async () => {
    tracing = installTracing();
    const outbox = newOutbox();
    await outbox.install();
    const queue = await newQueue();
    await trace.getTracer('test').startActiveSpan('order', async (span) => {
      await db.transaction((tx) => outbox.enqueue(tx, { exchange: '', routingKey: queue, body: 1 }));
      span.end();
    });
    const [row] = await storedRows(outbox);
    expect(row!.traceparent).toMatch(/^00-[0-9a-f]{32}-[0-9a-f]{16}-01$/);
    await tracing.uninstall();
    tracing = undefined;
    const relay = outbox.start();
    try {
      const msg = await getMessage(amqpUrl(), queue, 10_000);
      expect(msg.properties.headers?.['traceparent']).toBe(row!.traceparent);
    } finally {
      await relay.stop();
    }
  });

  it('install() adds the trace columns to a table made by an older connkit; its rows are relayed as before', async () => {
    const outbox = newOutbox();
    const queue = await newQueue();
    // The outbox table as connkit made it before it stored trace context.
    await db.query(sql`create table ${sql.id(outbox.table)} (
      id bigserial primary key, message_id text not null unique, exchange text not null,
      routing_key text not null, content bytea not null, content_type text not null, headers jsonb,
      created_at timestamptz not null default clock_timestamp(), attempts integer not null default 0,
      last_error text)`);
    await db.query(sql`insert into ${sql.id(outbox.table)} (message_id, exchange, routing_key, content, content_type)
      values ('old-1', '', ${queue}, '\\x31'::bytea, 'application/json')`);
    await Promise.all([outbox.install(), outbox.install()]); // concurrent installs take turns
    await outbox.install(); // and a later one has nothing to do
    expect(await storedRows(outbox)).toEqual([{ message_id: 'old-1', traceparent: null, tracestate: null }]);
    const relay = outbox.start();
    try {
      const msg = await getMessage(amqpUrl(), queue, 10_000);
      expect(msg.properties.messageId).toBe('old-1');
    } finally {
      await relay.stop();
    }
  });
});

describe('outbox and inbox metrics', () => {
  it('connkit.outbox.lag is recorded per confirmed row; connkit.outbox.pending counts every waiting row (locked ones too) at each collection', async () => {
    meters = installMetrics();
    const outbox = newOutbox();
    await outbox.install();
    const queue = await newQueue();
    const table = { 'db.collection.name': outbox.table };
    await db.transaction(async (tx) => {
      for (let n = 0; n < 8; n++) await outbox.enqueue(tx, { exchange: '', routingKey: queue, body: { n } });
    });
    await db.query(sql`update ${sql.id(outbox.table)} set created_at = created_at - interval '2 seconds'`);
    // Another transaction holds 3 rows: the relay skips them (SKIP LOCKED), the count still sees them.
    let release!: () => void;
    const released = new Promise<void>((resolve) => (release = resolve));
    let locked!: () => void;
    const lockedNow = new Promise<void>((resolve) => (locked = resolve));
    const holder = db.transaction(async (tx) => {
      await tx.query(sql`select id from ${sql.id(outbox.table)} order by id limit 3 for update`);
      locked();
      await released;
    });
    await lockedNow;
    const relay = outbox.start();
    try {
      // The lag is recorded at each confirm, the gauge counts rows once the batch's delete commits.
      let points = await meters.collect();
      const lagCount = (): number | undefined =>
        (pointOf(points, 'connkit.outbox.lag', table) as { count: number } | undefined)?.count;
      const pending = (): unknown => pointOf(points, 'connkit.outbox.pending', table);
      await until(
        async () => {
          points = await meters!.collect();
          return lagCount() === 5 && pending() === 3;
        },
        10_000,
        '5 confirmed rows and 3 pending',
      );
      const lag = pointOf(points, 'connkit.outbox.lag', table) as { count: number; sum: number };
      expect(lag.sum / lag.count).toBeGreaterThanOrEqual(2); // created 2 s before, by the server's clock
      expect(points.find((p) => p.metric === 'connkit.outbox.lag')?.unit).toBe('s');
      expect(points.find((p) => p.metric === 'connkit.outbox.pending')?.unit).toBe('{message}');
      release();
      await holder;
      await until(
        async () => {
          points = await meters!.collect();
          return lagCount() === 8 && pending() === 0;
        },
        10_000,
        '8 confirmed rows and none pending',
      );
    } finally {
      release();
      await holder;
      await relay.stop();
    }
  });

  it('connkit.inbox.duplicates counts skipped deliveries by consumer; the active span gets connkit.inbox.outcome', async () => {
    meters = installMetrics();
    tracing = installTracing();
    const table = `${schema.name}.${uniqueName('inbox')}`;
    const inbox = new Inbox(db, { table });
    await inbox.install();
    let applied = 0;
    const handler = inbox.handler(async () => void applied++, { consumer: 'billing' });
    const msg = {
      body: 1,
      fields: { routingKey: 'r' },
      properties: { messageId: uniqueName('m') },
      queue: 'billing.q',
    } as unknown as Message;
    const tracer = trace.getTracer('test');
    const run = (name: string): Promise<void> =>
      tracer.startActiveSpan(name, async (span) => {
        await handler(msg, new AbortController().signal);
        span.end();
      });
    await run('first');
    await run('second');
    await run('third');
    expect(applied).toBe(1);
    const points = await meters.collect();
    const attrs = { 'messaging.consumer.group.name': 'billing', 'db.collection.name': table };
    expect(pointOf(points, 'connkit.inbox.duplicates', attrs)).toBe(2);
    expect(points.find((p) => p.metric === 'connkit.inbox.duplicates')?.unit).toBe('{message}');
    const outcome = (name: string): unknown =>
      tracing!.exporter.getFinishedSpans().find((s) => s.name === name)?.attributes['connkit.inbox.outcome'];
    expect([outcome('first'), outcome('second'), outcome('third')]).toEqual([
      'applied',
      'duplicate',
      'duplicate',
    ]);
  });
});
