/**
 * A Broker's OpenTelemetry metrics on the real broker, read with the in-memory metric reader:
 * publish duration and sent messages (`messaging.client.*`), consumed messages and handler duration
 * (`messaging.process.duration`), and connkit's own reconnect and dead-letter counters.
 */
import { afterEach, describe, expect, it } from 'vitest';
import {
  Broker,
  NonRetryableError,
  UnroutableError,
  type BrokerOptions,
} from '../../../adapters/amqp/index.js';
import { rejectionOf, until } from '../../support/async.js';
import { deleteQueues } from '../../support/amqp.js';
import { uniqueName } from '../../support/names.js';
import { installMetrics, pointOf, type TestMetrics } from '../../support/otel.js';
import { ChaosProxy } from '../../support/proxy.js';
import { amqpUrl } from '../../support/services.js';

const SYSTEM = { 'messaging.system': 'rabbitmq' };
const queues: string[] = [];
const cleanups: (() => Promise<void>)[] = [];
let sdk: TestMetrics | undefined;

afterEach(async () => {
  for (const fn of cleanups.splice(0).reverse()) await fn();
  await deleteQueues(amqpUrl(), queues.splice(0));
  await sdk?.uninstall();
  sdk = undefined;
});

function queueName(): string {
  const name = uniqueName('otel_m');
  queues.push(name);
  return name;
}

function broker(opts: Partial<BrokerOptions> = {}): Broker {
  const b = new Broker({ url: amqpUrl(), clientName: uniqueName('connkit_m'), ...opts });
  b.on('error', () => undefined);
  cleanups.push(() => b.close({ timeout: 2000 }));
  return b;
}

const histogram = (v: unknown) => v as { count: number; sum: number } | undefined;

describe('Broker metrics', () => {
  it('publishes: messaging.client.operation.duration (send → confirm) and sent.messages, error.type on failure', async () => {
    sdk = installMetrics();
    const q = queueName();
    const b = broker({ topology: { queues: [{ name: q }] } });
    await b.connect();
    for (let i = 0; i < 3; i++) await b.sendToQueue(q, i);
    expect(await rejectionOf(b.publish('', uniqueName('nowhere'), 'x'))).toBeInstanceOf(UnroutableError);
    const points = await sdk.collect();
    const ok = { ...SYSTEM, 'messaging.destination.name': '', 'messaging.operation.type': 'send' };
    const sent = points.filter((p) => p.metric === 'messaging.client.sent.messages');
    expect(sent.find((p) => p.attributes['error.type'] === undefined)?.value).toBe(3);
    expect(pointOf(points, 'messaging.client.sent.messages', { ...ok, 'error.type': 'UNROUTABLE' })).toBe(1);
    const duration = points.find(
      (p) => p.metric === 'messaging.client.operation.duration' && p.attributes['error.type'] === undefined,
    );
    expect(duration?.attributes).toMatchObject({ ...ok, 'messaging.operation.name': 'publish' });
    expect(duration?.unit).toBe('s');
    expect(histogram(duration?.value)?.count).toBe(3);
    expect(histogram(duration?.value)?.sum).toBeGreaterThan(0);
  });

  it('consumes: consumed.messages, messaging.process.duration (error.type when the handler failed) and connkit.amqp.dead_lettered with its reason', async () => {
    sdk = installMetrics();
    const q = queueName();
    queues.push(`${q}.dead`);
    const b = broker({ topology: { queues: [{ name: q }] } });
    const consumer = b.consume<number>(
      q,
      async (msg) => {
        if (msg.body === 2) throw new NonRetryableError('poison');
      },
      { deadLetter: `${q}.dead` },
    );
    await consumer.ready;
    for (const n of [1, 2, 3]) await b.sendToQueue(q, n);
    // Settled first, measured right after: wait for the measurements themselves.
    const processed = async () =>
      (await sdk!.collect())
        .filter((p) => p.metric === 'messaging.process.duration')
        .reduce((n, p) => n + (histogram(p.value)?.count ?? 0), 0);
    await until(async () => (await processed()) === 3, 10_000, 'three deliveries processed');
    const points = await sdk.collect();
    const attrs = { ...SYSTEM, 'messaging.destination.name': q, 'messaging.operation.type': 'process' };
    expect(pointOf(points, 'messaging.client.consumed.messages', attrs)).toBe(3);
    const process = points.filter((p) => p.metric === 'messaging.process.duration');
    expect(histogram(process.find((p) => p.attributes['error.type'] === undefined)?.value)?.count).toBe(2);
    expect(
      histogram(pointOf(points, 'messaging.process.duration', { ...attrs, 'error.type': 'NON_RETRYABLE' }))
        ?.count,
    ).toBe(1);
    expect(
      pointOf(points, 'connkit.amqp.dead_lettered', {
        ...attrs,
        'connkit.amqp.outcome': 'dead-letter',
        'connkit.amqp.dead_letter.reason': 'non-retryable',
      }),
    ).toBe(1);
  });

  it('reconnects: connkit.amqp.reconnects counts every reconnect; close() stops reporting', async () => {
    sdk = installMetrics();
    const proxy = await ChaosProxy.forUrl(amqpUrl(), 5672);
    cleanups.push(() => proxy.close());
    const b = broker({ url: proxy.rewrite(amqpUrl()), reconnect: { initialDelay: 50, maxDelay: 200 } });
    let reads = 0;
    const stats = b.stats.bind(b);
    b.stats = () => (reads++, stats());
    await b.connect();
    expect(pointOf(await sdk.collect(), 'connkit.amqp.reconnects', SYSTEM)).toBe(0);
    proxy.cutAll();
    await until(() => b.stats().reconnects === 1 && b.stats().connected, 10_000, 'a reconnect');
    expect(pointOf(await sdk.collect(), 'connkit.amqp.reconnects', SYSTEM)).toBe(1);
    await b.close();
    const before = reads;
    await sdk.collect();
    expect(reads).toBe(before); // the collection callback is gone: a closed Broker is not read again
  });

  it('a Broker made before any MeterProvider measures nothing', async () => {
    const q = queueName();
    const b = broker({ topology: { queues: [{ name: q }] } });
    await b.connect();
    sdk = installMetrics();
    await b.sendToQueue(q, 1);
    expect(await sdk.collect()).toEqual([]);
  });
});
