/**
 * Memory soak, bounded: heap after GC must not grow with the number of operations, of aborted
 * waiters, or of reconnects. Each phase measures the settled heap after a warm-up and at the end;
 * the bound is far below what a per-operation leak of a few bytes would add.
 */
import { getEventListeners } from 'node:events';
import { afterEach, describe, expect, it } from 'vitest';
import { Pool } from '../../src/pool.js';
import { Semaphore } from '../../src/semaphore.js';
import { Queue } from '../../src/queue.js';
import { sleep } from '../../src/timeout.js';
import { Database } from '../../adapters/postgres/index.js';
import { Broker } from '../../adapters/amqp/index.js';
import { deleteQueues } from '../support/amqp.js';
import { until } from '../support/async.js';
import { FaultTally } from '../support/fault-tally.js';
import { mib, settledHeap } from '../support/heap.js';
import { uniqueName } from '../support/names.js';
import { ChaosProxy } from '../support/proxy.js';
import { amqpUrl, databaseUrl } from '../support/services.js';

const cleanups: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  for (const fn of cleanups.splice(0).reverse()) await fn().catch(() => undefined);
});

describe('core primitives and Pool (soak)', () => {
  it('keep a flat heap over 400 000 operations with 10% aborted waiters', async () => {
    const OPS = 400_000;
    const longLived = new AbortController().signal;
    const sem = new Semaphore(2);
    const queue = new Queue<number>({ maxsize: 4 });
    let made = 0;
    const pool = new Pool<{ id: number }>(
      { create: async () => ({ id: made++ }), destroy: async () => undefined },
      { max: 2, acquireTimeout: 1_000 },
    );
    let aborted = 0;
    let timeouts = 0;
    const round = async (i: number): Promise<void> => {
      const k = i % 10;
      if (k === 0) {
        // An aborted waiter: queued behind two holders, then given up.
        const ac = new AbortController();
        const a = await sem.acquire({ signal: longLived });
        const b = await sem.acquire();
        const waiter = sem.acquire({ signal: ac.signal }).catch(() => aborted++);
        ac.abort(new Error('gave up'));
        await waiter;
        sem.release();
        sem.release();
        void a;
        void b;
      } else if (k < 5) {
        await sem.acquire({ signal: longLived, timeout: 1_000 });
        sem.release();
      } else if (k < 8) {
        await queue.put(i, { signal: longLived });
        await queue.get({ signal: longLived });
      } else if (k === 8) {
        await pool.use(async () => undefined, { signal: longLived });
      } else {
        const lease = await pool.acquire();
        const lease2 = await pool.acquire();
        await pool.acquire({ timeout: 0 }).catch(() => timeouts++); // nothing free: rejected at once
        await lease.release();
        await lease2.release();
      }
    };
    const checkpoints: number[] = [];
    const started = performance.now();
    for (let i = 0; i < OPS; i++) {
      await round(i);
      if (i === OPS / 10 || i === OPS / 2 || i === OPS - 1) checkpoints.push(await settledHeap());
    }
    const elapsed = performance.now() - started;
    await pool.close();
    const [warm, mid, end] = checkpoints as [number, number, number];
    const tally = new FaultTally('soak: core primitives and Pool');
    tally.extra['operations'] = OPS;
    tally.extra['abortedWaiters'] = aborted;
    tally.extra['timeouts0'] = timeouts;
    tally.extra['elapsedMs'] = Math.round(elapsed);
    tally.extra['heap'] = { afterWarmup: mib(warm), half: mib(mid), end: mib(end), growth: mib(end - warm) };
    tally.report();
    expect(aborted).toBe(OPS / 10);
    expect(timeouts).toBe(OPS / 10);
    expect(getEventListeners(longLived, 'abort')).toHaveLength(0);
    expect(sem.value).toBe(2);
    // 360 000 operations between the first and last checkpoints: 9 bytes each would be 3.1 MiB.
    expect(end - warm).toBeLessThan(3 * 1024 * 1024);
  }, 120_000);
});

describe('Database and Broker (soak)', () => {
  it('keep a flat heap over queries, publishes, aborted waiters and repeated reconnects', async () => {
    const DURATION = 18_000;
    const pgProxy = await ChaosProxy.forUrl(databaseUrl(), 5432);
    const mqProxy = await ChaosProxy.forUrl(amqpUrl(), 5672);
    cleanups.push(
      () => pgProxy.close(),
      () => mqProxy.close(),
    );
    const q = uniqueName('soak_q');
    cleanups.push(() => deleteQueues(amqpUrl(), [q]));
    const db = new Database({
      url: pgProxy.rewrite(databaseUrl()),
      applicationName: uniqueName('soak_pg'),
      connectTimeout: 2_000,
      pool: { max: 3, acquireTimeout: 5_000 },
    });
    cleanups.push(() => db.close({ timeout: 5_000 }));
    const broker = new Broker({
      url: mqProxy.rewrite(amqpUrl()),
      clientName: uniqueName('connkit_soak'),
      reconnect: { initialDelay: 20, maxDelay: 200 },
      // A queue with a length limit, so the soak does not fill the shared broker.
      topology: { queues: [{ name: q, options: { arguments: { 'x-max-length': 1_000 } } }] },
    });
    broker.on('error', () => undefined);
    cleanups.push(() => broker.close({ timeout: 5_000 }));
    await broker.connect();
    const longLived = new AbortController().signal;
    const tally = new FaultTally('soak: Database and Broker with reconnects');

    let stop = false;
    const queries = async (): Promise<void> => {
      for (let i = 0; !stop; i++) {
        await tally.track(5_000, () =>
          db.query('select $1::int', [i], { signal: longLived, timeout: 5_000 }),
        );
      }
    };
    let abortedWaiters = 0;
    const abortedCallers = async (): Promise<void> => {
      while (!stop) {
        // More callers than connections; those still waiting after 2 ms give up.
        const ac = new AbortController();
        const calls = Array.from({ length: 8 }, (_, i) =>
          db
            .query('select 1', [], { signal: i % 2 === 0 ? ac.signal : longLived, timeout: 5_000 })
            .catch((e: unknown) => {
              if (e === ac.signal.reason) abortedWaiters++;
            }),
        );
        await sleep(2);
        ac.abort(new Error('soak abort'));
        await Promise.all(calls);
      }
    };
    const publishes = async (): Promise<void> => {
      for (let i = 0; !stop; i++) {
        await tally.track(30_000, () => broker.sendToQueue(q, { i }, { signal: longLived }));
      }
    };
    let cuts = 0;
    const faults = async (): Promise<void> => {
      while (!stop) {
        await sleep(1_000);
        if (stop) break;
        pgProxy.cutAll();
        mqProxy.cutAll();
        cuts++;
      }
    };
    const checkpoints: number[] = [];
    const ops = (): number => tally.attempted;
    const opsAt: number[] = [];
    const started = performance.now();
    const running = [
      queries(),
      queries(),
      queries(),
      queries(),
      abortedCallers(),
      publishes(),
      publishes(),
      publishes(),
      publishes(),
      faults(),
    ];
    for (const at of [DURATION / 3, DURATION]) {
      await sleep(at - (performance.now() - started));
      // The soak lasts until it has done what it asserts, not just DURATION: on a saturated machine
      // 18 s may hold fewer than ten 1 s fault rounds or a hundred aborted waiters.
      if (at === DURATION)
        await until(
          () => cuts >= 10 && abortedWaiters > 100,
          60_000,
          'ten cuts and a hundred aborted waiters',
        );
      checkpoints.push(await settledHeap());
      opsAt.push(ops());
    }
    stop = true;
    await Promise.all(running);
    await sleep(500);
    const final = await settledHeap();
    const [warm] = checkpoints as [number, number];
    tally.fault('pg + amqp proxy cut', cuts);
    tally.extra['abortedWaiters'] = abortedWaiters;
    tally.extra['reconnects'] = broker.stats().reconnects;
    tally.extra['opsBetweenCheckpoints'] = (opsAt[1] ?? 0) - (opsAt[0] ?? 0);
    tally.extra['heap'] = {
      afterWarmup: mib(warm),
      end: mib(checkpoints[1] ?? 0),
      settled: mib(final),
      growth: mib(final - warm),
    };
    tally.extra['poolAfter'] = db.stats().pool;
    tally.report();
    expect(tally.pending).toBe(0);
    expect(cuts).toBeGreaterThanOrEqual(10);
    expect(abortedWaiters).toBeGreaterThan(100);
    expect(getEventListeners(longLived, 'abort')).toHaveLength(0);
    expect(db.stats().pool).toMatchObject({ borrowed: 0, pending: 0 });
    expect(broker.stats().publisher).toMatchObject({ pending: 0, queued: 0 });
    // Thousands of operations, hundreds of aborted waiters and a dozen reconnects between the
    // checkpoints; a leak of ~1 KB per operation or ~300 KB per reconnect would pass the bound.
    expect(final - warm).toBeLessThan(4 * 1024 * 1024);
  }, 120_000);
});
