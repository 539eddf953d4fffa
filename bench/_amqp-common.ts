/**
 * Shared setup of the AMQP suites: broker URL, a fresh transient queue per contender, and a fast
 * raw filler. Queues are non-durable so that the broker's disk is not what is measured.
 * @module
 */
import { randomBytes, randomUUID } from 'node:crypto';
import amqp from 'amqplib';
import { benchServices } from './_services.js';
import { startClock } from './harness.js';

/** RabbitMQ of this run (see `_services.ts`). */
export const AMQP_URL = (await benchServices()).amqpUrl;
/** Messages in flight (publish) and prefetch (consume), the same for every contender. */
export const WINDOW = 256;
/** Messages per round. */
export const MESSAGES = 20_000;
/** 128-byte body: bytes, so every client sends the same thing and nobody pays for JSON. */
export const PAYLOAD = randomBytes(128);

/** Unique bench queue name. */
export function benchQueue(tag: string): string {
  return `connkit_bench_${tag}_${process.pid}_${randomUUID().slice(0, 8)}`;
}

/** Runs `fn` on a raw channel of its own connection. */
export async function withRaw<R>(fn: (ch: amqp.ConfirmChannel) => Promise<R>): Promise<R> {
  const conn = await amqp.connect(AMQP_URL);
  conn.on('error', () => undefined);
  try {
    const ch = await conn.createConfirmChannel();
    ch.on('error', () => undefined);
    return await fn(ch);
  } finally {
    await conn.close().catch(() => undefined);
  }
}

/** Publish properties of the raw-amqplib contenders; a fresh `messageId` per call. */
export function publishProps(): amqp.Options.Publish {
  return {
    persistent: true,
    mandatory: true,
    contentType: 'application/octet-stream',
    messageId: randomUUID(),
    timestamp: Math.floor(Date.now() / 1000),
  };
}

/** Declares transient queues. */
export async function declareQueues(names: string[]): Promise<void> {
  await withRaw(async (ch) => {
    for (const q of names) await ch.assertQueue(q, { durable: false });
  });
}

/** Deletes queues. */
export async function deleteQueues(names: string[]): Promise<void> {
  await withRaw(async (ch) => {
    for (const q of names) await ch.deleteQueue(q);
  });
}

/** Empties a queue. */
export async function purge(q: string): Promise<void> {
  await withRaw(async (ch) => void (await ch.purgeQueue(q)));
}

/** Fills a queue with `n` messages (confirmed), untimed setup for the consume suite. */
export async function fill(q: string, n: number): Promise<void> {
  await withRaw(async (ch) => {
    for (let i = 0; i < n; i++) {
      if (!ch.sendToQueue(q, PAYLOAD, { contentType: 'application/octet-stream', messageId: randomUUID() })) {
        await new Promise((r) => ch.once('drain', r));
      }
    }
    await ch.waitForConfirms();
  });
}

/** Runs `total` operations with at most `window` in flight; resolves with wall and CPU time. */
export async function windowed(
  total: number,
  window: number,
  op: () => Promise<unknown>,
): Promise<{ elapsedMs: number; cpuMicros: number }> {
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < total) {
      next++;
      await op();
    }
  };
  const clock = startClock();
  await Promise.all(Array.from({ length: window }, worker));
  return clock.read();
}
