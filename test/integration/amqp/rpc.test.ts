import { getEventListeners } from 'node:events';
import type { ConsumeMessage } from 'amqplib';
import { afterEach, describe, expect, it } from 'vitest';
import { Broker, RemoteError, TimeoutError, UnroutableError } from '../../../adapters/amqp/index.js';
import { ConnkitError } from '../../../src/errors.js';
import { deleteQueues, getMessage, withAmqpChannel } from '../../support/amqp.js';
import { deferred } from '../../support/async.js';
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
    const call = b.call(q, { id: 1 });
    await expect(call).rejects.toBeInstanceOf(RemoteError);
    await expect(call).rejects.toBeInstanceOf(ConnkitError);
    await expect(call).rejects.toMatchObject({
      code: 'REMOTE',
      message: 'no such order',
      remoteName: 'ConnkitError',
      remoteCode: 'NOT_FOUND',
    });
  });

  it.each([
    ['a number', 429],
    ['a string', 'E_RATE_LIMIT'],
  ])(
    'keeps a remote code that is %s: serve() puts it in the error reply, call() in RemoteError.remoteCode',
    async (_kind, code) => {
      const b = broker();
      const q = await rpcQueue(b);
      const consumer = b.serve(q, async () => {
        throw Object.assign(new RangeError('slow down'), { code });
      });
      await consumer.ready;
      // the connkit caller
      await expect(b.call(q, 'x')).rejects.toMatchObject({
        code: 'REMOTE',
        message: 'slow down',
        remoteName: 'RangeError',
        remoteCode: code,
      });
      // what any other client reads: header x-error and the JSON error body of DESIGN §6
      const reply = await withAmqpChannel(amqpUrl(), async (ch) => {
        const { queue: replyTo } = await ch.assertQueue('', { exclusive: true });
        const got = deferred<ConsumeMessage>();
        await ch.consume(replyTo, (msg) => msg && got.resolve(msg), { noAck: true });
        ch.sendToQueue(q, Buffer.from('"x"'), {
          replyTo,
          correlationId: 'raw-1',
          contentType: 'application/json',
        });
        return got.promise;
      });
      expect(reply.properties.correlationId).toBe('raw-1');
      expect(reply.properties.headers?.['x-error']).toBe('slow down');
      expect(reply.properties.contentType).toBe('application/json');
      expect(JSON.parse(reply.content.toString('utf8'))).toEqual({
        error: { name: 'RangeError', message: 'slow down', code },
      });
    },
  );

  it.each([
    ['a number', 404],
    ['a string', 'NO_SUCH_USER'],
  ])("rejects with RemoteError on a foreign server's error reply whose code is %s", async (_kind, code) => {
    const b = broker();
    const q = await rpcQueue(b);
    // a server written with another client: raw amqplib, replying as DESIGN §6 says
    await withAmqpChannel(amqpUrl(), async (ch) => {
      await ch.consume(
        q,
        (msg) => {
          if (!msg) return;
          const body = { error: { name: 'LookupError', message: 'no such user', code } };
          ch.publish('', msg.properties.replyTo as string, Buffer.from(JSON.stringify(body)), {
            correlationId: msg.properties.correlationId as string,
            contentType: 'application/json',
            headers: { 'x-error': 'no such user' },
          });
        },
        { noAck: true },
      );
      const call = b.call(q, { user: 7 }, { timeout: 10_000 });
      await expect(call).rejects.toBeInstanceOf(RemoteError);
      await expect(call).rejects.toMatchObject({
        code: 'REMOTE',
        message: 'no such user',
        remoteName: 'LookupError',
        remoteCode: code,
      });
    });
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
