/**
 * Issue 18, end to end: "one root span → transaction with enqueue → relay → consumer → inbox handler;
 * every span shares the root's trace id, with chaos cuts in between" — real PostgreSQL and RabbitMQ,
 * the in-memory SDK. The relay's and the consumer's broker connections go through ChaosProxies that
 * are cut, and the relay's database sessions are terminated, between the steps; every message (each
 * under its own root) is applied once, and its handler's span hangs under the chain
 * root → create (enqueue) → send (relay) → process (consumer) → the handler's own span.
 */
import { trace } from '@opentelemetry/api';
import type { ReadableSpan } from '@opentelemetry/sdk-trace-base';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Broker } from '../../../adapters/amqp/index.js';
import { Inbox, Outbox } from '../../../adapters/outbox/index.js';
import { Database } from '../../../adapters/postgres/index.js';
import { sql } from '../../../adapters/postgres/sql.js';
import { until } from '../../support/async.js';
import { deleteQueues } from '../../support/amqp.js';
import { uniqueName } from '../../support/names.js';
import { installTracing, type TestTracing } from '../../support/otel.js';
import { createTestSchema, terminateBackends } from '../../support/pg.js';
import { ChaosProxy } from '../../support/proxy.js';
import { amqpUrl, databaseUrl } from '../../support/services.js';

const MESSAGES = 6;

let schema: { name: string; drop(): Promise<void> };
let tracing: TestTracing;
const closers: (() => Promise<unknown>)[] = [];
let queue: string;

beforeAll(async () => {
  schema = await createTestSchema(databaseUrl());
  tracing = installTracing();
  queue = uniqueName('e2e');
});

afterAll(async () => {
  for (const close of closers.reverse()) await close().catch(() => undefined);
  await tracing.uninstall();
  await schema.drop();
  await deleteQueues(amqpUrl(), [queue, `${queue}.connkit-delay.50ms`]);
});

function newBroker(url: string): Broker {
  const broker = new Broker({
    url,
    clientName: uniqueName('e2e'),
    reconnect: { initialDelay: 50, maxDelay: 300 },
  });
  closers.push(() => broker.close());
  return broker;
}

function newDatabase(applicationName: string): Database {
  const db = new Database({ url: databaseUrl(), applicationName });
  closers.push(() => db.close());
  return db;
}

describe('one root span per message → enqueue → relay → consumer → inbox handler, with chaos in between', () => {
  it('every span of a message shares its root’s trace id, chained root → create → send → process → handler; nothing lost, each applied once', async () => {
    const relayProxy = await ChaosProxy.forUrl(amqpUrl(), 5672);
    const consumerProxy = await ChaosProxy.forUrl(amqpUrl(), 5672);
    closers.push(
      () => relayProxy.close(),
      () => consumerProxy.close(),
    );
    const relayApp = uniqueName('e2e-relay');
    const producerDb = newDatabase(uniqueName('e2e-producer'));
    const relayDb = newDatabase(relayApp);
    const consumerDb = newDatabase(uniqueName('e2e-consumer'));
    const relayBroker = newBroker(relayProxy.rewrite(amqpUrl()));
    const consumerBroker = newBroker(consumerProxy.rewrite(amqpUrl()));
    await Promise.all([relayBroker.connect(), consumerBroker.connect()]);
    await consumerBroker.declare({ queues: [{ name: queue }] });

    const outbox = new Outbox(relayDb, relayBroker, { table: `${schema.name}.outbox`, pollInterval: 100 });
    const inbox = new Inbox(consumerDb, { table: `${schema.name}.inbox` });
    await outbox.install();
    await inbox.install();
    await consumerDb.query(sql`create table ${sql.id([schema.name, 'applied'])} (n int not null)`);
    const applied = async (): Promise<number[]> =>
      (
        await consumerDb.rows<{ n: number }>(
          sql`select n from ${sql.id([schema.name, 'applied'])} order by n`,
        )
      ).map((r) => r.n);

    const tracer = trace.getTracer('e2e');
    const consumer = consumerBroker.consume<{ n: number }>(
      queue,
      inbox.handler(async (msg, tx) => {
        // The handler's own span: a child of the consumer's process span, active here.
        await tracer.startActiveSpan('apply', async (span) => {
          await tx.query(sql`insert into ${sql.id([schema.name, 'applied'])} (n) values (${msg.body.n})`);
          span.end();
        });
      }),
      { retry: { attempts: 50, delay: 50 } },
    );
    closers.push(() => consumer.close({ timeout: 5_000 }));
    await consumer.ready;
    const relay = outbox.start();
    closers.push(() => relay.stop());

    const roots = new Map<string, number>(); // trace id → message number
    const spans = (): ReadableSpan[] => tracing.exporter.getFinishedSpans();
    const sentFor = (traceId: string): boolean =>
      spans().some((s) => s.name === 'send amq.default' && s.spanContext().traceId === traceId);
    let cuts = 0;
    for (let n = 1; n <= MESSAGES; n++) {
      // Before the enqueue: the relay loses its broker connection, or its database sessions.
      if (n % 3 === 1) cuts += relayProxy.cutAll();
      if (n % 3 === 2) cuts += await terminateBackends(databaseUrl(), relayApp);
      const traceId = await tracer.startActiveSpan(`order ${n}`, async (root) => {
        await producerDb.transaction((tx) =>
          outbox.enqueue(tx, { exchange: '', routingKey: queue, body: { n }, messageId: `order-${n}` }),
        );
        root.end();
        return root.spanContext().traceId;
      });
      roots.set(traceId, n);
      // Between the relay and the consumer: the consumer loses its broker connection.
      if (n % 2 === 0) {
        await until(() => sentFor(traceId), 20_000, `the relay to send order ${n}`);
        // Once the consumer is back from the previous cut (on a busy machine it may still be
        // reconnecting: cutAll() would cut nothing, and the count below would fall short).
        await until(() => consumerProxy.connections > 0, 20_000, 'the consumer connected again');
        cuts += consumerProxy.cutAll();
      }
    }
    expect(cuts).toBeGreaterThanOrEqual(MESSAGES / 2);
    await until(async () => (await applied()).length >= MESSAGES, 60_000, `${MESSAGES} orders applied`);
    expect(await applied()).toEqual(Array.from({ length: MESSAGES }, (_, i) => i + 1)); // each once

    // The handler's span ends before its process span, which ends at the ack: wait for those.
    await until(
      () =>
        spans().filter(
          (s) => s.name === `${queue} process` && s.attributes['connkit.inbox.outcome'] === 'applied',
        ).length >= MESSAGES,
      10_000,
      'the process spans of the applied deliveries',
    );
    const byId = new Map(spans().map((s) => [s.spanContext().spanId, s]));
    const chainOf = (span: ReadableSpan): string[] => {
      const names: string[] = [];
      for (let s: ReadableSpan | undefined = span; s !== undefined;) {
        names.push(s.name);
        const parent: string | undefined = s.parentSpanContext?.spanId;
        s = parent === undefined ? undefined : byId.get(parent);
      }
      return names;
    };
    for (const [traceId, n] of roots) {
      const ofTrace = spans().filter((s) => s.spanContext().traceId === traceId);
      // The applied delivery's handler span, and every message span of this order, are in the root's trace.
      const apply = ofTrace.filter((s) => s.name === 'apply');
      expect(apply, `order ${n}`).toHaveLength(1);
      expect(chainOf(apply[0]!), `order ${n}`).toEqual([
        'apply',
        `${queue} process`,
        'send amq.default',
        'create amq.default',
        `order ${n}`,
      ]);
      const ofMessage = spans().filter((s) => s.attributes['messaging.message.id'] === `order-${n}`);
      expect(ofMessage.length, `order ${n}`).toBeGreaterThanOrEqual(3); // create, send(s), process(es)
      for (const s of ofMessage) expect(s.spanContext().traceId, `${s.name} of order ${n}`).toBe(traceId);
    }
  }, 120_000);
});
