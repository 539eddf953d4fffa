/** Raw-`amqplib` helpers for integration tests: setup, assertions and cleanup. */
import amqp from 'amqplib';

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
