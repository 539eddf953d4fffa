import { afterEach, describe, expect, it } from 'vitest';
import type { Message } from '../../../adapters/amqp/index.js';
import { deleteQueues, getMessage, withAmqpChannel } from '../../support/amqp.js';
import { testBrokers } from '../../support/brokers.js';
import { uniqueName } from '../../support/names.js';
import { amqpUrl } from '../../support/services.js';
import { until } from '../../support/async.js';

const queues: string[] = [];
const { broker, closeAll: closeBrokers } = testBrokers();

function queueName(): string {
  const name = uniqueName('q');
  queues.push(name, `${name}.dead`, `${name}.dlx`);
  return name;
}

afterEach(async () => {
  await closeBrokers();
  const names = queues.splice(0);
  // delay queues of the retry tests
  await deleteQueues(amqpUrl(), [
    ...names,
    ...names.flatMap((q) => [10, 20, 30].map((ms) => `${q}.connkit-delay.${ms}ms`)),
  ]);
});

async function queueDepth(queue: string): Promise<number> {
  return withAmqpChannel(amqpUrl(), async (ch) => (await ch.checkQueue(queue)).messageCount);
}

describe('Broker.consume()', () => {
  it('acks on resolve and never runs more than `concurrency` handlers', async () => {
    const q = queueName();
    const b = broker();
    await b.declare({ queues: [{ name: q }] });
    for (let i = 0; i < 30; i++) await b.sendToQueue(q, { i });
    let running = 0;
    let maxRunning = 0;
    const seen: number[] = [];
    const consumer = b.consume<{ i: number }>(
      q,
      async (msg) => {
        running++;
        maxRunning = Math.max(maxRunning, running);
        await new Promise((r) => setTimeout(r, 5));
        seen.push(msg.body.i);
        running--;
      },
      { concurrency: 3, prefetch: 10 },
    );
    await consumer.ready;
    await until(() => seen.length === 30);
    expect(maxRunning).toBe(3);
    await until(() => consumer.stats().acked === 30);
    await consumer.close();
    expect(await queueDepth(q)).toBe(0);
  });

  it('retries through the delay queue with msg.attempt counting, then succeeds', async () => {
    const q = queueName();
    const b = broker();
    await b.declare({ queues: [{ name: q }] });
    const attempts: number[] = [];
    const consumer = b.consume(
      q,
      async (msg: Message) => {
        attempts.push(msg.attempt);
        if (msg.attempt < 3) throw new Error(`fail ${msg.attempt}`);
      },
      { retry: { attempts: 3, delay: [10, 20] } },
    );
    await consumer.ready;
    await b.sendToQueue(q, { job: 1 });
    await until(() => attempts.length === 3);
    expect(attempts).toEqual([1, 2, 3]);
    expect(consumer.stats().retried).toBe(2);
  });

  it('dead-letters with the error in headers once attempts are spent', async () => {
    const q = queueName();
    const b = broker();
    await b.declare({ queues: [{ name: q }] });
    let calls = 0;
    const consumer = b.consume(
      q,
      async () => {
        calls++;
        throw new Error('boom');
      },
      { retry: { attempts: 2, delay: 10 }, deadLetter: `${q}.dead` },
    );
    await consumer.ready;
    await b.sendToQueue(q, { job: 1 }, { messageId: 'm-1' });
    const dead = await getMessage(amqpUrl(), `${q}.dead`);
    expect(calls).toBe(2);
    expect(dead.properties.headers?.['x-connkit-error']).toBe('boom');
    expect(dead.properties.headers?.['x-connkit-attempt']).toBe(2);
    expect(dead.properties.messageId).toBe('m-1');
    expect(JSON.parse(dead.content.toString())).toEqual({ job: 1 });
  });

  it('retries and dead-letters a foreign message without message_id keeping it id-less', async () => {
    const q = queueName();
    const b = broker();
    await b.declare({ queues: [{ name: q }] });
    const ids: unknown[] = [];
    const consumer = b.consume(
      q,
      async (msg) => {
        ids.push(msg.properties.messageId);
        throw new Error('always');
      },
      { retry: { attempts: 3, delay: 10 }, deadLetter: `${q}.dead` },
    );
    await consumer.ready;
    await withAmqpChannel(amqpUrl(), async (ch) => {
      ch.sendToQueue(q, Buffer.from('no id'), { contentType: 'text/plain' });
      await ch.checkQueue(q);
    });
    const dead = await getMessage(amqpUrl(), `${q}.dead`);
    expect(ids).toEqual([undefined, undefined, undefined]);
    expect(dead.properties.messageId).toBeUndefined();
    expect(dead.properties.headers?.['x-connkit-attempt']).toBe(3);
    expect(dead.content.toString()).toBe('no id');
    expect(consumer.stats()).toMatchObject({ retried: 2, deadLettered: 1 });
  });

  it("rejects to the queue's own DLX when no deadLetter is given", async () => {
    const q = queueName();
    const b = broker();
    await b.declare({
      queues: [
        { name: `${q}.dlx` },
        { name: q, options: { deadLetterExchange: '', deadLetterRoutingKey: `${q}.dlx` } },
      ],
    });
    const consumer = b.consume(q, async () => {
      throw new Error('nope');
    });
    await consumer.ready;
    await b.sendToQueue(q, 'x');
    const msg = await getMessage(amqpUrl(), `${q}.dlx`);
    expect(msg.content.toString()).toBe('x');
    expect(consumer.stats().rejected).toBe(1);
  });

  it('dead-letters a handler that throws a non-Error', async () => {
    const q = queueName();
    const b = broker();
    await b.declare({ queues: [{ name: q }] });
    const consumer = b.consume(
      q,
      async () => {
        throw 'a string';
      },
      { deadLetter: `${q}.dead` },
    );
    await consumer.ready;
    await b.sendToQueue(q, 1);
    const dead = await getMessage(amqpUrl(), `${q}.dead`);
    expect(String(dead.properties.headers?.['x-connkit-error'])).toContain('a string');
  });

  it('dead-letters a JSON body that does not parse and lives on', async () => {
    const q = queueName();
    const b = broker();
    await b.declare({ queues: [{ name: q }] });
    const bodies: unknown[] = [];
    const consumer = b.consume(q, async (msg) => void bodies.push(msg.body), {
      deadLetter: `${q}.dead`,
      retry: { attempts: 3, delay: 10 },
    });
    await consumer.ready;
    await withAmqpChannel(amqpUrl(), async (ch) => {
      ch.sendToQueue(q, Buffer.from('{not json'), { contentType: 'application/json; charset=utf-8' });
      ch.sendToQueue(q, Buffer.from('{"ok":true}'), { contentType: 'application/json; charset=utf-8' });
      ch.sendToQueue(q, Buffer.from('{"raw":1}'));
      await ch.checkQueue(q); // a round trip: the publishes before it have arrived
    });
    const dead = await getMessage(amqpUrl(), `${q}.dead`);
    expect(dead.content.toString()).toBe('{not json');
    expect(dead.properties.headers?.['x-connkit-error-name']).toBe('SyntaxError');
    await until(() => bodies.length === 2);
    expect(bodies[0]).toEqual({ ok: true });
    expect(Buffer.isBuffer(bodies[1])).toBe(true); // no content type: bytes, no guessing
  });

  it('treats a foreign message without the attempt header as attempt 1', async () => {
    const q = queueName();
    const b = broker();
    await b.declare({ queues: [{ name: q }] });
    const got: Message[] = [];
    const consumer = b.consume(q, async (msg) => void got.push(msg));
    await consumer.ready;
    await withAmqpChannel(amqpUrl(), async (ch) => {
      ch.sendToQueue(q, Buffer.from('hi'), { contentType: 'text/plain', headers: { n: 7 } });
      await ch.checkQueue(q);
    });
    await until(() => got.length === 1);
    expect(got[0]!.attempt).toBe(1);
    expect(got[0]!.body).toBe('hi');
    expect(got[0]!.properties.headers?.n).toBe(7);
  });

  it('recovers from a broker-side consumer cancel', async () => {
    const q = queueName();
    const b = broker();
    await b.declare({ queues: [{ name: q }] });
    const seen: number[] = [];
    const consumer = b.consume<number>(q, async (msg) => void seen.push(msg.body));
    await consumer.ready;
    await withAmqpChannel(amqpUrl(), async (ch) => {
      await ch.deleteQueue(q);
      await ch.assertQueue(q);
    });
    await b.sendToQueue(q, 5);
    await until(() => seen.includes(5), 20_000);
    expect(consumer.stats().consuming).toBe(true);
  });
});

describe('Consumer.close()', () => {
  it('waits for in-flight handlers and returns leftovers to the queue', async () => {
    const q = queueName();
    const b = broker();
    await b.declare({ queues: [{ name: q }] });
    for (let i = 0; i < 5; i++) await b.sendToQueue(q, i);
    let started = 0;
    let finished = 0;
    const consumer = b.consume(
      q,
      async () => {
        started++;
        await new Promise((r) => setTimeout(r, 200));
        finished++;
      },
      { prefetch: 5 },
    );
    await until(() => started === 1);
    await consumer.close({ timeout: 5000 });
    expect(finished).toBe(1);
    expect(consumer.stats().acked).toBe(1);
    expect(await queueDepth(q)).toBe(4);
  });

  it("aborts the handler's signal when the close is forced", async () => {
    const q = queueName();
    const b = broker();
    await b.declare({ queues: [{ name: q }] });
    await b.sendToQueue(q, 1);
    let aborted: unknown;
    let started = false;
    const consumer = b.consume(q, async (_msg, signal) => {
      started = true;
      await new Promise<void>((resolve) => signal.addEventListener('abort', () => resolve()));
      aborted = signal.reason;
    });
    await until(() => started);
    await consumer.close({ timeout: 50 });
    expect(aborted).toBeInstanceOf(Error);
    // Unacked: back in the queue once the broker has seen the channel close (polled, not slept on).
    await until(async () => (await queueDepth(q)) === 1, 10_000, 'the message back in the queue');
  });
});
