/**
 * Closing under load and bounded buffers while disconnected: every promise settles (a value or a
 * clear error), nothing is left open, and nothing piles up in memory without bound.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { PoolClosedError } from '../../src/errors.js';
import { Database } from '../../adapters/postgres/index.js';
import { Broker, BrokerClosedError, BufferFullError } from '../../adapters/amqp/index.js';
import { deleteQueues } from '../support/amqp.js';
import { FaultTally, settlesWithin } from '../support/fault-tally.js';
import { flush, until } from '../support/async.js';
import { uniqueName } from '../support/names.js';
import { backendsOf } from '../support/pg.js';
import { ChaosProxy } from '../support/proxy.js';
import { amqpUrl, databaseUrl } from '../support/services.js';

const cleanups: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  for (const fn of cleanups.splice(0).reverse()) await fn().catch(() => undefined);
});

describe('Database.close() under load', () => {
  it('settles 2 000 queued callers (result or PoolClosedError) and leaves no server connection', async () => {
    const applicationName = uniqueName('close_pg');
    const db = new Database({
      url: databaseUrl(),
      applicationName,
      pool: { max: 4, acquireTimeout: 60_000 },
    });
    cleanups.push(() => db.close());
    await db.query('select 1');
    const tally = new FaultTally('close under load: Database');
    const calls = Array.from({ length: 2_000 }, (_, i) =>
      tally.track(60_000, () => db.query('select $1::int, pg_sleep(0.001)', [i])),
    );
    // Close once statements run and callers still queue (50 ms of sleep could, on a busy machine,
    // end after the backlog drained: no caller left to refuse). Nothing runs between the poll that
    // saw the queue and close().
    await until(
      () => db.stats().queries > 0 && db.stats().pool.pending > 0,
      20_000,
      'statements running with callers queued',
    );
    await settlesWithin(db.close({ timeout: 5_000 }), 20_000, 'db.close()');
    const outcomes = await settlesWithin(Promise.all(calls), 20_000, 'queued callers');
    const failures = outcomes.filter((o) => !o.ok).map((o) => (o.ok ? undefined : o.error));
    expect(failures.every((e) => e instanceof PoolClosedError)).toBe(true);
    expect(failures.length).toBeGreaterThan(0);
    expect(db.stats().pool).toMatchObject({ borrowed: 0, pending: 0 });
    await until(
      async () => (await backendsOf(databaseUrl(), applicationName)).length === 0,
      10_000,
      'server connections closed',
    );
    tally.report();
  });
});

describe('Broker.close() under load', () => {
  it('settles every publish (confirmed or BrokerClosedError) and stops within its timeout', async () => {
    const q = uniqueName('close_q');
    cleanups.push(() => deleteQueues(amqpUrl(), [q]));
    const broker = new Broker({
      url: amqpUrl(),
      clientName: uniqueName('connkit_close'),
      topology: { queues: [{ name: q }] },
    });
    broker.on('error', () => undefined);
    cleanups.push(() => broker.close());
    await broker.connect();
    const tally = new FaultTally('close under load: Broker');
    const calls = Array.from({ length: 5_000 }, (_, i) =>
      tally.track(30_000, () => broker.sendToQueue(q, { i })),
    );
    await flush();
    await settlesWithin(broker.close({ timeout: 2_000 }), 10_000, 'broker.close()');
    const outcomes = await settlesWithin(Promise.all(calls), 10_000, 'publishes');
    expect(outcomes.filter((o) => !o.ok && !(o.error instanceof BrokerClosedError))).toEqual([]);
    expect(broker.stats().publisher).toMatchObject({ pending: 0, queued: 0 });
    await expect(broker.sendToQueue(q, 'late')).rejects.toBeInstanceOf(BrokerClosedError);
    tally.report();
  });
});

describe('Broker.publish() while disconnected', () => {
  it('buffers at most maxPending publishes, refuses the rest at once with BufferFullError, and sends the buffered ones after reconnect', async () => {
    const proxy = await ChaosProxy.forUrl(amqpUrl(), 5672);
    cleanups.push(() => proxy.close());
    const q = uniqueName('buffer_q');
    cleanups.push(() => deleteQueues(amqpUrl(), [q]));
    const broker = new Broker({
      url: proxy.rewrite(amqpUrl()),
      clientName: uniqueName('connkit_buffer'),
      maxPending: 100,
      reconnect: { initialDelay: 50, maxDelay: 200 },
      topology: { queues: [{ name: q }] },
    });
    broker.on('error', () => undefined);
    cleanups.push(() => broker.close({ timeout: 2_000 }));
    await broker.connect();
    proxy.refuse(true);
    proxy.cutAll();
    await until(() => !broker.stats().connected, 10_000, 'disconnected');
    const tally = new FaultTally('disconnected: bounded publish buffer');
    tally.fault('amqp proxy cut + refuse');
    const calls = Array.from({ length: 150 }, (_, i) =>
      tally.track(30_000, () => broker.sendToQueue(q, { i })),
    );
    await until(
      () => (tally.failures.get('BufferFullError(BUFFER_FULL)') ?? 0) >= 50,
      10_000,
      'the publishes beyond the buffer refused',
    );
    expect(tally.failures.get('BufferFullError(BUFFER_FULL)')).toBe(50);
    expect(broker.stats().publisher.pending).toBe(100);
    proxy.refuse(false);
    const outcomes = await settlesWithin(Promise.all(calls), 30_000, 'buffered publishes');
    expect(outcomes.filter((o) => o.ok)).toHaveLength(100);
    expect(outcomes.filter((o) => !o.ok).every((o) => !o.ok && o.error instanceof BufferFullError)).toBe(
      true,
    );
    tally.report();
  });
});
