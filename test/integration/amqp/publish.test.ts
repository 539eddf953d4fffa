import { getEventListeners } from 'node:events';
import net from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import {
  Broker,
  type BrokerOptions,
  BrokerClosedError,
  BufferFullError,
  ConnectionError,
  TimeoutError,
  UnroutableError,
} from '../../../adapters/amqp/index.js';
import { deleteExchanges, deleteQueues, getMessage, withAmqpChannel } from '../../support/amqp.js';
import { uniqueName } from '../../support/names.js';
import { ChaosProxy } from '../../support/proxy.js';
import { amqpUrl } from '../../support/services.js';
import { rejectionOf } from '../../support/async.js';

const queues: string[] = [];
const exchanges: string[] = [];
const brokers: Broker[] = [];
const cleanups: (() => Promise<void>)[] = [];

function broker(opts: BrokerOptions = { url: amqpUrl() }): Broker {
  const b = new Broker({ clientName: uniqueName('connkit_f'), ...opts });
  b.on('error', () => undefined);
  brokers.push(b);
  return b;
}

function queueName(): string {
  const name = uniqueName('q');
  queues.push(name);
  return name;
}

afterEach(async () => {
  await Promise.all(brokers.splice(0).map((b) => b.close({ timeout: 2000 })));
  for (const fn of cleanups.splice(0).reverse()) await fn();
  await deleteQueues(amqpUrl(), queues.splice(0));
  await deleteExchanges(amqpUrl(), exchanges.splice(0));
});

describe('Broker.publish()', () => {
  it('resolves on the confirm and the message follows the wire conventions', async () => {
    const q = queueName();
    const b = broker({ url: amqpUrl(), topology: { queues: [{ name: q, options: { durable: true } }] } });
    await b.connect();
    await b.sendToQueue(q, { hello: 'wörld' }, { headers: { n: 42, flag: true, s: 'x' } });
    const msg = await getMessage(amqpUrl(), q);
    expect(msg.properties.contentType).toBe('application/json');
    expect(msg.content.toString('utf8')).toBe('{"hello":"wörld"}');
    expect(msg.properties.messageId).toMatch(/^[0-9a-f-]{36}$/);
    expect(msg.properties.deliveryMode).toBe(2);
    expect(typeof msg.properties.timestamp).toBe('number');
    expect(msg.properties.headers).toMatchObject({ n: 42, flag: true, s: 'x' });
  });

  it('sends strings as text/plain and bytes as-is', async () => {
    const q = queueName();
    const b = broker({ url: amqpUrl(), topology: { queues: [{ name: q }] } });
    await b.sendToQueue(q, 'plain text');
    await b.sendToQueue(q, new Uint8Array([1, 2, 3]), { messageId: 'fixed-id', persistent: false });
    const text = await getMessage(amqpUrl(), q);
    expect(text.properties.contentType).toBe('text/plain');
    expect(text.content.toString()).toBe('plain text');
    const bytes = await getMessage(amqpUrl(), q);
    expect(bytes.properties.contentType).toBe('application/octet-stream');
    expect([...bytes.content]).toEqual([1, 2, 3]);
    expect(bytes.properties.messageId).toBe('fixed-id');
    expect(bytes.properties.deliveryMode).toBe(1);
  });

  it('rejects a mandatory message nobody takes with UnroutableError', async () => {
    const ex = uniqueName('ex');
    exchanges.push(ex);
    const b = broker({
      url: amqpUrl(),
      topology: { exchanges: [{ name: ex, type: 'direct', options: { autoDelete: false } }] },
    });
    const err = await rejectionOf(b.publish(ex, 'nobody', { a: 1 }));
    expect(err).toBeInstanceOf(UnroutableError);
    expect((err as UnroutableError).code).toBe('UNROUTABLE');
    // the channel survives: a routable publish still works
    const q = queueName();
    await b.declare({ queues: [{ name: q }], bindings: [{ queue: q, exchange: ex, routingKey: 'k' }] });
    await expect(b.publish(ex, 'k', 1)).resolves.toBeUndefined();
  });

  it('fails only the publish to a missing exchange and keeps publishing', async () => {
    const q = queueName();
    const b = broker({ url: amqpUrl(), topology: { queues: [{ name: q }] } });
    await b.connect();
    const bad = b.publish(uniqueName('missing'), 'k', 1);
    const good = b.sendToQueue(q, 2);
    await expect(bad).rejects.toMatchObject({ code: 'CHANNEL_ERROR' });
    await expect(good).resolves.toBeUndefined();
    await expect(b.sendToQueue(q, 3)).resolves.toBeUndefined();
  });

  it("rejects a message larger than the broker's max and keeps publishing", async () => {
    const q = queueName();
    const b = broker({ url: amqpUrl(), topology: { queues: [{ name: q }] } });
    await b.connect();
    const tooBig = Buffer.alloc(128 * 1024 * 1024 + 1); // RabbitMQ's default max_message_size + 1
    const err = await rejectionOf(b.sendToQueue(q, tooBig));
    expect((err as { code?: string }).code).toBe('CHANNEL_ERROR');
    expect((err as Error).message).toMatch(/larger than configured max size/);
    await expect(b.sendToQueue(q, 'small')).resolves.toBeUndefined();
  });

  it('rejects with the reason when aborted while waiting to be sent', async () => {
    const b = broker({ url: 'amqp://guest:guest@127.0.0.1:1', connectTimeout: 60_000 });
    const ac = new AbortController();
    const p = b.sendToQueue('q', 1, { signal: ac.signal });
    const reason = new Error('changed my mind');
    ac.abort(reason);
    await expect(p).rejects.toBe(reason);
    expect(b.stats().publisher.pending).toBe(0);
  });

  it('rejects with BrokerClosedError after close()', async () => {
    const b = broker();
    await b.connect();
    await b.close();
    await expect(b.sendToQueue('x', 1)).rejects.toBeInstanceOf(BrokerClosedError);
  });

  it('rejects with the reason of an already-aborted signal', async () => {
    const b = broker();
    const reason = new Error('stop');
    await expect(b.sendToQueue('x', 1, { signal: AbortSignal.abort(reason) })).rejects.toBe(reason);
  });

  it('throws synchronously on bad arguments', () => {
    const b = broker();
    expect(() => b.publish(1 as unknown as string, 'k', 1)).toThrow(TypeError);
    expect(() => b.sendToQueue('q', 1, { timeout: -1 })).toThrow(RangeError);
    expect(() => b.sendToQueue('q', undefined)).toThrow(TypeError);
  });

  it('waits while disconnected, bounded by maxPending and timeout', async () => {
    const b = broker({ url: 'amqp://guest:guest@127.0.0.1:1', maxPending: 2, connectTimeout: 60_000 });
    const p1 = b.sendToQueue('q', 1, { timeout: 100 });
    const p2 = b.sendToQueue('q', 2, { timeout: 100 });
    await expect(b.sendToQueue('q', 3)).rejects.toBeInstanceOf(BufferFullError);
    const e1 = await rejectionOf(p1);
    expect(e1).toBeInstanceOf(TimeoutError);
    expect((e1 as Error).message).toMatch(/disconnected/);
    await expect(p2).rejects.toBeInstanceOf(TimeoutError);
  });

  it('expires publishes at publishTimeout (default timeout path) and leaves nothing pending', async () => {
    const b = broker({ url: 'amqp://guest:guest@127.0.0.1:1', publishTimeout: 100, connectTimeout: 60_000 });
    const first = expect(b.sendToQueue('q', 1)).rejects.toBeInstanceOf(TimeoutError);
    await new Promise((r) => setTimeout(r, 50));
    const second = expect(b.sendToQueue('q', 2)).rejects.toBeInstanceOf(TimeoutError);
    await first;
    expect(b.stats().publisher.pending).toBe(1);
    await second;
    expect(b.stats().publisher.pending).toBe(0);
  });

  it('sends a burst of publishes in a few socket writes, every message intact and in order', async () => {
    const q = queueName();
    const b = broker({ url: amqpUrl(), topology: { queues: [{ name: q, options: { durable: false } }] } });
    await b.connect();
    // Socket writes of the process to the broker's port while the burst leaves (one a message before).
    const port = Number(new URL(amqpUrl()).port || 5672);
    let writes = 0;
    const proto = net.Socket.prototype as unknown as Record<'_write' | '_writev', (...a: unknown[]) => void>;
    const original = { _write: proto._write, _writev: proto._writev };
    for (const key of ['_write', '_writev'] as const) {
      proto[key] = function (this: net.Socket, ...args: unknown[]) {
        if (this.remotePort === port) writes++;
        return original[key].apply(this, args);
      };
    }
    cleanups.push(async () => void Object.assign(proto, original));
    const burst = Array.from({ length: 200 }, (_, i) => b.sendToQueue(q, { i }));
    await Promise.all(burst);
    Object.assign(proto, original);
    expect(writes).toBeGreaterThan(0);
    expect(writes).toBeLessThan(20);
    const got = await withAmqpChannel(amqpUrl(), async (ch) => {
      const out: number[] = [];
      for (let msg = await ch.get(q, { noAck: true }); msg; msg = await ch.get(q, { noAck: true }))
        out.push((JSON.parse(msg.content.toString('utf8')) as { i: number }).i);
      return out;
    });
    expect(got).toEqual(Array.from({ length: 200 }, (_, i) => i));
  });
});

describe('Broker()', () => {
  it('throws TypeError on an invalid URL without echoing the password', () => {
    expect(() => new Broker({ url: 'not a url:secret@' })).toThrow(TypeError);
    let message = '';
    try {
      new Broker({ url: 'http://user:s3cret@host' });
    } catch (e) {
      message = (e as Error).message;
    }
    expect(message).toContain('user:***@');
    expect(message).not.toContain('s3cret');
  });
});

describe('Broker.connect()', () => {
  it('rejects wrong credentials with ConnectionError, password never echoed', async () => {
    const url = new URL(amqpUrl());
    url.username = 'guest';
    url.password = 'wrong-Pa55word';
    const b = broker({ url: url.toString(), connectTimeout: 3000 });
    const started = Date.now();
    const err = await rejectionOf(b.connect());
    expect(err).toBeInstanceOf(ConnectionError);
    // A hang guard (a busy machine's broker and timers run late): a connect that kept retrying the
    // refusal would never reject; the refusal itself is the ConnectionError above.
    expect(Date.now() - started).toBeLessThan(3000 + 10_000);
    expect(String((err as Error).message)).not.toContain('wrong-Pa55word');
    expect(String((err as Error).message)).toContain('guest:***@');
    expect(String(((err as Error).cause as Error | undefined)?.message ?? '')).not.toContain(
      'wrong-Pa55word',
    );
  });

  it('fails over to the first answering URL', async () => {
    const q = queueName();
    const b = broker({
      urls: ['amqp://guest:guest@127.0.0.1:1', amqpUrl()],
      topology: { queues: [{ name: q }] },
    });
    const events: unknown[] = [];
    b.on('connect', (e) => events.push(e));
    await b.connect();
    await b.sendToQueue(q, 'x');
    expect(events).toHaveLength(1);
    expect(b.stats().url).toContain('5672');
  });

  it('rejects within connectTimeout when nothing answers', async () => {
    const b = broker({ url: 'amqp://guest:guest@127.0.0.1:1', connectTimeout: 300 });
    const err = await rejectionOf(b.connect());
    expect(err).toBeInstanceOf(ConnectionError);
    expect((err as Error).message).toMatch(/within 300 ms/);
  });
});

/** A TCP listener that counts the connections made to it (and drops each after its first bytes). */
async function countingListener(): Promise<{
  url: string;
  accepted: () => number;
  fence: () => Promise<void>;
}> {
  let accepted = 0;
  let fenceSeen: (() => void) | undefined;
  const server = net.createServer((socket) => {
    accepted++;
    socket.on('error', () => undefined);
    socket.once('data', (chunk: Buffer) => {
      if (chunk.toString() === 'fence') fenceSeen?.();
      socket.destroy();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  cleanups.push(() => new Promise<void>((resolve) => server.close(() => resolve())));
  const port = (server.address() as net.AddressInfo).port;
  return {
    url: `amqp://guest:guest@127.0.0.1:${port}`,
    // Connections made by this process are accepted in the order they were opened: once the
    // listener has heard from a connection of our own opened now, it has counted every earlier one.
    accepted: () => accepted - 1,
    fence: () =>
      new Promise<void>((resolve) => {
        fenceSeen = resolve;
        const socket = net.connect(port, '127.0.0.1', () => socket.write('fence'));
        socket.on('error', () => undefined);
      }),
  };
}

describe('Broker with an already aborted signal', () => {
  it('publish/call/declare on a never-connected Broker reject with the reason and open no connection', async () => {
    const listener = await countingListener();
    const b = broker({ url: listener.url, connectTimeout: 60_000 });
    const reason = new Error('request gone');
    const signal = AbortSignal.abort(reason);
    await expect(b.sendToQueue('q', 1, { signal })).rejects.toBe(reason);
    await expect(b.publish('', 'q', 1, { signal })).rejects.toBe(reason);
    await expect(b.call('q', 1, { signal })).rejects.toBe(reason);
    await expect(b.declare({ queues: [{ name: 'q' }] }, { signal })).rejects.toBe(reason);
    await listener.fence();
    expect(listener.accepted()).toBe(0);
    expect(b.stats()).toMatchObject({ connected: false, connecting: false });
  });
});

describe('Broker.publish() with a signal shared by many calls', () => {
  it('listens to it once: no MaxListenersExceededWarning, no listener left', async () => {
    const q = queueName();
    const b = broker({ url: amqpUrl(), topology: { queues: [{ name: q }] } });
    await b.connect();
    const signal = new AbortController().signal;
    const warnings: Error[] = [];
    const onWarning = (w: Error): void => void warnings.push(w);
    process.on('warning', onWarning);
    try {
      await Promise.all(Array.from({ length: 50 }, (_, i) => b.sendToQueue(q, i, { signal })));
      await new Promise((r) => setImmediate(r));
    } finally {
      process.off('warning', onWarning);
    }
    expect(warnings.filter((w) => w.name === 'MaxListenersExceededWarning')).toEqual([]);
    expect(getEventListeners(signal, 'abort')).toHaveLength(0);
  });
});

describe('Broker.publish() option validation', () => {
  it.each([
    ['expiration: -1', { expiration: -1 }],
    ['expiration: "abc"', { expiration: 'abc' }],
    ['priority: 300', { priority: 300 }],
  ] as const)(
    '%s throws before sending; the in-flight neighbours are not re-published and all confirm',
    async (_, bad) => {
      const q = queueName();
      const b = broker({ url: amqpUrl(), topology: { queues: [{ name: q }] } });
      await b.connect();
      const neighbours = Array.from({ length: 200 }, (_, i) => b.sendToQueue(q, i));
      expect(() => b.sendToQueue(q, 'bad', bad)).toThrow(RangeError);
      const more = Array.from({ length: 50 }, (_, i) => b.sendToQueue(q, 200 + i));
      await Promise.all([...neighbours, ...more]);
      expect(b.stats().publisher).toMatchObject({ republished: 0, confirmed: 250, pending: 0 });
      const depth = await withAmqpChannel(amqpUrl(), async (ch) => (await ch.checkQueue(q)).messageCount);
      expect(depth).toBe(250);
    },
  );
});

describe('Broker.declare()', () => {
  async function stalledBroker(): Promise<{ b: Broker; proxy: ChaosProxy; q: string }> {
    const proxy = await ChaosProxy.forUrl(amqpUrl(), 5672);
    cleanups.push(() => proxy.close());
    const b = broker({ url: proxy.rewrite(amqpUrl()), heartbeat: 0 });
    const q = queueName();
    // A first declaration leaves an idle channel in the pool: the next one goes straight to the wire.
    await b.declare({ queues: [{ name: q }] });
    proxy.stall(true);
    return { b, proxy, q };
  }

  it('Broker.close() on a peer gone silent resolves after its timeout instead of waiting for the close-ok', async () => {
    const { b } = await stalledBroker();
    const started = performance.now();
    await b.close({ timeout: 300 });
    // Well under amqplib's own detection of a dead peer (two heartbeats, 120 s by the broker's default).
    expect(performance.now() - started).toBeLessThan(10_000);
    expect(b.stats()).toMatchObject({ connected: false, connecting: false });
  });

  it('timeout bounds the declaration itself, not only the wait for a connection', async () => {
    const { b, q } = await stalledBroker();
    await expect(b.declare({ queues: [{ name: `${q}_2` }] }, { timeout: 200 })).rejects.toBeInstanceOf(
      TimeoutError,
    );
    queues.push(`${q}_2`);
  });

  it('an abort during the declaration rejects with the reason', async () => {
    const { b, q } = await stalledBroker();
    const ac = new AbortController();
    const declaring = b.declare({ queues: [{ name: `${q}_3` }] }, { signal: ac.signal });
    queues.push(`${q}_3`);
    const reason = new Error('shutting down');
    setImmediate(() => ac.abort(reason));
    await expect(declaring).rejects.toBe(reason);
  });

  it('timeout 0 always rejects with TimeoutError and declares nothing', async () => {
    const b = broker();
    await b.connect();
    const q = queueName();
    await expect(b.declare({ queues: [{ name: q }] }, { timeout: 0 })).rejects.toBeInstanceOf(TimeoutError);
    const exists = await withAmqpChannel(amqpUrl(), (ch) =>
      ch.checkQueue(q).then(
        () => true,
        () => false,
      ),
    );
    expect(exists).toBe(false);
  });
});
