/**
 * Slow and dead peers: a broker connection that goes silent is found dead by its heartbeats; a
 * statement hung behind a peer that swallows bytes is cancelled by its timeout and its connection
 * discarded; a slow peer only makes things slow, never wrong.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { TimeoutError } from '../../src/errors.js';
import { Database } from '../../adapters/postgres/index.js';
import { Broker } from '../../adapters/amqp/index.js';
import { deleteQueues } from '../support/amqp.js';
import { FaultTally, settlesWithin } from '../support/fault-tally.js';
import { rejectionOf, until } from '../support/async.js';
import { uniqueName } from '../support/names.js';
import { backendsOf } from '../support/pg.js';
import { ChaosProxy } from '../support/proxy.js';
import { SilentProxy } from '../support/silent-proxy.js';
import { amqpUrl, databaseUrl } from '../support/services.js';

const cleanups: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  for (const fn of cleanups.splice(0).reverse()) await fn().catch(() => undefined);
});

describe('Broker heartbeat', () => {
  it('detects a silently dead broker connection and reconnects by itself', async () => {
    const proxy = await SilentProxy.forUrl(amqpUrl(), 5672);
    cleanups.push(() => proxy.close());
    const q = uniqueName('hb_q');
    cleanups.push(() => deleteQueues(amqpUrl(), [q]));
    const broker = new Broker({
      url: proxy.rewrite(amqpUrl()),
      clientName: uniqueName('connkit_hb'),
      heartbeat: 1_000,
      reconnect: { initialDelay: 50, maxDelay: 300 },
      topology: { queues: [{ name: q }] },
    });
    const errors: Error[] = [];
    broker.on('error', (err: Error) => errors.push(err));
    cleanups.push(() => broker.close({ timeout: 2_000 }));
    await broker.connect();
    const got: unknown[] = [];
    const consumer = broker.consume(q, async (msg) => void got.push(msg.body));
    await consumer.ready;

    const disconnected = new Promise<unknown>((resolve) => broker.once('disconnect', resolve));
    const stalledAt = performance.now();
    proxy.silence(); // no RST, no FIN, no bytes — only the client's heartbeat can tell
    // A publish made now waits for the reconnect instead of failing.
    const pending = broker.sendToQueue(q, 'during', { timeout: 30_000 });
    pending.catch(() => undefined); // awaited below; a failed assertion must not leave it unhandled
    const reason = await settlesWithin(disconnected, 15_000, 'heartbeat detection');
    const detectedMs = performance.now() - stalledAt;
    expect(`${String(reason)} ${errors.map((e) => e.message).join(' ')}`).toMatch(/heartbeat/i);
    expect(broker.stats().connected).toBe(false);
    proxy.silence(false);
    await settlesWithin(pending, 30_000, 'publish across the reconnect');
    await until(() => got.includes('during'), 15_000, 'consumer back after heartbeat loss');
    const tally = new FaultTally('dead peer: AMQP heartbeat');
    tally.fault('amqp peer silenced');
    tally.extra['heartbeatMs'] = 1_000;
    tally.extra['detectedAfterMs'] = Math.round(detectedMs);
    tally.extra['reconnects'] = broker.stats().reconnects;
    tally.report();
    expect(broker.stats().reconnects).toBeGreaterThanOrEqual(1);
    expect(consumer.stats().consuming).toBe(true);
  }, 60_000);
});

describe('Database.query() behind a stalled peer', () => {
  it('cancels the hung statement at its timeout and discards the connection', async () => {
    const proxy = await ChaosProxy.forUrl(databaseUrl(), 5432);
    cleanups.push(() => proxy.close());
    const applicationName = uniqueName('stall_pg');
    const db = new Database({
      url: proxy.rewrite(databaseUrl()),
      applicationName,
      connectTimeout: 1_000,
      pool: { max: 1 },
      pipeline: false, // a pooled connection (the pipelined one: the next test)
    });
    cleanups.push(() => db.close({ timeout: 2_000 }));
    const { pid: before } = await db.one<{ pid: number }>('select pg_backend_pid() as pid');
    proxy.stall(true);
    const started = performance.now();
    const err = await rejectionOf(db.query('select 1', [], { timeout: 300 }));
    const settledMs = performance.now() - started;
    expect(err).toBeInstanceOf(TimeoutError);
    expect((err as Error).message).toMatch(/timed out after \d+ ms/);
    // The cancel request cannot get through either: the connection is given up, not reused.
    await until(() => db.stats().pool.destroyed >= 1, 20_000, 'stalled connection destroyed');
    proxy.stall(false);
    const { pid: after } = await db.one<{ pid: number }>('select pg_backend_pid() as pid', [], {
      timeout: 10_000,
    });
    expect(after).not.toBe(before);
    // The server saw the old session go away.
    await until(
      async () => !(await backendsOf(databaseUrl(), applicationName)).some((b) => b.pid === before),
      10_000,
      'old backend gone',
    );
    expect(db.stats().pool).toMatchObject({ borrowed: 0, pending: 0, size: 1 });
    const tally = new FaultTally('dead peer: PostgreSQL statement behind a stalled proxy');
    tally.fault('pg proxy stall');
    tally.extra['timeoutMs'] = 300;
    tally.extra['rejectedAfterMs'] = Math.round(settledMs);
    tally.extra['connectionsDestroyed'] = db.stats().pool.destroyed;
    tally.report();
    // A hang guard (a busy machine runs timers late): nothing but the statement's own timeout
    // answers it behind a stalled peer before the test's 60 s.
    expect(settledMs).toBeLessThan(300 + 10_000);
  }, 60_000);

  it('cancels a hung pipelined statement at its timeout and replaces the connection', async () => {
    const proxy = await ChaosProxy.forUrl(databaseUrl(), 5432);
    cleanups.push(() => proxy.close());
    const applicationName = uniqueName('stall_pipe1');
    const db = new Database({ url: proxy.rewrite(databaseUrl()), applicationName, connectTimeout: 1_000 });
    cleanups.push(() => db.close({ timeout: 2_000 }));
    const { pid: before } = await db.one<{ pid: number }>('select pg_backend_pid() as pid');
    proxy.stall(true);
    const started = performance.now();
    const err = await rejectionOf(db.query('select 1', [], { timeout: 300 }));
    const settledMs = performance.now() - started;
    expect(err).toBeInstanceOf(TimeoutError);
    // Neither the CancelRequest nor pg_cancel_backend gets through: the connection is given up.
    await until(() => db.stats().pipeline.connections === 0, 20_000, 'stalled connection destroyed');
    proxy.stall(false);
    const { pid: after } = await db.one<{ pid: number }>('select pg_backend_pid() as pid', [], {
      timeout: 10_000,
    });
    expect(after).not.toBe(before);
    await until(
      async () => !(await backendsOf(databaseUrl(), applicationName)).some((b) => b.pid === before),
      10_000,
      'old backend gone',
    );
    const tally = new FaultTally('dead peer: pipelined statement behind a stalled proxy');
    tally.fault('pg proxy stall');
    tally.extra['timeoutMs'] = 300;
    tally.extra['rejectedAfterMs'] = Math.round(settledMs);
    tally.report();
    expect(settledMs).toBeLessThan(300 + 10_000); // a hang guard, as above
  }, 60_000);

  it('times out pipelined queries on a silent peer at their deadline, then serves again', async () => {
    const proxy = await ChaosProxy.forUrl(databaseUrl(), 5432);
    cleanups.push(() => proxy.close());
    const db = new Database({
      url: proxy.rewrite(databaseUrl()),
      applicationName: uniqueName('stall_pipe'),
      pipeline: { connections: 1 },
      queryTimeout: 500,
    });
    cleanups.push(() => db.close({ timeout: 2_000 }));
    await db.query('select 1');
    proxy.stall(true);
    const started = performance.now();
    const results = await settlesWithin(
      Promise.allSettled(Array.from({ length: 20 }, (_, i) => db.query('select $1::int as n', [i]))),
      20_000,
      'pipelined queries on a silent peer',
    );
    const settledMs = performance.now() - started;
    // Each caller's own deadline answers it; the server cannot, through a silent peer.
    expect(results.every((r) => r.status === 'rejected' && r.reason instanceof TimeoutError)).toBe(true);
    proxy.stall(false); // the late answers arrive and are dropped
    expect(await db.one('select 7 as n')).toEqual({ n: 7 });
    const tally = new FaultTally('dead peer: pipelined queries behind a stalled proxy');
    tally.fault('pg proxy stall');
    tally.extra['queryTimeoutMs'] = 500;
    tally.extra['rejectedAfterMs'] = Math.round(settledMs);
    tally.report();
    // queryTimeout + slack for a busy machine: a hang guard (nothing else answers through a silent peer).
    expect(settledMs).toBeLessThan(500 + 10_000);
  }, 60_000);

  it('keeps answers right behind a slow peer (latency, not loss)', async () => {
    const proxy = await ChaosProxy.forUrl(databaseUrl(), 5432);
    cleanups.push(() => proxy.close());
    const db = new Database({
      url: proxy.rewrite(databaseUrl()),
      applicationName: uniqueName('slow_pg'),
      pool: { max: 3 },
    });
    cleanups.push(() => db.close({ timeout: 2_000 }));
    proxy.setLatency(40);
    const rows = await Promise.all(
      Array.from({ length: 30 }, (_, i) =>
        db.one<{ n: number }>('select $1::int as n', [i], { timeout: 10_000 }),
      ),
    );
    expect(rows.map((r) => r.n)).toEqual(Array.from({ length: 30 }, (_, i) => i));
    // A timeout shorter than the round trip fails that call only.
    await expect(db.query('select pg_sleep(0.2)', [], { timeout: 50 })).rejects.toBeInstanceOf(TimeoutError);
    proxy.setLatency(0);
    expect(await db.one('select 2 as n', [], { timeout: 10_000 })).toEqual({ n: 2 });
    // The cancelled statement's connection comes back once the server has answered the cancel.
    await until(() => db.stats().pool.borrowed === 0, 10_000, 'connection back in the pool');
    expect(db.stats().pool).toMatchObject({ borrowed: 0, pending: 0 });
  }, 60_000);
});
