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
import { deleteExchanges, deleteQueues, getMessage } from '../../support/amqp.js';
import { uniqueName } from '../../support/names.js';
import { amqpUrl } from '../../support/services.js';
import { rejectionOf } from '../../support/async.js';

const queues: string[] = [];
const exchanges: string[] = [];
const brokers: Broker[] = [];

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
    expect(Date.now() - started).toBeLessThan(3000 + 1000);
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
