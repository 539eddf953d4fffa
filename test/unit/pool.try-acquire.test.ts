import { afterEach, describe, expect, it, vi } from 'vitest';
import { PoolClosedError } from '../../src/errors.js';
import { Pool } from '../../src/pool.js';
import { FakeFactory } from './helpers/pool-factory.js';
import { flush } from '../support/async.js';

afterEach(() => vi.useRealTimers());

describe('Pool.tryAcquire()', () => {
  it('never creates: an empty pool answers undefined and keeps its slot free', async () => {
    const f = new FakeFactory();
    const pool = new Pool(f, { max: 1 });
    expect(pool.tryAcquire()).toBeUndefined();
    expect(f.createCalls).toBe(0);
    expect(pool.stats()).toMatchObject({ size: 0, borrowed: 0, pending: 0 });
    const lease = await pool.acquire(); // the only slot is still free
    await lease.release();
    await pool.close();
  });

  it('lends an idle resource synchronously and takes it back like any lease', async () => {
    const f = new FakeFactory();
    const pool = new Pool(f, { max: 2 });
    const first = await pool.acquire();
    await first.release();
    const lease = pool.tryAcquire();
    expect(lease?.resource).toBe(first.resource);
    expect(pool.stats()).toMatchObject({ size: 1, idle: 0, borrowed: 1 });
    expect(pool.tryAcquire()).toBeUndefined(); // one slot free, but nothing idle: no create
    expect(f.createCalls).toBe(1);
    await lease!.release();
    expect(pool.stats()).toMatchObject({ idle: 1, borrowed: 0 });
    await pool.close();
    expect(f.live.size).toBe(0);
  });

  it('answers undefined while every slot is lent, and a queued caller still comes first', async () => {
    const pool = new Pool(new FakeFactory(), { max: 1 });
    const held = await pool.acquire();
    const queued = pool.acquire();
    await flush();
    expect(pool.tryAcquire()).toBeUndefined();
    await held.release();
    const next = await queued;
    expect(next.resource).toBe(held.resource);
    expect(pool.tryAcquire()).toBeUndefined();
    await next.release();
    await pool.close();
  });

  it('lends synchronously a resource given back in an earlier turn (idle in generic-pool by now)', async () => {
    const f = new FakeFactory({ validate: true });
    const pool = new Pool(f, { max: 2 });
    const [a, b] = await Promise.all([pool.acquire(), pool.acquire()]);
    await a.release();
    await b.release();
    await new Promise((resolve) => setImmediate(resolve));
    const lease = pool.tryAcquire();
    expect(lease?.resource).toBe(b.resource); // the most recently released
    expect(pool.stats()).toMatchObject({ idle: 1, borrowed: 1 });
    const other = await pool.acquire({ timeout: 0 }); // timeout 0: lent at once as well
    expect(other.resource).toBe(a.resource);
    expect(f.createCalls).toBe(2);
    await lease!.release();
    await other.release();
    await pool.close();
    expect(f.live.size).toBe(0);
  });

  it('destroys idle resources that fail a synchronous validate and lends the next valid one', async () => {
    const f = new FakeFactory({ validate: true });
    const pool = new Pool(f, { max: 3 });
    const leases = await Promise.all([pool.acquire(), pool.acquire(), pool.acquire()]);
    for (const l of leases) await l.release();
    // LIFO: the last released is offered first; make it and the next one invalid.
    leases[2].resource.valid = false;
    leases[1].resource.valid = false;
    const lease = pool.tryAcquire();
    expect(lease?.resource).toBe(leases[0].resource);
    expect(pool.stats()).toMatchObject({ destroyed: 2, borrowed: 1, idle: 0 });
    await lease!.release();
    leases[0].resource.valid = false;
    expect(pool.tryAcquire()).toBeUndefined(); // the last one failed too: nothing lent, slot back
    expect(pool.stats()).toMatchObject({ destroyed: 3, borrowed: 0, size: 0 });
    const fresh = await pool.acquire({ timeout: 100 });
    expect(fresh.resource.id).toBe(4);
    await fresh.release();
    await pool.close();
    expect(f.live.size).toBe(0);
  });

  it('answers undefined when validate is asynchronous, and the resource and slot come back after it', async () => {
    const f = new FakeFactory();
    f.validate = (r) => Promise.resolve(r.valid);
    const pool = new Pool(f, { max: 1 });
    const first = await pool.acquire();
    await first.release();
    expect(pool.tryAcquire()).toBeUndefined();
    await flush();
    expect(pool.stats()).toMatchObject({ idle: 1, borrowed: 0, size: 1 });
    const again = await pool.acquire();
    expect(again.resource).toBe(first.resource);
    expect(f.createCalls).toBe(1);
    await again.release();
    await pool.close();
  });

  it('hands an asynchronously validated resource to a caller who queued meanwhile', async () => {
    const f = new FakeFactory();
    f.validate = (r) => Promise.resolve(r.valid);
    const pool = new Pool(f, { max: 1 });
    await (await pool.acquire()).release();
    expect(pool.tryAcquire()).toBeUndefined(); // holds the only slot while validating
    const queued = pool.acquire({ timeout: 1_000 });
    const lease = await queued;
    expect(lease.resource.id).toBe(1);
    expect(f.createCalls).toBe(1);
    await lease.release();
    await pool.close();
  });

  it('close() while a validate started by tryAcquire() runs: waits for it, then destroys the resource', async () => {
    vi.useFakeTimers();
    const f = new FakeFactory();
    f.validate = (r) => new Promise<boolean>((resolve) => setTimeout(() => resolve(r.valid), 50));
    const pool = new Pool(f, { max: 1 });
    await (await pool.acquire()).release();
    expect(pool.tryAcquire()).toBeUndefined(); // validating in the background, holding the slot
    let closed = false;
    const closing = pool.close({ timeout: 1_000 }).then(() => (closed = true));
    await vi.advanceTimersByTimeAsync(49);
    expect(closed).toBe(false);
    await vi.advanceTimersByTimeAsync(1);
    await closing;
    expect(f.live.size).toBe(0);
    expect(pool.stats()).toMatchObject({ size: 0, idle: 0, borrowed: 0 });
  });

  it('throws PoolClosedError once the pool is closing', async () => {
    const pool = new Pool(new FakeFactory());
    await (await pool.acquire()).release();
    const closing = pool.close();
    expect(() => pool.tryAcquire()).toThrow(PoolClosedError);
    await closing;
  });

  it('reports a lease it lent that is held past leakTimeout', async () => {
    vi.useFakeTimers();
    const pool = new Pool(new FakeFactory(), { leakTimeout: 1_000 });
    await (await pool.acquire()).release();
    const leaks: Error[] = [];
    pool.on('leak', (e) => leaks.push(e));
    const lease = pool.tryAcquire();
    expect(lease).toBeDefined();
    await vi.advanceTimersByTimeAsync(1_000);
    expect(leaks).toHaveLength(1);
    expect(leaks[0]!.stack).toContain('pool.try-acquire.test.ts');
    await lease!.release();
    await pool.close();
  });
});
