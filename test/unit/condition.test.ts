import { getEventListeners } from 'node:events';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { Condition } from '../../src/condition.js';
import { InvalidStateError, TimeoutError } from '../../src/errors.js';
import { Lock } from '../../src/lock.js';
import { flush, rejectionOf, track } from '../support/async.js';

afterEach(() => {
  vi.useRealTimers();
});

describe('new Condition()', () => {
  it('uses the lock it is given', async () => {
    const lock = new Lock();
    const cond = new Condition(lock);
    await cond.acquire();
    expect(lock.locked()).toBe(true);
    cond.release();
    expect(lock.locked()).toBe(false);
  });

  it('throws TypeError for something that is not a Lock', () => {
    expect(() => new Condition({} as Lock)).toThrow(TypeError);
  });
});

describe('Condition.wait()', () => {
  it('releases the lock while waiting and holds it again when notified', async () => {
    const cond = new Condition();
    await cond.acquire();
    let woke = false;
    const waiting = cond.wait().then((v) => {
      woke = true;
      expect(cond.locked()).toBe(true);
      return v;
    });
    expect(cond.locked()).toBe(false);
    await cond.acquire();
    cond.notify();
    await flush();
    expect(woke).toBe(false); // needs the lock, which we hold
    cond.release();
    await expect(waiting).resolves.toBe(true);
    expect(cond.locked()).toBe(true);
    cond.release();
  });

  it('rejects with InvalidStateError without the lock', async () => {
    const cond = new Condition();
    await expect(cond.wait()).rejects.toBeInstanceOf(InvalidStateError);
    await expect(cond.waitFor(() => true)).rejects.toBeInstanceOf(InvalidStateError);
  });

  it('wakes waiters in FIFO order with notify(n)', async () => {
    const cond = new Condition();
    const order: number[] = [];
    const waiters = [1, 2, 3].map(async (i) => {
      await cond.acquire();
      try {
        await cond.wait();
        order.push(i);
      } finally {
        cond.release();
      }
    });
    await flush();
    expect(cond.waiting).toBe(3);
    await cond.use(() => cond.notify(2));
    await flush();
    expect(order).toEqual([1, 2]);
    await cond.use(() => cond.notifyAll());
    await Promise.all(waiters);
    expect(order).toEqual([1, 2, 3]);
  });

  it('re-acquires the lock before rejecting on abort', async () => {
    const cond = new Condition();
    await cond.acquire();
    const ac = new AbortController();
    const p = cond.wait({ signal: ac.signal });
    await cond.acquire(); // someone else holds the lock when the abort lands
    const reason = new Error('stop');
    ac.abort(reason);
    let settled = false;
    const done = p.then(
      () => (settled = true),
      (e: unknown) => {
        settled = true;
        return e;
      },
    );
    await flush();
    expect(settled).toBe(false); // still waiting for the lock
    cond.release();
    expect(await done).toBe(reason);
    expect(cond.locked()).toBe(true); // the rejected caller holds it
    cond.release();
    expect(getEventListeners(ac.signal, 'abort')).toHaveLength(0);
  });

  it('re-acquires the lock before rejecting on timeout', async () => {
    vi.useFakeTimers();
    const cond = new Condition();
    await cond.acquire();
    const p = rejectionOf(cond.wait({ timeout: 30 }));
    await vi.advanceTimersByTimeAsync(30);
    const err = await p;
    expect(err).toBeInstanceOf(TimeoutError);
    expect((err as Error).message).toBe('Condition.wait() timed out after 30 ms (1 waiting)');
    expect(cond.locked()).toBe(true);
    cond.release();
  });

  it('passes the notification on when a notified waiter is aborted before it resumes', async () => {
    const cond = new Condition();
    const ac = new AbortController();
    await cond.acquire();
    const first = cond.wait({ signal: ac.signal });
    await cond.acquire();
    const second = cond.wait();
    await cond.acquire();
    cond.notify(1); // goes to `first`…
    ac.abort(new Error('late')); // …which is aborted in the same tick
    cond.release();
    await expect(first).rejects.toThrow('late');
    cond.release(); // `first` re-acquired the lock before rejecting
    await expect(second).resolves.toBe(true);
    expect(cond.waiting).toBe(0);
    cond.release();
  });

  it('re-acquires, then rejects with signal.reason and hands the notification on, when aborted while getting the lock back', async () => {
    const cond = new Condition();
    const ac = new AbortController();
    const reason = new Error('aborted while re-acquiring');
    await cond.acquire();
    const first = track(cond.wait({ signal: ac.signal }));
    await cond.acquire();
    const second = track(cond.wait());
    await cond.acquire();
    cond.notify(1); // goes to `first`, which resumes and queues for the lock we hold
    await flush();
    expect(first.status).toBe('pending');
    ac.abort(reason); // the abort lands while `first` waits to get the lock back
    cond.release(); // the lock goes to `first`
    await flush();
    expect(first).toMatchObject({ status: 'rejected', reason }); // asyncio: re-acquire, then raise
    expect(cond.locked()).toBe(true); // held by `first`, as after any wait()
    expect(second.status).toBe('pending'); // notified, but the lock is still `first`'s
    expect(cond.waiting).toBe(0); // the notification moved on to `second`
    cond.release(); // `first`'s caller lets go in its finally
    await flush();
    expect(second).toMatchObject({ status: 'fulfilled', value: true });
    cond.release();
  });

  it('resolves true when notified, even if its timeout passes while it waits to get the lock back', async () => {
    vi.useFakeTimers();
    const cond = new Condition();
    await cond.acquire();
    const p = track(cond.wait({ timeout: 50 }));
    await cond.acquire();
    cond.notify(); // notified within its timeout: the notification is consumed…
    await vi.advanceTimersByTimeAsync(500); // …and re-acquiring is not bounded by the timeout
    expect(p.status).toBe('pending');
    cond.release();
    await vi.advanceTimersByTimeAsync(0);
    expect(p).toMatchObject({ status: 'fulfilled', value: true });
    cond.release();
  });

  it('keeps the lock and rejects at once for an already aborted signal or timeout 0', async () => {
    const cond = new Condition();
    await cond.acquire();
    const reason = new Error('pre');
    await expect(cond.wait({ signal: AbortSignal.abort(reason) })).rejects.toBe(reason);
    await expect(cond.wait({ timeout: 0 })).rejects.toBeInstanceOf(TimeoutError);
    expect(cond.locked()).toBe(true);
    expect(cond.waiting).toBe(0);
    cond.release();
  });

  it('throws RangeError synchronously for a negative timeout', async () => {
    const cond = new Condition();
    await cond.acquire();
    expect(() => cond.wait({ timeout: -1 })).toThrow(RangeError);
    cond.release();
  });
});

describe('Condition.waitFor()', () => {
  it("resolves with the predicate's truthy value once it holds", async () => {
    const cond = new Condition();
    const items: string[] = [];
    const consumer = cond.use(() => cond.waitFor(() => items.shift()));
    await flush();
    await cond.use(() => cond.notifyAll()); // spurious: predicate still falsy
    await flush();
    await cond.use(() => {
      items.push('job');
      cond.notify();
    });
    await expect(consumer).resolves.toBe('job');
    expect(cond.locked()).toBe(false);
  });

  it('times out over the whole call, holding the lock', async () => {
    vi.useFakeTimers();
    const cond = new Condition();
    await cond.acquire();
    const p = rejectionOf(cond.waitFor(() => false, { timeout: 100 }));
    await vi.advanceTimersByTimeAsync(60);
    await cond.acquire();
    cond.notify();
    cond.release();
    await vi.advanceTimersByTimeAsync(40);
    const err = await p;
    expect(err).toBeInstanceOf(TimeoutError);
    expect((err as Error).message).toMatch(/^Condition\.waitFor\(\) timed out after 100 ms/);
    expect(cond.locked()).toBe(true);
    cond.release();
  });

  it('rejects with the signal reason itself on abort, even when the reason is a TimeoutError', async () => {
    const cond = new Condition();
    await cond.acquire();
    const ac = new AbortController();
    const reason = new TimeoutError('the request deadline passed');
    const p = cond.waitFor(() => false, { signal: ac.signal, timeout: 60_000 });
    ac.abort(reason);
    await expect(p).rejects.toBe(reason);
    expect(cond.locked()).toBe(true);
    cond.release();
  });

  it('rejects with signal.reason after re-acquiring when aborted while getting the lock back, and hands the notification on', async () => {
    const cond = new Condition();
    const ac = new AbortController();
    const reason = new Error('gone');
    let ready = false;
    await cond.acquire();
    const first = track(cond.waitFor(() => ready, { signal: ac.signal }));
    await cond.acquire();
    const second = track(cond.waitFor(() => ready));
    await cond.acquire();
    ready = true;
    cond.notify(1);
    await flush();
    ac.abort(reason);
    cond.release();
    await flush();
    expect(first).toMatchObject({ status: 'rejected', reason });
    expect(cond.locked()).toBe(true);
    cond.release();
    await flush();
    expect(second).toMatchObject({ status: 'fulfilled', value: true });
    cond.release();
  });

  it('resolves when notified with the predicate true, though its timeout passed while it got the lock back', async () => {
    vi.useFakeTimers();
    const cond = new Condition();
    let ready = false;
    await cond.acquire();
    const p = track(cond.waitFor(() => ready, { timeout: 50 }));
    await cond.acquire();
    ready = true;
    cond.notify();
    await vi.advanceTimersByTimeAsync(500);
    cond.release();
    await vi.advanceTimersByTimeAsync(0);
    expect(p).toMatchObject({ status: 'fulfilled', value: true });
    cond.release();
  });

  it('with timeout 0 checks the predicate once', async () => {
    const cond = new Condition();
    await cond.acquire();
    await expect(cond.waitFor(() => 7, { timeout: 0 })).resolves.toBe(7);
    await expect(cond.waitFor(() => 0, { timeout: 0 })).rejects.toBeInstanceOf(TimeoutError);
    expect(cond.locked()).toBe(true);
    cond.release();
  });
});

describe('Condition.notify()', () => {
  it('throws InvalidStateError without the lock', () => {
    const cond = new Condition();
    expect(() => cond.notify()).toThrow(InvalidStateError);
    expect(() => cond.notifyAll()).toThrow(InvalidStateError);
  });

  it('throws RangeError for a negative count', async () => {
    const cond = new Condition();
    await cond.acquire();
    expect(() => cond.notify(-1)).toThrow(RangeError);
    cond.release();
  });
});
