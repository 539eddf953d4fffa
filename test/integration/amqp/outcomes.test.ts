/**
 * What becomes of a delivery, row by row of the outcome table in `ConsumeOptions`' JSDoc (and the
 * README's consumers section), on the real broker.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { NonRetryableError, RequeueError, type Message } from '../../../adapters/amqp/index.js';
import { ConnkitError } from '../../../src/index.js';
import { deleteQueues, getMessage, withAmqpChannel } from '../../support/amqp.js';
import { until } from '../../support/async.js';
import { testBrokers } from '../../support/brokers.js';
import { uniqueName } from '../../support/names.js';
import { amqpUrl } from '../../support/services.js';

const queues: string[] = [];
const { broker, closeAll: closeBrokers } = testBrokers();

function queueName(): string {
  const name = uniqueName('q');
  queues.push(name, `${name}.dead`, `${name}.dlx`, `${name}.connkit-delay.10ms`);
  return name;
}

afterEach(async () => {
  await closeBrokers();
  await deleteQueues(amqpUrl(), queues.splice(0));
});

async function queueDepth(queue: string): Promise<number> {
  return withAmqpChannel(amqpUrl(), async (ch) => (await ch.checkQueue(queue)).messageCount);
}

/** The consumer of `q` with `handler`, retrying 3 times 10 ms apart, dead-lettering to `q.dead`. */
async function consumerOf(
  q: string,
  handler: (msg: Message) => Promise<void>,
  retryIf?: (err: unknown, msg: Message) => boolean,
) {
  const b = broker();
  await b.declare({ queues: [{ name: q }] });
  const consumer = b.consume(q, handler, {
    retry: { attempts: 3, delay: 10, ...(retryIf ? { retryIf } : {}) },
    deadLetter: `${q}.dead`,
  });
  await consumer.ready;
  return { b, consumer };
}

describe('Consumer outcomes', () => {
  it('handler resolves → ack: the queue is empty, nothing retried or dead-lettered', async () => {
    const q = queueName();
    const { b, consumer } = await consumerOf(q, async () => undefined);
    await b.sendToQueue(q, 1);
    await until(() => consumer.stats().acked === 1);
    expect(consumer.stats()).toMatchObject({ retried: 0, deadLettered: 0, rejected: 0, requeued: 0 });
    expect(await queueDepth(q)).toBe(0);
  });

  it('handler throws NonRetryableError → dead-lettered at once, attempts left or not', async () => {
    const q = queueName();
    let calls = 0;
    const { b, consumer } = await consumerOf(q, async () => {
      calls++;
      throw new NonRetryableError('order 7 references no customer');
    });
    await b.sendToQueue(q, { order: 7 }, { messageId: 'poison-1' });
    const dead = await getMessage(amqpUrl(), `${q}.dead`);
    expect(calls).toBe(1);
    expect(dead.properties.messageId).toBe('poison-1');
    expect(dead.properties.headers?.['x-connkit-error-name']).toBe('NonRetryableError');
    expect(dead.properties.headers?.['x-connkit-error']).toBe('order 7 references no customer');
    expect(dead.properties.headers?.['x-connkit-attempt']).toBeUndefined(); // first and only attempt
    expect(consumer.stats()).toMatchObject({ retried: 0, deadLettered: 1 });
  });

  it('handler throws a subclass of NonRetryableError → dead-lettered at once under its own name', async () => {
    class InvalidOrderError extends NonRetryableError {}
    const q = queueName();
    let calls = 0;
    const { b } = await consumerOf(q, async () => {
      calls++;
      throw new InvalidOrderError('negative quantity');
    });
    await b.sendToQueue(q, { qty: -1 });
    const dead = await getMessage(amqpUrl(), `${q}.dead`);
    expect(calls).toBe(1);
    expect(dead.properties.headers?.['x-connkit-error-name']).toBe('InvalidOrderError');
  });

  it("handler throws NonRetryableError without deadLetter → rejected at once to the queue's own DLX", async () => {
    const q = queueName();
    const b = broker();
    await b.declare({
      queues: [
        { name: `${q}.dlx` },
        { name: q, options: { deadLetterExchange: '', deadLetterRoutingKey: `${q}.dlx` } },
      ],
    });
    let calls = 0;
    const consumer = b.consume(
      q,
      async () => {
        calls++;
        throw new NonRetryableError('bad');
      },
      { retry: { attempts: 5, delay: 10 } },
    );
    await consumer.ready;
    await b.sendToQueue(q, 'x');
    const msg = await getMessage(amqpUrl(), `${q}.dlx`);
    expect(msg.content.toString()).toBe('x');
    expect(calls).toBe(1);
    expect(consumer.stats()).toMatchObject({ rejected: 1, retried: 0 });
  });

  it('handler throws and retry.retryIf(err, msg) returns false → dead-lettered at once', async () => {
    const q = queueName();
    const seen: [unknown, unknown][] = [];
    const retryIf = (err: unknown, msg: Message): boolean => {
      seen.push([err, msg.body]);
      return !(err instanceof TypeError);
    };
    let calls = 0;
    const { b, consumer } = await consumerOf(
      q,
      async () => {
        calls++;
        throw new TypeError('not a transient failure');
      },
      retryIf,
    );
    await b.sendToQueue(q, { n: 1 });
    const dead = await getMessage(amqpUrl(), `${q}.dead`);
    expect(calls).toBe(1);
    expect(dead.properties.headers?.['x-connkit-error-name']).toBe('TypeError');
    expect(seen).toHaveLength(1);
    expect(seen[0]![0]).toBeInstanceOf(TypeError);
    expect(seen[0]![1]).toEqual({ n: 1 });
    expect(consumer.stats()).toMatchObject({ retried: 0, deadLettered: 1 });
  });

  it('handler throws and retry.retryIf returns true → retried until the attempts are spent, then dead-lettered', async () => {
    const q = queueName();
    const attempts: number[] = [];
    const { b, consumer } = await consumerOf(
      q,
      async (msg) => {
        attempts.push(msg.attempt);
        throw new Error('connection reset');
      },
      (err) => err instanceof Error && err.message === 'connection reset',
    );
    await b.sendToQueue(q, 1);
    const dead = await getMessage(amqpUrl(), `${q}.dead`);
    expect(attempts).toEqual([1, 2, 3]);
    expect(dead.properties.headers?.['x-connkit-attempt']).toBe(3);
    expect(consumer.stats()).toMatchObject({ retried: 2, deadLettered: 1 });
  });

  it('retry.retryIf throws → reported, and the message is retried as if there were no retryIf', async () => {
    const q = queueName();
    const attempts: number[] = [];
    const { b } = await consumerOf(
      q,
      async (msg) => {
        attempts.push(msg.attempt);
        if (msg.attempt === 1) throw new Error('transient');
      },
      () => {
        throw new RangeError('retryIf is broken');
      },
    );
    const reported: Error[] = [];
    b.on('error', (err: Error) => reported.push(err));
    await b.sendToQueue(q, 1);
    await until(() => attempts.length === 2);
    expect(attempts).toEqual([1, 2]);
    expect(reported.some((e) => e.message === 'retryIf is broken')).toBe(true);
  });

  it('handler throws RequeueError → back to the queue at once: redelivered, attempt not counted, no delay queue', async () => {
    const q = queueName();
    const seen: [number, boolean][] = [];
    const { b, consumer } = await consumerOf(q, async (msg) => {
      seen.push([msg.attempt, msg.fields.redelivered]);
      if (seen.length === 1) throw new RequeueError('not my turn yet');
    });
    await b.sendToQueue(q, 1);
    await until(() => consumer.stats().acked === 1);
    expect(seen).toEqual([
      [1, false],
      [1, true],
    ]);
    expect(consumer.stats()).toMatchObject({ requeued: 1, retried: 0, deadLettered: 0 });
  });

  it('body does not decode → dead-lettered at once, the handler never runs, retryIf is not asked', async () => {
    const q = queueName();
    let calls = 0;
    let asked = 0;
    const { consumer } = await consumerOf(
      q,
      async () => void calls++,
      () => {
        asked++;
        return true;
      },
    );
    await withAmqpChannel(amqpUrl(), async (ch) => {
      ch.sendToQueue(q, Buffer.from('{"unterminated'), { contentType: 'application/json' });
      await ch.checkQueue(q);
    });
    const dead = await getMessage(amqpUrl(), `${q}.dead`);
    expect(dead.properties.headers?.['x-connkit-error-name']).toBe('SyntaxError');
    expect([calls, asked]).toEqual([0, 0]);
    expect(consumer.stats()).toMatchObject({ retried: 0, deadLettered: 1 });
  });

  it('NonRetryableError and RequeueError are ConnkitErrors with stable codes and keep their cause', () => {
    const cause = new Error('root');
    const poison = new NonRetryableError('poison', { cause });
    expect(poison).toBeInstanceOf(ConnkitError);
    expect(poison).toMatchObject({ code: 'NON_RETRYABLE', name: 'NonRetryableError', cause });
    const requeue = new RequeueError();
    expect(requeue).toBeInstanceOf(ConnkitError);
    expect(requeue).toMatchObject({ code: 'REQUEUE', name: 'RequeueError' });
  });

  it('broker.consume() with a retryIf that is not a function throws TypeError synchronously', () => {
    const b = broker();
    const handler = async (): Promise<void> => undefined;
    const bad = { attempts: 2, delay: 10, retryIf: 'yes' } as never;
    expect(() => b.consume(queueName(), handler, { retry: bad })).toThrow(TypeError);
    expect(() => b.consume(queueName(), handler, { retry: bad })).toThrow(/retry\.retryIf.*"yes"/);
    expect(b.stats().consumers).toHaveLength(0);
  });
});
