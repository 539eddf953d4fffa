import { getEventListeners } from 'node:events';
import { afterEach, describe, expect, it } from 'vitest';
import { Broker, RemoteError, TimeoutError, UnroutableError } from '../../../adapters/amqp/index.js';
import { ConnkitError } from '../../../src/errors.js';
import { deleteQueues, withAmqpChannel } from '../../support/amqp.js';
import { testBrokers } from '../../support/brokers.js';
import { uniqueName } from '../../support/names.js';
import { amqpUrl } from '../../support/services.js';

const queues: string[] = [];
const { broker, closeAll: closeBrokers } = testBrokers();

afterEach(async () => {
  await closeBrokers();
  await deleteQueues(amqpUrl(), queues.splice(0));
});

async function rpcQueue(b: Broker): Promise<string> {
  const q = uniqueName('rpc');
  queues.push(q);
  await b.declare({ queues: [{ name: q }] });
  return q;
}

describe('Broker.call()', () => {
  it('runs many calls in flight on one reply consumer and matches replies', async () => {
    const server = broker();
    const client = broker();
    const q = await rpcQueue(server);
    const consumer = server.serve<{ n: number }>(
      q,
      async (msg) => {
        await new Promise((r) => setTimeout(r, Math.random() * 20));
        return { doubled: msg.body.n * 2 };
      },
      { concurrency: 8 },
    );
    await consumer.ready;
    const results = await Promise.all(
      Array.from({ length: 100 }, (_, n) => client.call<{ doubled: number }>(q, { n })),
    );
    expect(results.map((r) => r.doubled)).toEqual(Array.from({ length: 100 }, (_, n) => n * 2));
    expect(client.stats().rpcPending).toBe(0);
  });

  it('rejects with RemoteError carrying the remote name, message and code when the handler throws', async () => {
    const b = broker();
    const q = await rpcQueue(b);
    const consumer = b.serve(q, async () => {
      throw new ConnkitError('no such order', 'NOT_FOUND');
    });
    await consumer.ready;
    const err = await b.call(q, { id: 1 }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(RemoteError);
    expect(err).toBeInstanceOf(ConnkitError);
    expect((err as RemoteError).code).toBe('REMOTE');
    expect((err as RemoteError).message).toBe('no such order');
    expect((err as RemoteError).remoteName).toBe('ConnkitError');
    expect((err as RemoteError).remoteCode).toBe('NOT_FOUND');
  });

  it('sends reply_to, correlation_id and an expiration equal to the timeout', async () => {
    const b = broker();
    const q = await rpcQueue(b);
    const call = b.call(q, 'ping', { timeout: 300 }).catch((e: unknown) => e);
    const request = await withAmqpChannel(amqpUrl(), async (ch) => {
      for (let i = 0; i < 100; i++) {
        const msg = await ch.get(q, { noAck: true });
        if (msg) return msg;
        await new Promise((r) => setTimeout(r, 10));
      }
      throw new Error('no request');
    });
    expect(request.properties.replyTo).toMatch(/^amq\.rabbitmq\.reply-to/); // the broker appends the channel's key
    expect(request.properties.correlationId).toMatch(/^[0-9a-f-]{36}$/);
    expect(Number(request.properties.expiration)).toBeGreaterThan(0);
    expect(Number(request.properties.expiration)).toBeLessThanOrEqual(300);
    expect(request.content.toString()).toBe('ping');
    expect(await call).toBeInstanceOf(TimeoutError);
  });

  it('rejects with UnroutableError when no queue takes the request', async () => {
    const b = broker();
    await expect(b.call(uniqueName('nobody'), 1, { timeout: 5000 })).rejects.toBeInstanceOf(UnroutableError);
  });

  it('rejects with the abort reason', async () => {
    const b = broker();
    const q = await rpcQueue(b);
    const ac = new AbortController();
    const call = b.call(q, 1, { signal: ac.signal });
    setTimeout(() => ac.abort(new Error('enough')), 50);
    await expect(call).rejects.toThrow('enough');
  });

  it('timeout 0 always rejects with TimeoutError and sends no request, even to a live server', async () => {
    const b = broker();
    const q = await rpcQueue(b);
    let served = 0;
    const server = b.serve(q, async () => ++served);
    await server.ready;
    await expect(b.call(q, 1)).resolves.toBe(1);
    await expect(b.call(q, 2, { timeout: 0 })).rejects.toBeInstanceOf(TimeoutError);
    await expect(b.call(q, 3)).resolves.toBe(2); // the timeout-0 request never reached the server
    expect(b.stats().rpcPending).toBe(0);
  });

  it('listens once to a signal shared by 50 concurrent calls: no MaxListenersExceededWarning, no listener left', async () => {
    const b = broker();
    const q = await rpcQueue(b);
    const server = b.serve<number>(q, async (msg) => msg.body * 2, { concurrency: 8 });
    await server.ready;
    const signal = new AbortController().signal;
    const warnings: Error[] = [];
    const onWarning = (w: Error): void => void warnings.push(w);
    process.on('warning', onWarning);
    try {
      const results = await Promise.all(
        Array.from({ length: 50 }, (_, n) => b.call<number>(q, n, { signal })),
      );
      expect(results).toEqual(Array.from({ length: 50 }, (_, n) => n * 2));
      await new Promise((r) => setImmediate(r));
    } finally {
      process.off('warning', onWarning);
    }
    expect(warnings.filter((w) => w.name === 'MaxListenersExceededWarning')).toEqual([]);
    expect(getEventListeners(signal, 'abort')).toHaveLength(0);
  });
});
