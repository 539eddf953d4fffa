import { getEventListeners } from 'node:events';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { InvalidStateError, TimeoutError } from '../../src/errors.js';
import { Lock } from '../../src/lock.js';
import { flush, rejectionOf } from '../support/async.js';

afterEach(() => {
  vi.useRealTimers();
});

describe('Lock.acquire()', () => {
  it('locks, and a second caller waits until release', async () => {
    const lock = new Lock();
    await lock.acquire();
    expect(lock.locked()).toBe(true);
    let second = false;
    const p = lock.acquire().then(() => (second = true));
    await flush();
    expect(second).toBe(false);
    lock.release();
    await p;
    expect(second).toBe(true);
    expect(lock.locked()).toBe(true);
    lock.release();
    expect(lock.locked()).toBe(false);
  });

  it('serves waiters in FIFO order', async () => {
    const lock = new Lock();
    await lock.acquire();
    const order: number[] = [];
    const all = [1, 2, 3, 4].map((i) =>
      lock.acquire().then(() => {
        order.push(i);
        lock.release();
      }),
    );
    lock.release();
    await Promise.all(all);
    expect(order).toEqual([1, 2, 3, 4]);
    expect(lock.locked()).toBe(false);
  });

  it('cannot be barged: a caller arriving after release() still queues behind the woken waiter', async () => {
    const lock = new Lock();
    await lock.acquire();
    const order: string[] = [];
    const first = lock.acquire().then(() => order.push('first'));
    lock.release();
    expect(lock.locked()).toBe(true); // handed to `first`, not free
    const late = lock.acquire().then(() => order.push('late'));
    await first;
    lock.release();
    await late;
    expect(order).toEqual(['first', 'late']);
  });

  it('hands the lock on when a woken waiter is aborted before it resumes', async () => {
    const lock = new Lock();
    await lock.acquire();
    const ac = new AbortController();
    const first = lock.acquire({ signal: ac.signal });
    let secondGot = false;
    const second = lock.acquire().then(() => (secondGot = true));
    lock.release();
    ac.abort(new Error('late'));
    await expect(first).rejects.toThrow('late');
    await second;
    expect(secondGot).toBe(true);
    expect(lock.locked()).toBe(true);
    lock.release();
    expect(lock.locked()).toBe(false);
  });

  it('unlocks when a woken, aborted waiter has nobody to hand the lock to', async () => {
    const lock = new Lock();
    await lock.acquire();
    const ac = new AbortController();
    const first = lock.acquire({ signal: ac.signal });
    lock.release();
    ac.abort();
    await expect(first).rejects.toBeInstanceOf(DOMException);
    expect(lock.locked()).toBe(false);
  });

  it('rejects with the reason when aborted while waiting and leaves no listener', async () => {
    const lock = new Lock();
    await lock.acquire();
    const ac = new AbortController();
    const p = lock.acquire({ signal: ac.signal });
    expect(getEventListeners(ac.signal, 'abort')).toHaveLength(1);
    const reason = new Error('bye');
    ac.abort(reason);
    await expect(p).rejects.toBe(reason);
    expect(lock.waiting).toBe(0);
    expect(getEventListeners(ac.signal, 'abort')).toHaveLength(0);
  });

  it('rejects at once for an already aborted signal without taking the free lock', async () => {
    const lock = new Lock();
    const reason = new Error('pre');
    await expect(lock.acquire({ signal: AbortSignal.abort(reason) })).rejects.toBe(reason);
    expect(lock.locked()).toBe(false);
  });

  it('times out with the state in the message', async () => {
    vi.useFakeTimers();
    const lock = new Lock();
    await lock.acquire();
    const other = lock.acquire();
    const p = rejectionOf(lock.acquire({ timeout: 50 }));
    await vi.advanceTimersByTimeAsync(50);
    const err = await p;
    expect(err).toBeInstanceOf(TimeoutError);
    expect((err as Error).message).toBe('Lock.acquire() timed out after 50 ms (locked, 2 waiting)');
    expect(lock.waiting).toBe(1);
    lock.release();
    await other;
  });

  it('with timeout 0 takes a free lock or rejects at once', async () => {
    const lock = new Lock();
    await lock.acquire({ timeout: 0 });
    await expect(lock.acquire({ timeout: 0 })).rejects.toBeInstanceOf(TimeoutError);
    expect(lock.waiting).toBe(0);
  });

  it('throws RangeError synchronously for a negative timeout', () => {
    expect(() => new Lock().acquire({ timeout: -5 })).toThrow(/-5/);
  });

  it('leaves one listener while waiting and none after, on a long-lived signal across 10 000 cycles', async () => {
    const lock = new Lock();
    const ac = new AbortController();
    for (let i = 0; i < 10_000; i++) {
      await lock.acquire({ signal: ac.signal });
      const next = lock.acquire({ signal: ac.signal });
      if (i % 1000 === 0) expect(getEventListeners(ac.signal, 'abort')).toHaveLength(1);
      lock.release();
      await next;
      lock.release();
    }
    expect(getEventListeners(ac.signal, 'abort')).toHaveLength(0);
  });
});

describe('Lock.release()', () => {
  it('throws InvalidStateError on an unlocked lock', () => {
    expect(() => new Lock().release()).toThrow(InvalidStateError);
  });
});

describe('Lock.use()', () => {
  it('releases on success, on throw and when the wait is aborted', async () => {
    const lock = new Lock();
    await expect(lock.use(() => 'v')).resolves.toBe('v');
    expect(lock.locked()).toBe(false);
    await expect(lock.use(() => Promise.reject(new Error('x')))).rejects.toThrow('x');
    expect(lock.locked()).toBe(false);
    await lock.acquire();
    const ac = new AbortController();
    const p = lock.use(() => 'never', { signal: ac.signal });
    ac.abort();
    await expect(p).rejects.toBeInstanceOf(DOMException);
    lock.release();
    expect(lock.locked()).toBe(false);
  });

  it('runs critical sections one at a time', async () => {
    const lock = new Lock();
    let inside = 0;
    let peak = 0;
    await Promise.all(
      Array.from({ length: 20 }, () =>
        lock.use(async () => {
          peak = Math.max(peak, ++inside);
          await flush();
          inside--;
        }),
      ),
    );
    expect(peak).toBe(1);
  });
});
