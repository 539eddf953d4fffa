import { afterEach, describe, expect, it } from 'vitest';
import { Broker } from '../../../adapters/amqp/index.js';
import { deleteExchanges, deleteQueues, withAmqpChannel } from '../../support/amqp.js';
import { uniqueName } from '../../support/names.js';
import { ChaosProxy } from '../../support/proxy.js';
import { connectionPids, rabbitmqctl } from '../../support/rabbit-admin.js';
import { amqpUrl } from '../../support/services.js';
import { until } from '../../support/async.js';

const queues: string[] = [];
const exchanges: string[] = [];
const cleanups: (() => Promise<void>)[] = [];

afterEach(async () => {
  for (const fn of cleanups.splice(0).reverse()) await fn();
  await deleteQueues(amqpUrl(), queues.splice(0));
  await deleteExchanges(amqpUrl(), exchanges.splice(0));
});

async function proxied(extra: Partial<ConstructorParameters<typeof Broker>[0]> = {}) {
  const proxy = await ChaosProxy.forUrl(amqpUrl(), 5672);
  const broker = new Broker({
    url: proxy.rewrite(amqpUrl()),
    clientName: uniqueName('connkit_f'),
    reconnect: { initialDelay: 50, maxDelay: 200 },
    ...extra,
  });
  broker.on('error', () => undefined);
  cleanups.push(async () => {
    await broker.close({ timeout: 2000 });
    await proxy.close();
  });
  return { proxy, broker };
}

describe('Broker reconnect', () => {
  it('re-declares topology (quorum queue with dead-letter arguments, exchange, binding) after a cut', async () => {
    const q = uniqueName('qq');
    const ex = uniqueName('ex');
    queues.push(q, `${q}.dlq`);
    exchanges.push(ex);
    const { proxy, broker } = await proxied();
    const events: string[] = [];
    broker.on('connect', () => events.push('connect'));
    broker.on('disconnect', () => events.push('disconnect'));
    await broker.connect();
    await broker.declare({
      exchanges: [{ name: ex, type: 'topic' }],
      queues: [
        { name: `${q}.dlq`, options: { durable: true } },
        {
          name: q,
          options: {
            durable: true,
            arguments: {
              'x-queue-type': 'quorum',
              'x-dead-letter-exchange': '',
              'x-dead-letter-routing-key': `${q}.dlq`,
            },
          },
        },
      ],
      bindings: [{ queue: q, exchange: ex, routingKey: 'a.*' }],
    });
    await deleteQueues(amqpUrl(), [q, `${q}.dlq`]);
    await deleteExchanges(amqpUrl(), [ex]);
    proxy.cutAll();
    await until(() => events.filter((e) => e === 'connect').length === 2, 15_000);
    expect(events).toEqual(['connect', 'disconnect', 'connect']);
    await broker.publish(ex, 'a.b', { routed: true });
    const depth = await withAmqpChannel(amqpUrl(), async (ch) => (await ch.checkQueue(q)).messageCount);
    expect(depth).toBe(1);
    expect(broker.stats().reconnects).toBe(1);
  });

  it('holds publishes while disconnected and sends them after reconnect', async () => {
    const q = uniqueName('q');
    queues.push(q);
    const { proxy, broker } = await proxied();
    await broker.declare({ queues: [{ name: q }] });
    proxy.refuse(true);
    proxy.cutAll();
    await until(() => !broker.stats().connected, 15_000);
    const pending = Array.from({ length: 20 }, (_, i) => broker.sendToQueue(q, { i }));
    await new Promise((r) => setTimeout(r, 200));
    expect(broker.stats().publisher.pending).toBe(20);
    proxy.refuse(false);
    await Promise.all(pending);
    const depth = await withAmqpChannel(amqpUrl(), async (ch) => (await ch.checkQueue(q)).messageCount);
    expect(depth).toBe(20);
  });

  it('restores consumers after the connection is closed by the broker (rabbitmqctl close_connection)', async () => {
    const q = uniqueName('q');
    queues.push(q);
    const clientName = uniqueName('connkit_f');
    const broker = new Broker({ url: amqpUrl(), clientName, reconnect: { initialDelay: 50, maxDelay: 200 } });
    broker.on('error', () => undefined);
    cleanups.push(() => broker.close({ timeout: 2000 }));
    await broker.declare({ queues: [{ name: q }] });
    const seen: number[] = [];
    const consumer = broker.consume<number>(q, async (msg) => void seen.push(msg.body));
    await consumer.ready;
    await broker.sendToQueue(q, 1);
    await until(() => seen.length === 1, 15_000);
    const pids = await connectionPids(clientName);
    expect(pids).toHaveLength(1);
    await rabbitmqctl('close_connection', pids[0]!, 'connkit test');
    await until(() => broker.stats().reconnects === 1, 15_000);
    await broker.sendToQueue(q, 2);
    await until(() => seen.includes(2), 15_000);
    expect(consumer.stats().consuming).toBe(true);
  });

  it('reconnects after a silently dead peer (heartbeat)', async () => {
    const q = uniqueName('q');
    queues.push(q);
    const { proxy, broker } = await proxied({ heartbeat: 1000 });
    await broker.declare({ queues: [{ name: q }] });
    const disconnected = new Promise((r) => broker.once('disconnect', r));
    proxy.stall(true);
    await disconnected;
    proxy.stall(false);
    proxy.cutAll();
    await broker.sendToQueue(q, 'after');
    expect(broker.stats().connected).toBe(true);
  });

  it('logs the reconnect (to which URL) and the consumer re-subscribed at info, attempts at debug', async () => {
    const q = uniqueName('q');
    queues.push(q);
    const lines: { level: string; details: Record<string, unknown>; message: string }[] = [];
    const log =
      (level: string) =>
      (details: Record<string, unknown>, message: string): void =>
        void lines.push({ level, details, message });
    const logger = { warn: log('warn'), info: log('info'), debug: log('debug') };
    const { proxy, broker } = await proxied({ logger });
    await broker.declare({ queues: [{ name: q }] });
    const consumer = broker.consume(q, async () => undefined);
    await consumer.ready;
    proxy.cutAll();
    await until(() => broker.stats().reconnects === 1 && consumer.stats().consuming);
    await until(() => lines.some((l) => l.level === 'info' && /re-?subscribed/i.test(l.message)));
    const reconnected = lines.find((l) => l.level === 'info' && /reconnected/i.test(l.message));
    expect(reconnected?.details.url).toBe(proxy.rewrite(amqpUrl()).replace(/:[^:@/]*@/, ':***@'));
    const resubscribed = lines.find((l) => l.level === 'info' && /re-?subscribed/i.test(l.message));
    expect(resubscribed?.details.queue).toBe(q);
    expect(lines.some((l) => l.level === 'debug')).toBe(true);
    expect(JSON.stringify(lines.map((l) => [l.message, l.details]))).not.toContain(':guest@');
  });
});
