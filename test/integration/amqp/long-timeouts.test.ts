/**
 * Every duration DESIGN §2 allows — including more than 2^31-1 ms (~24.8 days, where a bare
 * `setTimeout` fires at once with "Timeout duration was set to 1") and `Infinity` — works on every
 * call and option of the Broker that takes one.
 */
import { afterEach, describe, expect, it } from 'vitest';
import type { BrokerOptions } from '../../../adapters/amqp/index.js';
import { Broker } from '../../../adapters/amqp/index.js';
import { deleteQueues } from '../../support/amqp.js';
import { uniqueName } from '../../support/names.js';
import { amqpUrl } from '../../support/services.js';

const queues: string[] = [];
const brokers: Broker[] = [];
const LONG = [3e9, Infinity] as const;

function broker(opts: Partial<BrokerOptions> = {}): Broker {
  const b = new Broker({ url: amqpUrl(), clientName: uniqueName('connkit_long'), ...opts });
  b.on('error', () => undefined);
  brokers.push(b);
  return b;
}

function queueName(): string {
  const name = uniqueName('long_q');
  queues.push(name);
  return name;
}

afterEach(async () => {
  await Promise.all(brokers.splice(0).map((b) => b.close({ timeout: 2000 })));
  await deleteQueues(amqpUrl(), queues.splice(0));
});

/** Runs `fn` and returns the TimeoutOverflowWarnings Node printed meanwhile. */
async function overflowWarnings(fn: () => Promise<void>): Promise<Error[]> {
  const warnings: Error[] = [];
  const onWarning = (w: Error): void => void warnings.push(w);
  process.on('warning', onWarning);
  try {
    await fn();
    await new Promise((r) => setImmediate(r));
  } finally {
    process.off('warning', onWarning);
  }
  return warnings.filter((w) => w.name === 'TimeoutOverflowWarning');
}

describe.each(LONG)('timeout %s', (timeout) => {
  it('Broker.sendToQueue() resolves on the confirm', async () => {
    const q = queueName();
    const b = broker({ topology: { queues: [{ name: q }] } });
    await b.connect();
    const warnings = await overflowWarnings(async () => {
      await Promise.all(Array.from({ length: 50 }, (_, i) => b.sendToQueue(q, i, { timeout })));
    });
    expect(warnings).toEqual([]);
    expect(b.stats().publisher).toMatchObject({ pending: 0, confirmed: 50 });
  });

  it('Broker.call() waits for a reply slower than the first tick', async () => {
    const q = queueName();
    const b = broker({ topology: { queues: [{ name: q }] } });
    const server = b.serve<number>(q, async (msg) => {
      // Longer than a timer "set to 1" would wait.
      await new Promise((r) => setTimeout(r, 50));
      return msg.body + 1;
    });
    await server.ready;
    const warnings = await overflowWarnings(async () => {
      await expect(b.call(q, 41, { timeout })).resolves.toBe(42);
    });
    expect(warnings).toEqual([]);
  });

  it('Broker.declare() declares', async () => {
    const q = queueName();
    const b = broker();
    await b.declare({ queues: [{ name: q }] }, { timeout });
    await expect(b.sendToQueue(q, 'x', { timeout })).resolves.toBeUndefined();
  });

  it('Broker.close() lets a running handler finish instead of aborting it at once', async () => {
    const q = queueName();
    const b = broker({ topology: { queues: [{ name: q }] } });
    let release!: () => void;
    const released = new Promise<void>((r) => (release = r));
    let started = false;
    let abortedWith: unknown;
    const consumer = b.consume(q, async (_msg, signal) => {
      started = true;
      signal.addEventListener('abort', () => {
        abortedWith = signal.reason as unknown;
      });
      await released;
    });
    await consumer.ready;
    await b.sendToQueue(q, 1);
    while (!started) await new Promise((r) => setTimeout(r, 5));
    const closing = b.close({ timeout });
    await new Promise((r) => setTimeout(r, 50));
    expect(abortedWith).toBeUndefined();
    release();
    await closing;
    expect(abortedWith).toBeUndefined();
    expect(consumer.stats().acked).toBe(1);
  });

  it('publishTimeout and connectTimeout options take it', async () => {
    const q = queueName();
    const warnings = await overflowWarnings(async () => {
      const b = broker({
        publishTimeout: timeout,
        connectTimeout: timeout,
        topology: { queues: [{ name: q }] },
      });
      await b.connect({ signal: AbortSignal.timeout(20_000) });
      await b.sendToQueue(q, 'x');
      await b.call(q, 'x', { timeout: 0 }).catch(() => undefined);
    });
    expect(warnings).toEqual([]);
  });
});
