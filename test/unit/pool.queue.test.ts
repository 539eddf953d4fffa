import { afterEach, describe, expect, it, vi } from 'vitest';
import { TimeoutError } from '../../src/errors.js';
import { Pool } from '../../src/pool.js';
import { FakeFactory } from './helpers/pool-factory.js';
import { flush, track } from '../support/async.js';

afterEach(() => {
  vi.useRealTimers();
});

function refedTimers(): number {
  return process.getActiveResourcesInfo().filter((r) => r === 'Timeout').length;
}

describe('Pool.acquire() (queued callers)', () => {
  it('times out queued callers with different timeouts each at its own deadline', async () => {
    vi.useFakeTimers();
    const pool = new Pool(new FakeFactory(), { max: 1, name: 'q' });
    const held = await pool.acquire();
    const a = track(pool.acquire({ timeout: 100 }));
    const b = track(pool.acquire({ timeout: 30 }));
    await vi.advanceTimersByTimeAsync(10);
    const c = track(pool.acquire({ timeout: 100 }));
    const d = track(pool.acquire()); // the default acquireTimeout (10 s)
    await vi.advanceTimersByTimeAsync(19);
    expect([a.status, b.status, c.status]).toEqual(['pending', 'pending', 'pending']);
    await vi.advanceTimersByTimeAsync(1); // t = 30
    await expect(b.promise).rejects.toThrow('Pool "q" acquire timed out after 30 ms (1 borrowed, 4 waiting)');
    await vi.advanceTimersByTimeAsync(69); // t = 99
    expect([a.status, c.status]).toEqual(['pending', 'pending']);
    await vi.advanceTimersByTimeAsync(1); // t = 100
    await expect(a.promise).rejects.toThrow('after 100 ms (1 borrowed, 3 waiting)');
    expect(c.status).toBe('pending');
    await vi.advanceTimersByTimeAsync(10); // t = 110
    await expect(c.promise).rejects.toBeInstanceOf(TimeoutError);
    expect(d.status).toBe('pending');
    await held.release();
    const lease = await d.promise;
    expect(lease.resource).toBe(held.resource);
    expect(pool.stats()).toMatchObject({ timeouts: 3, pending: 0 });
    await lease.release();
    await pool.close();
  });

  it('keeps its own deadline when the caller ahead of it with the same timeout was served', async () => {
    vi.useFakeTimers();
    const pool = new Pool(new FakeFactory(), { max: 1 });
    const held = await pool.acquire();
    const first = pool.acquire({ timeout: 100 });
    await vi.advanceTimersByTimeAsync(50);
    const second = track(pool.acquire({ timeout: 100 }));
    await vi.advanceTimersByTimeAsync(10);
    await held.release(); // t = 60: `first` is served; the shared timer was armed for it (t = 100)
    const lease = await first;
    await vi.advanceTimersByTimeAsync(89); // t = 149
    expect(second.status).toBe('pending');
    await vi.advanceTimersByTimeAsync(1); // t = 150
    await expect(second.promise).rejects.toThrow('after 100 ms');
    await lease.release();
    await pool.close();
  });

  it('honours a timeout above 2^31-1 ms (setTimeout would fire at once)', async () => {
    vi.useFakeTimers();
    // No eviction sweep: it would tick every second of the 35 days.
    const pool = new Pool(new FakeFactory(), { max: 1, idleTimeout: Infinity, maxLifetime: Infinity });
    const held = await pool.acquire();
    const long = track(pool.acquire({ timeout: 3_000_000_000 }));
    await vi.advanceTimersByTimeAsync(2_999_999_999);
    expect(long.status).toBe('pending');
    await vi.advanceTimersByTimeAsync(1);
    await expect(long.promise).rejects.toThrow('after 3000000000 ms');
    await held.release();
    await pool.close();
  });

  it('gives a caller who queued, then must create, only what is left of its timeout', async () => {
    vi.useFakeTimers();
    const f = new FakeFactory();
    const pool = new Pool(f, { max: 1 });
    const held = await pool.acquire();
    f.createDelay = 10_000;
    const p = track(pool.acquire({ timeout: 100 }));
    await vi.advanceTimersByTimeAsync(40);
    await held.destroy(); // the slot goes to `p`, which has to create (slow)
    await vi.advanceTimersByTimeAsync(59); // t = 99
    expect(p.status).toBe('pending');
    await vi.advanceTimersByTimeAsync(1); // t = 100
    await expect(p.promise).rejects.toThrow('acquire timed out after 100 ms');
    expect(f.signals.at(-1)?.aborted).toBe(true);
    await pool.close();
  });

  it('rejects with signal.reason a caller aborted while sharing a timer, and keeps serving the rest in order', async () => {
    vi.useFakeTimers();
    const pool = new Pool(new FakeFactory(), { max: 1 });
    const held = await pool.acquire();
    const ac = new AbortController();
    const order: string[] = [];
    const take = (name: string, p: Promise<{ release(): Promise<void> }>) =>
      p.then(async (l) => {
        order.push(name);
        await l.release();
      });
    const a = take('a', pool.acquire({ timeout: 100 }));
    const b = pool.acquire({ timeout: 100, signal: ac.signal });
    const c = take('c', pool.acquire({ timeout: 100 }));
    await vi.advanceTimersByTimeAsync(10);
    ac.abort(new Error('b gave up'));
    await expect(b).rejects.toThrow('b gave up');
    await held.release();
    await Promise.all([a, c]);
    expect(order).toEqual(['a', 'c']);
    expect(pool.stats()).toMatchObject({ pending: 0, timeouts: 0, idle: 1 });
    await pool.close();
  });

  it("does not hand a slot freed by an 'acquireTimeout' listener to the caller timing out", async () => {
    vi.useFakeTimers();
    const pool = new Pool(new FakeFactory(), { max: 1 });
    const held = await pool.acquire();
    pool.on('acquireTimeout', () => void held.release());
    const p = pool.acquire({ timeout: 50 });
    const check = expect(p).rejects.toThrow('after 50 ms (1 borrowed, 1 waiting)');
    await vi.advanceTimersByTimeAsync(50);
    await check;
    expect(pool.stats()).toMatchObject({ idle: 1, borrowed: 0, pending: 0, timeouts: 1 });
    await pool.close();
  });

  it('leaves no timer keeping the process alive once nobody waits', async () => {
    const pool = new Pool(new FakeFactory(), { max: 1 });
    const held = await pool.acquire();
    const before = refedTimers();
    const queued = pool.acquire({ timeout: 60_000 });
    await flush();
    expect(refedTimers()).toBe(before + 1); // a queued caller with a deadline keeps the process up
    await held.release();
    const lease = await queued;
    expect(refedTimers()).toBe(before);
    await lease.release();
    await pool.close();
  });
});

describe('Pool.acquire() (idle resources)', () => {
  it('lends the most recently released idle resource first, so the surplus ages out', async () => {
    const f = new FakeFactory({ validate: true });
    const pool = new Pool(f, { max: 3 });
    const [a, b, c] = await Promise.all([pool.acquire(), pool.acquire(), pool.acquire()]);
    await a.release();
    await c.release();
    await b.release();
    const order: number[] = [];
    for (let i = 0; i < 3; i++) order.push((await pool.acquire()).resource.id);
    expect(order).toEqual([b.resource.id, c.resource.id, a.resource.id]);
    expect(pool.stats()).toMatchObject({ idle: 0, borrowed: 3, created: 3 });
    await pool.close({ timeout: 0 });
    expect(f.live.size).toBe(0);
  });

  it('keeps that order once the idle resources are back in generic-pool, a turn later', async () => {
    const f = new FakeFactory({ validate: true });
    const pool = new Pool(f, { max: 3 });
    const [a, b, c] = await Promise.all([pool.acquire(), pool.acquire(), pool.acquire()]);
    await a.release();
    await flush(); // a turn later: generic-pool's
    await c.release();
    await flush(); // a turn later: generic-pool's
    await b.release();
    await flush(); // a turn later: generic-pool's
    expect(pool.stats()).toMatchObject({ idle: 3, borrowed: 0 });
    const order: number[] = [];
    for (let i = 0; i < 3; i++) order.push((await pool.acquire()).resource.id);
    expect(order).toEqual([b.resource.id, c.resource.id, a.resource.id]);
    expect(f.createCalls).toBe(3);
    await pool.close({ timeout: 0 });
    expect(f.live.size).toBe(0);
  });

  it('gives a resource made while others went idle to its caller, and keeps the idle ones in order', async () => {
    vi.useFakeTimers();
    const f = new FakeFactory();
    const pool = new Pool(f, { max: 3 });
    const older = await pool.acquire();
    const newer = await pool.acquire();
    f.createDelay = 10;
    const making = pool.acquire(); // nothing idle: creates
    await older.release();
    await newer.release();
    await vi.advanceTimersByTimeAsync(1); // a turn later they are generic-pool's
    await vi.advanceTimersByTimeAsync(10); // the fresh one joins generic-pool while two are idle in it
    const fresh = await making;
    expect(fresh.resource.id).toBe(3);
    expect(pool.stats()).toMatchObject({ size: 3, idle: 2, borrowed: 1 });
    const next = await pool.acquire();
    const last = await pool.acquire();
    expect([next.resource, last.resource]).toEqual([newer.resource, older.resource]);
    expect(f.createCalls).toBe(3);
    await pool.close({ timeout: 0 });
    expect(f.live.size).toBe(0);
  });

  it('retires an idle resource at its max lifetime from under younger idle ones, which keep their order', async () => {
    vi.useFakeTimers();
    const f = new FakeFactory();
    const pool = new Pool(f, { max: 3, maxLifetime: 10_000, lifetimeJitter: 0, idleTimeout: Infinity });
    const old = await pool.acquire(); // expires at t = 10 000
    await vi.advanceTimersByTimeAsync(5_000);
    const mid = await pool.acquire(); // these two at t = 15 000
    const young = await pool.acquire();
    await old.release();
    await mid.release();
    await young.release(); // idle, newest first: young, mid, old (at the bottom)
    await vi.advanceTimersByTimeAsync(4_999); // t = 9 999
    expect(f.live.has(old.resource)).toBe(true);
    await vi.advanceTimersByTimeAsync(1); // t = 10 000
    expect(f.live.has(old.resource)).toBe(false);
    expect(pool.stats()).toMatchObject({ idle: 2, size: 2, destroyed: 1 });
    const first = await pool.acquire();
    const second = await pool.acquire();
    expect([first.resource, second.resource]).toEqual([young.resource, mid.resource]);
    await pool.close({ timeout: 0 });
    expect(f.live.size).toBe(0);
  });
});
