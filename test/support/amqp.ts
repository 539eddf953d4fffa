/** Raw-`amqplib` helpers for integration tests: setup, assertions and cleanup. */
import amqp from 'amqplib';
import { until } from './async.js';

/** Runs `fn` with a raw amqplib channel on its own connection and always closes both. */
export async function withAmqpChannel<R>(url: string, fn: (channel: amqp.Channel) => Promise<R>): Promise<R> {
  const connection = await amqp.connect(url);
  connection.on('error', () => undefined);
  try {
    const channel = await connection.createChannel();
    channel.on('error', () => undefined);
    return await fn(channel);
  } finally {
    await connection.close().catch(() => undefined);
  }
}

/** Deletes queues (missing ones are fine). */
export async function deleteQueues(url: string, names: Iterable<string>): Promise<void> {
  await withAmqpChannel(url, async (ch) => {
    for (const name of names) await ch.deleteQueue(name);
  });
}

/** Deletes exchanges (missing ones are fine). */
export async function deleteExchanges(url: string, names: Iterable<string>): Promise<void> {
  await withAmqpChannel(url, async (ch) => {
    for (const name of names) await ch.deleteExchange(name);
  });
}

/**
 * Takes one message from `queue` (no ack), polling until one is there; rejects after `ms`.
 *
 * @example
 * ```ts
 * const dead = await getMessage(amqpUrl(), `${q}.dead`);
 * expect(dead.properties.headers?.['x-connkit-attempt']).toBe(3);
 * ```
 */
export async function getMessage(url: string, queue: string, ms = 4_000): Promise<amqp.GetMessage> {
  return withAmqpChannel(url, async (ch) => {
    const got: amqp.GetMessage[] = [];
    const take = async (): Promise<boolean> => {
      const msg = await ch.get(queue, { noAck: true });
      if (msg) got.push(msg);
      return got.length > 0;
    };
    await until(take, ms, `a message in ${queue}`);
    return got[0]!;
  });
}
