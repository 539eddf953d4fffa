import { afterEach, describe, expect, it, vi } from 'vitest';
import { PoolClosedError, QueueFullError, TimeoutError } from '../../src/errors.js';
import { Pool } from '../../src/pool.js';
import { FakeFactory } from './helpers/pool-factory.js';
import type { Res } from './helpers/pool-factory.js';
import { flush } from '../support/async.js';

afterEach(() => {
  vi.useRealTimers();
  vi.restoreAllMocks();
});

describe('Pool constructor', () => {
  it('rejects a bad factory or bad options synchronously, quoting the value', () => {
    expect(() => new Pool({ create: 1 } as never)).toThrow(/factory.create must be a function, got 1/);
    const f = new FakeFactory();
    expect(() => new Pool(f, { max: 0 })).toThrow(RangeError);
    expect(() => new Pool(f, { max: 2, min: 3 })).toThrow(/min must be ≤ max \(2\), got 3/);
    expect(() => new Pool(f, { acquireTimeout: -1 })).toThrow(/got -1/);
    expect(() => new Pool(f, { lifetimeJitter: 2 })).toThrow(RangeError);
  });
});

describe('Pool.acquire()', () => {
  it('creates a resource, then reuses it once released', async () => {
    const f = new FakeFactory();
    const pool = new Pool(f, { max: 2 });
    const a = await pool.acquire();
    await a.release();
    const b = await pool.acquire();
    expect(b.resource).toBe(a.resource);
    expect(f.createCalls).toBe(1);
    expect(pool.stats()).toMatchObject({ size: 1, idle: 0, borrowed: 1, created: 1, destroyed: 0 });
    await b.release();
    await pool.close();
  });

  it('queues callers FIFO once max are lent and hands released resources on in order', async () => {
    const pool = new Pool(new FakeFactory(), { max: 1 });
    const first = await pool.acquire();
    const order: number[] = [];
    const waiters = [1, 2, 3].map((i) =>
      pool.acquire().then(async (l) => {
        order.push(i);
        await l.release();
      }),
    );
    await flush();
    expect(pool.stats().pending).toBe(3);
    await first.release();
    await Promise.all(waiters);
    expect(order).toEqual([1, 2, 3]);
    await pool.close();
  });

  it('rejects with a TimeoutError carrying the pool state, and counts it', async () => {
    vi.useFakeTimers();
    const pool = new Pool(new FakeFactory(), { max: 1, name: 't' });
    const onTimeout = vi.fn();
    pool.on('acquireTimeout', onTimeout);
    const held = await pool.acquire();
    const p = pool.acquire({ timeout: 50 });
    const check = expect(p).rejects.toThrow('Pool "t" acquire timed out after 50 ms (1 borrowed, 1 waiting)');
    await vi.advanceTimersByTimeAsync(50);
    await check;
    await expect(p).rejects.toBeInstanceOf(TimeoutError);
    expect(onTimeout).toHaveBeenCalledOnce();
    expect(pool.stats()).toMatchObject({ timeouts: 1, pending: 0 });
    await held.release();
    expect(pool.stats().idle).toBe(1); // the released resource went idle: nobody was left queued
    await pool.close();
  });

  it('applies acquireTimeout when the caller gives no timeout', async () => {
    vi.useFakeTimers();
    const pool = new Pool(new FakeFactory(), { max: 1, acquireTimeout: 100 });
    const held = await pool.acquire();
    let settled = false;
    const p = pool.acquire().finally(() => (settled = true));
    p.catch(() => {});
    await vi.advanceTimersByTimeAsync(99);
    expect(settled).toBe(false);
    await vi.advanceTimersByTimeAsync(1);
    await expect(p).rejects.toBeInstanceOf(TimeoutError);
    await held.release();
    await pool.close();
  });

  it('rejects with signal.reason when aborted while queued, and leaves no trace', async () => {
    const pool = new Pool(new FakeFactory(), { max: 1 });
    const held = await pool.acquire();
    const ac = new AbortController();
    const aborted = pool.acquire({ signal: ac.signal });
    const next = pool.acquire();
    await flush();
    ac.abort(new Error('gave up'));
    await expect(aborted).rejects.toThrow('gave up');
    expect(pool.stats().pending).toBe(1);
    await held.release();
    const lease = await next; // the slot skipped the aborted caller
    expect(lease.resource).toBe(held.resource);
    await lease.release();
    await pool.close();
  });

  it('hands a released resource to the next caller, and parks it when that caller gives up on waking', async () => {
    const f = new FakeFactory();
    const pool = new Pool(f, { max: 1 });
    const held = await pool.acquire();
    const ac = new AbortController();
    const woken = pool.acquire({ signal: ac.signal });
    await flush();
    void held.release(); // the slot and the resource go to `woken`…
    ac.abort(new Error('changed my mind')); // …which gives up before it resumes
    await expect(woken).rejects.toThrow('changed my mind');
    expect(pool.stats()).toMatchObject({ idle: 1, borrowed: 0, pending: 0 });
    const again = await pool.acquire({ timeout: 0 });
    expect(again.resource).toBe(held.resource);
    expect(f.createCalls).toBe(1);
    await again.release();
    await pool.close();
  });

  it('rejects at once, before any work, when the signal is already aborted', async () => {
    const f = new FakeFactory();
    const pool = new Pool(f);
    await expect(pool.acquire({ signal: AbortSignal.abort('no') })).rejects.toBe('no');
    expect(f.createCalls).toBe(0);
    await pool.close();
  });

  it('with timeout 0 rejects at once when no slot is free, and throws RangeError on a bad timeout', async () => {
    const pool = new Pool(new FakeFactory(), { max: 1 });
    const held = await pool.acquire();
    await expect(pool.acquire({ timeout: 0 })).rejects.toBeInstanceOf(TimeoutError);
    expect(() => pool.acquire({ timeout: -5 })).toThrow(/got -5/);
    expect(() => pool.acquire({ timeout: NaN })).toThrow(RangeError);
    await held.release();
    await pool.close();
  });

  it('with timeout 0 and a free slot but nothing idle, rejects with TimeoutError at once and creates nothing', async () => {
    const f = new FakeFactory();
    const pool = new Pool(f, { max: 2, name: 'z' });
    const onTimeout = vi.fn();
    pool.on('acquireTimeout', onTimeout);
    const p = pool.acquire({ timeout: 0 });
    expect(pool.stats()).toMatchObject({ size: 0, pending: 0 }); // nothing started, nothing held
    await expect(p).rejects.toThrow('Pool "z" acquire timed out after 0 ms (0 borrowed, 0 waiting)');
    await expect(pool.use(() => 'ran', { timeout: 0 })).rejects.toBeInstanceOf(TimeoutError);
    await flush();
    expect(f.createCalls).toBe(0);
    expect(onTimeout).toHaveBeenCalledTimes(2);
    expect(pool.stats()).toMatchObject({ size: 0, borrowed: 0, pending: 0, timeouts: 2 });
    const lease = await pool.acquire(); // both slots are still free
    const other = await pool.acquire();
    await lease.release();
    await other.release();
    await pool.close();
  });

  it('with timeout 0 lends an idle resource that validates synchronously', async () => {
    const f = new FakeFactory({ validate: true });
    const pool = new Pool(f, { max: 2 });
    const first = await pool.acquire();
    await first.release();
    const again = await pool.acquire({ timeout: 0 });
    expect(again.resource).toBe(first.resource);
    // A slot is free, but the only idle resource is lent: no create for timeout 0.
    await expect(pool.use((r) => r.id, { timeout: 0 })).rejects.toBeInstanceOf(TimeoutError);
    await again.release();
    expect(await pool.use((r) => r.id, { timeout: 0 })).toBe(first.resource.id);
    expect(f.createCalls).toBe(1);
    await pool.close();
  });

  it('with timeout 0 rejects at once when validate answers asynchronously, and the resource stays idle', async () => {
    const f = new FakeFactory();
    f.validate = (r) => Promise.resolve(r.valid);
    const pool = new Pool(f, { max: 1 });
    await (await pool.acquire()).release();
    await expect(pool.acquire({ timeout: 0 })).rejects.toBeInstanceOf(TimeoutError);
    await flush();
    expect(pool.stats()).toMatchObject({ idle: 1, borrowed: 0, size: 1, pending: 0 });
    expect(f.createCalls).toBe(1);
    await pool.close();
  });

  it('rejects at once with QueueFullError beyond maxWaiting', async () => {
    const pool = new Pool(new FakeFactory(), { max: 1, maxWaiting: 1 });
    const held = await pool.acquire();
    const queued = pool.acquire();
    await flush();
    await expect(pool.acquire()).rejects.toBeInstanceOf(QueueFullError);
    await held.release();
    await (await queued).release();
    await pool.close();
  });

  it("rejects with the factory's error after a bounded, backed-off retry, and then stops trying", async () => {
    vi.useFakeTimers();
    const f = new FakeFactory();
    const boom = new Error('connection refused');
    f.failCreate = () => boom;
    const pool = new Pool(f, { createAttempts: 3, createBackoff: { initialDelay: 100, jitter: false } });
    const p = pool.acquire();
    const check = expect(p).rejects.toBe(boom);
    await vi.advanceTimersByTimeAsync(0);
    expect(f.createCalls).toBe(1);
    await vi.advanceTimersByTimeAsync(100);
    expect(f.createCalls).toBe(2);
    await vi.advanceTimersByTimeAsync(200);
    await check;
    expect(f.createCalls).toBe(3);
    await vi.advanceTimersByTimeAsync(60_000);
    expect(f.createCalls).toBe(3); // nobody waits: no retry, no spin
    expect(pool.stats()).toMatchObject({ size: 0, createErrors: 3, pending: 0 });
    await pool.close();
  });

  it('hands the slot of a failed create to the next waiter (no hang)', async () => {
    const f = new FakeFactory();
    f.failCreate = (n) => (n === 1 ? new Error('first fails') : undefined);
    const pool = new Pool(f, { max: 1, createAttempts: 1 });
    const a = pool.acquire();
    const b = pool.acquire();
    await expect(a).rejects.toThrow('first fails');
    const lease = await b;
    expect(lease.resource.id).toBe(2);
    await lease.release();
    await pool.close();
  });

  it('times out while create keeps failing, with the last create error as cause', async () => {
    vi.useFakeTimers();
    const f = new FakeFactory();
    const boom = new Error('ECONNREFUSED');
    f.failCreate = () => boom;
    const pool = new Pool(f, { createAttempts: 10, createBackoff: { initialDelay: 100, jitter: false } });
    const p = pool.acquire({ timeout: 250 });
    const check = expect(p).rejects.toMatchObject({ name: 'TimeoutError', cause: boom });
    await vi.advanceTimersByTimeAsync(250);
    await check;
    const calls = f.createCalls;
    await vi.advanceTimersByTimeAsync(10_000);
    expect(f.createCalls).toBe(calls); // the retry loop ended with the acquirer
    await pool.close();
  });

  it('aborts the signal given to create when the acquirer gives up', async () => {
    const f = new FakeFactory();
    f.createDelay = 10_000;
    const pool = new Pool(f);
    const ac = new AbortController();
    const p = pool.acquire({ signal: ac.signal });
    await flush();
    expect(f.signals[0]?.aborted).toBe(false);
    ac.abort(new Error('stop'));
    await expect(p).rejects.toThrow('stop');
    expect(f.signals[0]?.aborted).toBe(true);
    await flush();
    expect(pool.stats()).toMatchObject({ size: 0, pending: 0 });
    await pool.close();
  });

  it('rejects at once when create ignores its signal, and keeps the late resource idle', async () => {
    const f = new FakeFactory();
    f.hang = true;
    const pool = new Pool(f, { max: 1 });
    const ac = new AbortController();
    const p = pool.acquire({ signal: ac.signal });
    await flush();
    ac.abort(new Error('stop'));
    await expect(p).rejects.toThrow('stop');
    f.releaseHung();
    await flush();
    expect(pool.stats()).toMatchObject({ idle: 1, borrowed: 0, size: 1 });
    const lease = await pool.acquire();
    expect(lease.resource.id).toBe(1);
    await lease.release();
    await pool.close();
    expect(f.live.size).toBe(0);
  });

  it('destroys an idle resource that fails validate (false or throw) and hands out another', async () => {
    const f = new FakeFactory({ validate: true });
    const pool = new Pool(f, { max: 2 });
    const a = await pool.acquire();
    a.resource.valid = false;
    await a.release();
    const b = await pool.acquire();
    expect(b.resource.id).toBe(2);
    await b.release();
    f.validateThrows = true;
    const c = await pool.acquire();
    expect(c.resource.id).toBe(3);
    expect(pool.stats()).toMatchObject({ created: 3, destroyed: 2 });
    await c.release();
    f.validateThrows = false;
    await pool.close();
    expect(f.live.size).toBe(0);
  });
});

describe('Lease', () => {
  it('release() and destroy() are idempotent', async () => {
    const f = new FakeFactory();
    const pool = new Pool(f, { max: 1 });
    const a = await pool.acquire();
    await a.release();
    await a.release();
    await a.destroy();
    expect(pool.stats()).toMatchObject({ idle: 1, borrowed: 0, destroyed: 0 });
    const b = await pool.acquire();
    await b.destroy(new Error('socket closed'));
    await b.destroy();
    await b.release();
    await flush();
    expect(pool.stats()).toMatchObject({ idle: 0, borrowed: 0, destroyed: 1, size: 0 });
    expect(f.destroyCalls).toBe(1);
    const c = await pool.acquire(); // the slot came back exactly once: max 1 still serves
    expect(c.resource.id).toBe(2);
    await c.release();
    await pool.close();
  });

  it('is released at the end of an `await using` scope', async () => {
    const pool = new Pool(new FakeFactory());
    {
      await using lease = await pool.acquire();
      expect(lease.resource.id).toBe(1);
      expect(pool.stats().borrowed).toBe(1);
    }
    expect(pool.stats()).toMatchObject({ borrowed: 0, idle: 1 });
    await pool.close();
  });

  it('runs factory.reset on release and destroys the resource when it says false', async () => {
    const f = new FakeFactory({ reset: true });
    const pool = new Pool(f);
    const a = await pool.acquire();
    await a.release();
    expect(pool.stats().idle).toBe(1);
    const b = await pool.acquire();
    b.resource.clean = false; // e.g. left inside a transaction
    await b.release();
    expect(pool.stats()).toMatchObject({ idle: 0, destroyed: 1 });
    await pool.close();
  });
});

describe('Pool.use()', () => {
  it('releases on success and on throw, and destroys when isBroken says so', async () => {
    const f = new FakeFactory();
    const pool = new Pool<Res>(f, { isBroken: (err) => err instanceof Error && err.message === 'broken' });
    expect(await pool.use((r) => r.id)).toBe(1);
    await expect(
      pool.use(() => {
        throw new Error('sql error');
      }),
    ).rejects.toThrow('sql error');
    expect(pool.stats()).toMatchObject({ idle: 1, destroyed: 0 });
    await expect(
      pool.use(async () => {
        throw new Error('broken');
      }),
    ).rejects.toThrow('broken');
    expect(pool.stats()).toMatchObject({ idle: 0, borrowed: 0, destroyed: 1 });
    await pool.close();
  });

  it("passes fn a signal that aborts with the caller's signal", async () => {
    const pool = new Pool(new FakeFactory());
    const ac = new AbortController();
    const seen = await pool.use(
      async (_r, signal) => {
        ac.abort(new Error('cancel'));
        return signal.reason as Error;
      },
      { signal: ac.signal },
    );
    expect(seen.message).toBe('cancel');
    expect(() => pool.use(42 as never)).toThrow(TypeError);
    await pool.close();
  });
});

describe('Pool retirement (maxUses, maxLifetime, idleTimeout, min)', () => {
  it('destroys a resource after maxUses leases', async () => {
    const pool = new Pool(new FakeFactory(), { maxUses: 2 });
    await pool.use(() => {});
    expect(pool.stats().idle).toBe(1);
    await pool.use(() => {});
    expect(pool.stats()).toMatchObject({ idle: 0, destroyed: 1 });
    await pool.close();
  });

  it('retires resources past maxLifetime, idle (by the sweep) or lent (on release)', async () => {
    vi.useFakeTimers();
    const f = new FakeFactory();
    const pool = new Pool(f, { maxLifetime: 10_000, lifetimeJitter: 0, idleTimeout: Infinity });
    const a = await pool.acquire();
    const b = await pool.acquire();
    await a.release();
    await vi.advanceTimersByTimeAsync(9_000);
    expect(f.live.size).toBe(2);
    await vi.advanceTimersByTimeAsync(2_000);
    expect(f.live.has(a.resource)).toBe(false); // the sweep evicted the idle one
    expect(f.live.has(b.resource)).toBe(true);
    await b.release(); // expired while lent: destroyed on release
    expect(f.live.size).toBe(0);
    await pool.close();
  });

  it('spreads lifetimes with jitter so a fleet does not expire together', async () => {
    vi.useFakeTimers();
    const f = new FakeFactory();
    const pool = new Pool(f, { max: 20, maxLifetime: 10_000, lifetimeJitter: 0.5, idleTimeout: Infinity });
    const leases = await Promise.all(Array.from({ length: 20 }, () => pool.acquire()));
    await Promise.all(leases.map((l) => l.release()));
    await vi.advanceTimersByTimeAsync(4_000);
    expect(f.live.size).toBe(20); // nobody lives less than 10 s × (1 − 0.5)
    await vi.advanceTimersByTimeAsync(3_500);
    expect(f.live.size).toBeGreaterThan(0);
    expect(f.live.size).toBeLessThan(20);
    await vi.advanceTimersByTimeAsync(3_500);
    expect(f.live.size).toBe(0);
    await pool.close();
  });

  it('evicts idle resources above min after idleTimeout and keeps min warm', async () => {
    vi.useFakeTimers();
    const f = new FakeFactory();
    const pool = new Pool(f, { min: 1, max: 3, idleTimeout: 1000 });
    await vi.advanceTimersByTimeAsync(0);
    expect(pool.stats()).toMatchObject({ idle: 1, created: 1 });
    const leases = await Promise.all([pool.acquire(), pool.acquire(), pool.acquire()]);
    await Promise.all(leases.map((l) => l.release()));
    expect(pool.stats().idle).toBe(3);
    await vi.advanceTimersByTimeAsync(2_000);
    expect(pool.stats()).toMatchObject({ idle: 1, destroyed: 2 });
    const last = await pool.acquire();
    await last.destroy();
    await vi.advanceTimersByTimeAsync(0);
    expect(pool.stats()).toMatchObject({ idle: 1, size: 1 }); // min replaced in the background
    await pool.close();
    expect(f.live.size).toBe(0);
  });

  it('stops warming after createAttempts failures and reports once on error', async () => {
    vi.useFakeTimers();
    const f = new FakeFactory();
    f.failCreate = () => new Error('down');
    const pool = new Pool(f, {
      min: 2,
      createAttempts: 2,
      createBackoff: { initialDelay: 10, jitter: false },
    });
    const errors: unknown[] = [];
    pool.on('error', (e) => errors.push(e));
    await vi.advanceTimersByTimeAsync(60_000);
    expect(f.createCalls).toBe(4); // 2 warmers × 2 attempts, then silence
    expect(errors).toHaveLength(2);
    f.failCreate = () => undefined;
    await pool.use(() => {}); // an acquirer's success resumes the warm-up
    await vi.advanceTimersByTimeAsync(0);
    expect(pool.stats().size).toBe(2);
    await pool.close();
  });
});

describe('Pool.close()', () => {
  it('rejects pending and new acquirers with PoolClosedError at once', async () => {
    const pool = new Pool(new FakeFactory(), { max: 1 });
    const held = await pool.acquire();
    const pending = pool.acquire();
    await flush();
    const closing = pool.close();
    await expect(pending).rejects.toBeInstanceOf(PoolClosedError);
    await expect(pool.acquire()).rejects.toBeInstanceOf(PoolClosedError);
    await held.release();
    await closing;
    expect(pool.stats()).toMatchObject({ size: 0, idle: 0, borrowed: 0, pending: 0 });
  });

  it('waits for lent resources up to the timeout, then destroys them and aborts their signal', async () => {
    vi.useFakeTimers();
    const f = new FakeFactory();
    const pool = new Pool(f);
    const kept = await pool.acquire();
    const idle = await pool.acquire();
    await idle.release();
    let closed = false;
    const closing = pool.close({ timeout: 1000 }).then(() => (closed = true));
    await vi.advanceTimersByTimeAsync(999);
    expect(closed).toBe(false);
    expect(kept.signal.aborted).toBe(false);
    await vi.advanceTimersByTimeAsync(1);
    await closing;
    expect(kept.signal.aborted).toBe(true);
    expect(f.live.size).toBe(0);
    await kept.release(); // too late: a no-op
    expect(pool.stats()).toMatchObject({ size: 0, idle: 0, borrowed: 0, created: 2, destroyed: 2 });
  });

  it('with timeout 0 takes back at once a lease not given back within this turn of the microtask queue', async () => {
    const pool = new Pool(new FakeFactory());
    const late = await pool.acquire();
    const closing = pool.close({ timeout: 0 });
    setImmediate(() => void late.release()); // runs before a 1 ms timer would: still too late
    await closing;
    expect(late.signal.aborted).toBe(true);
    expect(pool.stats()).toMatchObject({ size: 0, borrowed: 0, destroyed: 1 });

    const other = new Pool(new FakeFactory());
    const quick = await other.acquire();
    const closingOther = other.close({ timeout: 0 });
    void quick.release(); // given back at once: not reclaimed
    await closingOther;
    expect(quick.signal.aborted).toBe(false);
  });

  it('is idempotent and runs on `await using`', async () => {
    const f = new FakeFactory();
    {
      await using pool = new Pool(f);
      await pool.use(() => {});
      expect(pool.close()).toBe(pool.close());
    }
    expect(f.live.size).toBe(0);
  });
});

describe('Pool events', () => {
  it('never crashes on a failing destroy when nobody listens to error', async () => {
    const f = new FakeFactory();
    f.destroyThrows = true;
    const pool = new Pool(f);
    const lease = await pool.acquire();
    await lease.destroy();
    await flush();
    const errors: unknown[] = [];
    pool.on('error', (e) => errors.push(e));
    await (await pool.acquire()).destroy();
    await flush();
    expect(errors).toHaveLength(1);
    await pool.close();
  });

  it('reports a lease held past leakTimeout with the stack that acquired it', async () => {
    vi.useFakeTimers();
    const pool = new Pool(new FakeFactory(), { leakTimeout: 1000 });
    const leaks: Error[] = [];
    pool.on('leak', (e) => leaks.push(e));
    const lease = await pool.acquire();
    await vi.advanceTimersByTimeAsync(1000);
    expect(leaks).toHaveLength(1);
    expect(leaks[0]?.stack).toContain('pool.test.ts');
    await lease.release();
    const other = await pool.acquire();
    await other.release();
    await vi.advanceTimersByTimeAsync(5000);
    expect(leaks).toHaveLength(1);
    await pool.close();
  });
});
