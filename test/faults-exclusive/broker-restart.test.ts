/**
 * Faults that disturb the whole broker — `rabbitmqctl close_all_connections`, `stop_app`/`start_app`,
 * a node-wide `max_message_size` — run in the `faults-exclusive` project, alone, after every other
 * test. Without `rabbitmqctl` on PATH (services in Docker) the same scenarios run through a
 * ChaosProxy (cut, refuse) instead, and the test says so.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { ConnkitError } from '../../src/errors.js';
import { sleep } from '../../src/timeout.js';
import { Broker } from '../../adapters/amqp/index.js';
import { deleteQueues } from '../support/amqp.js';
import { FaultTally, settlesWithin } from '../support/fault-tally.js';
import { rejectionOf, until } from '../support/async.js';
import { uniqueName } from '../support/names.js';
import { pacedPublisher } from '../support/paced-publisher.js';
import { ChaosProxy } from '../support/proxy.js';
import { canUseRabbitmqctl, rabbitmqctl } from '../support/rabbit-admin.js';
import { amqpUrl } from '../support/services.js';

const cleanups: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  for (const fn of cleanups.splice(0).reverse()) await fn().catch(() => undefined);
});

const PUBLISH_TIMEOUT = 60_000;

/**
 * Stops the broker application for `ms`, and always starts it again and waits until it is up.
 * Resolves with the moment `start_app` was issued.
 */
async function brokerOutage(ms: number): Promise<number> {
  let restarting = performance.now();
  try {
    await rabbitmqctl('stop_app');
    await sleep(ms);
  } finally {
    restarting = performance.now();
    await rabbitmqctl('start_app');
    await rabbitmqctl('await_startup');
  }
  return restarting;
}

describe('Broker under broker-wide faults', () => {
  it('loses no confirmed message across close_all_connections and a stop_app/start_app restart', async () => {
    const real = await canUseRabbitmqctl();
    if (!real) {
      console.log(
        '[faults] rabbitmqctl is not usable here: close_all_connections and stop_app/start_app are replaced by ChaosProxy cut and refuse',
      );
    }
    const proxy = await ChaosProxy.forUrl(amqpUrl(), 5672);
    cleanups.push(() => proxy.close());
    const q = uniqueName('restart_q');
    cleanups.push(() => deleteQueues(amqpUrl(), [q]));
    const broker = new Broker({
      url: real ? amqpUrl() : proxy.rewrite(amqpUrl()),
      clientName: uniqueName('connkit_restart'),
      heartbeat: 2_000,
      reconnect: { initialDelay: 100, maxDelay: 1_000 },
      publishTimeout: PUBLISH_TIMEOUT,
      topology: { queues: [{ name: q, options: { durable: true } }] },
    });
    broker.on('error', () => undefined);
    cleanups.push(() => broker.close({ timeout: 5_000 }));
    await broker.connect();
    const delivered = new Set<string>();
    const consumer = broker.consume(q, async (msg) => void delivered.add(String(msg.properties.messageId)), {
      concurrency: 8,
      prefetch: 64,
    });
    await consumer.ready;

    const tally = new FaultTally(
      `faults-exclusive: broker restart (${real ? 'rabbitmqctl' : 'ChaosProxy stand-in'})`,
    );
    const confirmed: string[] = [];
    let stop = false;
    const publisher = pacedPublisher({
      tally,
      timeout: PUBLISH_TIMEOUT,
      idPrefix: q,
      send: (messageId, i) => broker.sendToQueue(q, { i }, { messageId }),
      confirmed,
      stopped: () => stop,
      pauseEvery: 8,
      pauseMs: 5,
    });

    let outageEndedAt = 0;
    const reconnectedAt: number[] = [];
    broker.on('connect', () => reconnectedAt.push(performance.now()));
    try {
      await sleep(1_500);
      if (real) await rabbitmqctl('close_all_connections', 'connkit fault test');
      else proxy.cutAll();
      tally.fault(real ? 'rabbitmqctl close_all_connections' : 'proxy cut');
      await until(
        () => broker.stats().connected && broker.stats().reconnects >= 1,
        30_000,
        'reconnect after close',
      );
      await sleep(1_000);
      if (real) outageEndedAt = await brokerOutage(3_000);
      else {
        proxy.refuse(true);
        proxy.cutAll();
        await sleep(3_000);
        proxy.refuse(false);
        outageEndedAt = performance.now();
      }
      tally.fault(real ? 'rabbitmqctl stop_app + start_app (3 s down)' : 'proxy refuse 3 s');
      await until(
        () => broker.stats().connected && broker.stats().reconnects >= 2,
        60_000,
        'reconnect after restart',
      );
      await sleep(1_500);
    } finally {
      stop = true;
      await settlesWithin(publisher, PUBLISH_TIMEOUT + 10_000, 'publisher');
    }
    expect(tally.pending).toBe(0);
    expect(tally.worstOverrun).toBeLessThanOrEqual(2_000);
    await until(
      () => confirmed.every((id) => delivered.has(id)),
      60_000,
      'every confirmed message delivered',
    );
    const lost = confirmed.filter((id) => !delivered.has(id)).length;
    await broker.sendToQueue(q, 'after', { messageId: `${q}-after` });
    await until(() => delivered.has(`${q}-after`), 30_000, 'consumer resumed');
    tally.extra['confirmed'] = confirmed.length;
    tally.extra['lost'] = lost;
    tally.extra['reconnects'] = broker.stats().reconnects;
    tally.extra['republished'] = broker.stats().publisher.republished;
    // From `start_app` issued (or the proxy accepting again) to the broker's reconnect.
    tally.extra['reconnectAfterRestartMs'] = Math.round(
      (reconnectedAt.find((t) => t >= outageEndedAt) ?? NaN) - outageEndedAt,
    );
    tally.report();
    expect(lost).toBe(0);
    expect(confirmed.length).toBeGreaterThan(0);
    expect(consumer.stats().consuming).toBe(true);
  }, 240_000);

  it('rejects an oversized message with a clear error and keeps publishing', async () => {
    const real = await canUseRabbitmqctl();
    const q = uniqueName('oversize_q');
    cleanups.push(() => deleteQueues(amqpUrl(), [q]));
    let limit = 134_217_728; // RabbitMQ's default max_message_size (128 MiB)
    if (real) {
      const current = /\{ok,(\d+)\}/.exec(
        await rabbitmqctl('eval', 'application:get_env(rabbit, max_message_size).'),
      );
      const original = current ? Number(current[1]) : limit;
      limit = 1_048_576;
      await rabbitmqctl('eval', `application:set_env(rabbit, max_message_size, ${limit}).`);
      cleanups.push(() => rabbitmqctl('eval', `application:set_env(rabbit, max_message_size, ${original}).`));
    } else {
      console.log(
        '[faults] rabbitmqctl is not usable here: the oversized message exceeds the default 128 MiB limit',
      );
    }
    // Channels opened from now on carry the (lowered) limit.
    const broker = new Broker({
      url: amqpUrl(),
      clientName: uniqueName('connkit_oversize'),
      topology: { queues: [{ name: q }] },
    });
    broker.on('error', () => undefined);
    cleanups.push(() => broker.close({ timeout: 5_000 }));
    await broker.connect();
    const err = await rejectionOf(broker.sendToQueue(q, Buffer.alloc(limit + 1), { timeout: 60_000 }));
    expect(err).toBeInstanceOf(ConnkitError);
    expect((err as Error).message).toMatch(/larger than configured max size/);
    await broker.sendToQueue(q, 'small', { timeout: 30_000 });
    const tally = new FaultTally('faults-exclusive: oversized message');
    tally.extra['limit'] = limit;
    tally.extra['error'] = `${(err as Error).name}(${(err as ConnkitError).code}): ${(err as Error).message}`;
    tally.report();
  }, 120_000);
});
