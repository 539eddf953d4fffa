import { afterEach, describe, expect, it } from 'vitest';
import { Broker, RemoteError, TimeoutError, UnroutableError } from '../../../adapters/amqp/index.js';
import { ConnkitError } from '../../../src/errors.js';
import { deleteQueues, getMessage } from '../../support/amqp.js';
import { testBrokers } from '../../support/brokers.js';
import { uniqueName } from '../../support/names.js';
import { amqpUrl } from '../../support/services.js';
import { rejectionOf } from '../../support/async.js';

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
    const err = await rejectionOf(b.call(q, { id: 1 }));
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
    const timedOut = expect(b.call(q, 'ping', { timeout: 300 })).rejects.toBeInstanceOf(TimeoutError);
    const request = await getMessage(amqpUrl(), q);
    expect(request.properties.replyTo).toMatch(/^amq\.rabbitmq\.reply-to/); // the broker appends the channel's key
    expect(request.properties.correlationId).toMatch(/^[0-9a-f-]{36}$/);
    expect(Number(request.properties.expiration)).toBeGreaterThan(0);
    expect(Number(request.properties.expiration)).toBeLessThanOrEqual(300);
    expect(request.content.toString()).toBe('ping');
    await timedOut;
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
});
