/**
 * connkit's own AMQP tracing on the real broker, with an in-memory SDK and no contrib
 * instrumentation: every publish carries its caller's context as `traceparent`, every handler runs
 * in a `<queue> process` span of connkit's (parent: the message's context) until its delivery is
 * settled, and without an SDK nothing is added to a message.
 */
import { context, trace, type Span } from '@opentelemetry/api';
import type { ReadableSpan } from '@opentelemetry/sdk-trace-base';
import { afterEach, describe, expect, it } from 'vitest';
import { Broker, NonRetryableError, type BrokerOptions } from '../../../adapters/amqp/index.js';
import { deferred, until } from '../../support/async.js';
import { deleteQueues, getMessage } from '../../support/amqp.js';
import { uniqueName } from '../../support/names.js';
import { installTracing, type TestTracing } from '../../support/otel.js';
import { amqpUrl } from '../../support/services.js';

const CONSUMER = 4;
const ERROR = 2;
const queues: string[] = [];
const brokers: Broker[] = [];
let tracing: TestTracing | undefined;

afterEach(async () => {
  await Promise.all(brokers.splice(0).map((b) => b.close({ timeout: 2000 })));
  await deleteQueues(amqpUrl(), queues.splice(0));
  await tracing?.uninstall();
  tracing = undefined;
});

function queueName(): string {
  const name = uniqueName('otel_q');
  queues.push(name);
  return name;
}

function broker(opts: Partial<BrokerOptions> = {}): Broker {
  const b = new Broker({ url: amqpUrl(), clientName: uniqueName('connkit_otel'), ...opts });
  b.on('error', () => undefined);
  brokers.push(b);
  return b;
}

const tracer = () => trace.getTracer('test');
const inRoot = <R>(name: string, fn: (span: Span) => Promise<R>): Promise<R> =>
  tracer().startActiveSpan(name, async (span) => {
    try {
      return await fn(span);
    } finally {
      span.end();
    }
  });
const traceparentOf = (span: Span) => `00-${span.spanContext().traceId}-${span.spanContext().spanId}-01`;
const activeSpanId = () => trace.getSpan(context.active())?.spanContext().spanId;
const spansNamed = (name: string): ReadableSpan[] =>
  tracing!.exporter.getFinishedSpans().filter((s) => s.name === name);

describe('publish: the caller’s context travels as traceparent', () => {
  it('publish() and sendToQueue() inject the caller’s span; the user’s headers object is left alone', async () => {
    tracing = installTracing();
    const q = queueName();
    const b = broker({ topology: { queues: [{ name: q }] } });
    await b.connect();
    const headers = { tenant: 'a' };
    const caller = await inRoot('caller', async (span) => {
      await b.sendToQueue(q, 'x', { headers });
      await b.publish('', q, 'y');
      return span;
    });
    expect(headers).toEqual({ tenant: 'a' });
    for (let i = 0; i < 2; i++) {
      const msg = await getMessage(amqpUrl(), q);
      expect(msg.properties.headers?.['traceparent']).toBe(traceparentOf(caller));
      if (i === 0) expect(msg.properties.headers?.['tenant']).toBe('a');
    }
  });

  it('a traceparent the caller set is kept', async () => {
    tracing = installTracing();
    const q = queueName();
    const b = broker({ topology: { queues: [{ name: q }] } });
    await b.connect();
    const own = '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01';
    await inRoot('caller', () => b.sendToQueue(q, 'x', { headers: { traceparent: own } }));
    expect((await getMessage(amqpUrl(), q)).properties.headers?.['traceparent']).toBe(own);
  });

  it('publishes made while disconnected carry each its own caller’s context, written later from the connect', async () => {
    tracing = installTracing();
    const q = queueName();
    const b = broker({ topology: { queues: [{ name: q }] } });
    const callers = await Promise.all(
      [0, 1, 2].map((n) =>
        inRoot(`caller-${n}`, async (span) => {
          await b.sendToQueue(q, n); // the first one starts the connection
          return traceparentOf(span);
        }),
      ),
    );
    const got = new Map<number, unknown>();
    for (let i = 0; i < 3; i++) {
      const msg = await getMessage(amqpUrl(), q);
      got.set(Number(msg.content.toString()), msg.properties.headers?.['traceparent']);
    }
    expect([0, 1, 2].map((n) => got.get(n))).toEqual(callers);
  });

  it('without an SDK nothing is added to a message', async () => {
    const q = queueName();
    const b = broker({ topology: { queues: [{ name: q }] } });
    await b.connect();
    await b.sendToQueue(q, 'x');
    expect((await getMessage(amqpUrl(), q)).properties.headers ?? {}).not.toHaveProperty('traceparent');
  });
});

describe('consume: the handler runs in connkit’s `<queue> process` span', () => {
  it('child of the publisher’s span, active for the handler’s code, with messaging attributes and outcome ack', async () => {
    tracing = installTracing();
    const q = queueName();
    const b = broker({ topology: { queues: [{ name: q }] } });
    const seen = deferred<string | undefined>();
    const consumer = b.consume(q, async () => {
      await new Promise((r) => setTimeout(r, 5)); // still active after an await
      seen.resolve(activeSpanId());
    });
    await consumer.ready;
    const publisher = await inRoot('publisher', async (span) => {
      await b.sendToQueue(q, 'body-secret-0815', { messageId: 'm-1' });
      return span;
    });
    const active = await seen.promise;
    await until(() => spansNamed(`${q} process`).length === 1, 10_000, 'the process span to end');
    const [span] = spansNamed(`${q} process`);
    expect(span?.spanContext().spanId).toBe(active);
    expect(span?.kind).toBe(CONSUMER);
    expect(span?.parentSpanContext?.spanId).toBe(publisher.spanContext().spanId);
    expect(span?.spanContext().traceId).toBe(publisher.spanContext().traceId);
    expect(span?.attributes).toMatchObject({
      'messaging.system': 'rabbitmq',
      'messaging.operation.type': 'process',
      'messaging.destination.name': q,
      'messaging.rabbitmq.destination.routing_key': q,
      'messaging.message.id': 'm-1',
      'messaging.message.body.size': 'body-secret-0815'.length,
      'messaging.rabbitmq.message.delivery_tag': 1,
      'connkit.amqp.outcome': 'ack',
    });
    expect(JSON.stringify(span?.attributes)).not.toContain('body-secret');
    expect(span?.status.code).not.toBe(ERROR);
  });

  it('a handler that throws: status error, the exception recorded, outcome retry then dead-letter', async () => {
    tracing = installTracing();
    const q = queueName();
    queues.push(`${q}.dead`);
    const b = broker({ topology: { queues: [{ name: q }] } });
    const consumer = b.consume(
      q,
      (msg) => {
        throw msg.attempt === 1 ? new Error('first try fails') : new NonRetryableError('poison');
      },
      { retry: { attempts: 3, delay: 10 }, deadLetter: `${q}.dead` },
    );
    queues.push(`${q}.connkit-delay.10ms`);
    await consumer.ready;
    await inRoot('publisher', () => b.sendToQueue(q, 'x'));
    await until(() => spansNamed(`${q} process`).length === 2, 10_000, 'two process spans');
    const [first, second] = spansNamed(`${q} process`);
    expect(first?.status.code).toBe(ERROR);
    expect(first?.attributes).toMatchObject({ 'connkit.amqp.outcome': 'retry', 'error.type': 'Error' });
    expect(first?.events.map((e) => e.name)).toContain('exception');
    expect(second?.attributes).toMatchObject({
      'connkit.amqp.outcome': 'dead-letter',
      'error.type': 'NON_RETRYABLE',
    });
    // The retried copy keeps the producer's context: both are children of the publish's caller.
    expect(second?.parentSpanContext?.spanId).toBe(first?.parentSpanContext?.spanId);
  });

  it('buffered deliveries (prefetch > concurrency) run each in its own sender’s trace, not the previous handler’s', async () => {
    tracing = installTracing();
    const q = queueName();
    const b = broker({ topology: { queues: [{ name: q }] } });
    const release = deferred();
    const seen = new Map<number, string | undefined>();
    const consumer = b.consume<number>(
      q,
      async (msg) => {
        seen.set(msg.body, trace.getSpan(context.active())?.spanContext().traceId);
        if (seen.size === 1) await release.promise;
      },
      { concurrency: 1, prefetch: 10 },
    );
    await consumer.ready;
    const senders = await Promise.all(
      [0, 1, 2].map((n) =>
        inRoot(`sender-${n}`, async (span) => {
          await b.sendToQueue(q, n);
          return span.spanContext().traceId;
        }),
      ),
    );
    await until(() => consumer.stats().buffered === 2, 10_000, 'two buffered deliveries');
    release.resolve();
    await until(() => seen.size === 3, 10_000, 'three handled');
    expect([0, 1, 2].map((n) => seen.get(n))).toEqual(senders);
  });

  it('serve() and call(): the request carries the caller’s context, the handler runs in a process span under it, and the reply leaves from it', async () => {
    tracing = installTracing();
    const q = queueName();
    const b = broker({ topology: { queues: [{ name: q }] } });
    const replyTo = deferred<unknown>();
    const server = b.serve<string>(q, async (msg) => {
      replyTo.resolve(msg.properties.headers?.['traceparent']);
      return msg.body.toUpperCase();
    });
    await server.ready;
    const caller = await inRoot('caller', async (span) => {
      expect(await b.call<string>(q, 'ping', { timeout: 10_000 })).toBe('PING');
      return span;
    });
    expect(await replyTo.promise).toBe(traceparentOf(caller));
    await until(() => spansNamed(`${q} process`).length === 1, 10_000, 'the process span');
    expect(spansNamed(`${q} process`)[0]?.parentSpanContext?.spanId).toBe(caller.spanContext().spanId);
  });
});
