import { getEventListeners } from 'node:events';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { TimeoutError } from '../../src/errors.js';
import { Semaphore } from '../../src/semaphore.js';
import { flush, rejectionOf, track } from '../support/async.js';

afterEach(() => {
  vi.useRealTimers();
});

describe('new Semaphore()', () => {
  it('defaults to one permit', () => {
    const sem = new Semaphore();
    expect(sem.value).toBe(1);
    expect(sem.locked()).toBe(false);
  });

  it.each([-1, 1.5, NaN])('throws RangeError quoting a bad value %s', (v) => {
    expect(() => new Semaphore(v)).toThrow(RangeError);
    expect(() => new Semaphore(v)).toThrow(String(v));
  });

  it('throws TypeError for a non-number value', () => {
    expect(() => new Semaphore('3' as unknown as number)).toThrow(TypeError);
  });
});

describe('Semaphore.acquire()', () => {
  it('takes free permits at once and waits when none is left', async () => {
    const sem = new Semaphore(2);
    await sem.acquire();
    await sem.acquire();
    expect(sem.value).toBe(0);
    expect(sem.locked()).toBe(true);
    const third = track(sem.acquire());
    await flush();
    expect(third.status).toBe('pending');
    expect(sem.waiting).toBe(1);
    sem.release();
    await flush();
    expect(third.status).toBe('fulfilled');
    expect(sem.value).toBe(0);
  });

  it('wakes waiters in FIFO order', async () => {
    const sem = new Semaphore(1);
    await sem.acquire();
    const order: number[] = [];
    const all = [1, 2, 3].map((i) => sem.acquire().then(() => order.push(i)));
    for (let i = 0; i < 3; i++) sem.release();
    await Promise.all(all);
    expect(order).toEqual([1, 2, 3]);
  });

  it('hands a released permit straight to the first waiter (value stays 0)', async () => {
    const sem = new Semaphore(1);
    await sem.acquire();
    const waiter = track(sem.acquire());
    sem.release();
    expect(sem.value).toBe(0);
    expect(sem.waiting).toBe(0);
    await flush();
    expect(waiter.status).toBe('fulfilled');
  });

  it('does not let a later caller barge ahead of a woken waiter', async () => {
    const sem = new Semaphore(1);
    await sem.acquire();
    const first = track(sem.acquire());
    sem.release();
    // The permit belongs to `first` even though it has not resumed yet.
    expect(sem.tryAcquire()).toBe(false);
    const late = track(sem.acquire());
    await flush();
    expect(first.status).toBe('fulfilled');
    expect(late.status).toBe('pending');
    sem.release();
    await flush();
    expect(late.status).toBe('fulfilled');
  });

  it('rejects with signal.reason when aborted while waiting, leaving the queue clean', async () => {
    const sem = new Semaphore(0);
    const ac = new AbortController();
    const p = sem.acquire({ signal: ac.signal });
    expect(sem.waiting).toBe(1);
    const reason = new Error('stop');
    ac.abort(reason);
    await expect(p).rejects.toBe(reason);
    expect(sem.waiting).toBe(0);
    expect(getEventListeners(ac.signal, 'abort')).toHaveLength(0);
    sem.release();
    expect(sem.value).toBe(1);
  });

  it('hands the permit on when a woken waiter is aborted before it resumes', async () => {
    const sem = new Semaphore(1);
    await sem.acquire();
    const ac = new AbortController();
    const first = sem.acquire({ signal: ac.signal });
    const second = track(sem.acquire());
    sem.release(); // wakes `first`…
    ac.abort(new Error('late abort')); // …which is aborted in the same tick.
    await expect(first).rejects.toThrow('late abort');
    await flush();
    expect(second.status).toBe('fulfilled');
    expect(sem.value).toBe(0);
    sem.release();
    expect(sem.value).toBe(1);
  });

  it('returns the permit to the free count when a woken, aborted waiter has nobody to pass it to', async () => {
    const sem = new Semaphore(1);
    await sem.acquire();
    const ac = new AbortController();
    const first = sem.acquire({ signal: ac.signal });
    sem.release();
    ac.abort();
    await expect(first).rejects.toBe(ac.signal.reason);
    expect(sem.value).toBe(1);
  });

  it('rejects at once with the reason of an already aborted signal, even with a free permit', async () => {
    const sem = new Semaphore(1);
    const reason = new Error('already');
    await expect(sem.acquire({ signal: AbortSignal.abort(reason) })).rejects.toBe(reason);
    expect(sem.value).toBe(1);
  });

  it('times out with a TimeoutError carrying the state', async () => {
    vi.useFakeTimers();
    const sem = new Semaphore(3);
    for (let i = 0; i < 3; i++) await sem.acquire();
    const others = [sem.acquire(), sem.acquire(), sem.acquire()];
    const p = sem.acquire({ timeout: 50 });
    const caught = rejectionOf(p);
    await vi.advanceTimersByTimeAsync(50);
    const err = await caught;
    expect(err).toBeInstanceOf(TimeoutError);
    expect((err as Error).message).toBe('Semaphore.acquire() timed out after 50 ms (0 of 3 free, 4 waiting)');
    expect(sem.waiting).toBe(3);
    for (let i = 0; i < 3; i++) sem.release();
    await Promise.all(others);
  });

  it('honours a timeout longer than setTimeout can take (2^31 ms and more)', async () => {
    vi.useFakeTimers();
    const sem = new Semaphore(0);
    const ms = 2 ** 32;
    let outcome: unknown = 'pending';
    sem.acquire({ timeout: ms }).then(
      () => (outcome = 'acquired'),
      (e: unknown) => (outcome = e),
    );
    await vi.advanceTimersByTimeAsync(ms - 10);
    expect(outcome).toBe('pending');
    await vi.advanceTimersByTimeAsync(10);
    expect(outcome).toBeInstanceOf(TimeoutError);
    expect(sem.waiting).toBe(0);
    expect(vi.getTimerCount()).toBe(0);
  });

  it('with timeout 0 takes a free permit or rejects at once', async () => {
    const sem = new Semaphore(1);
    await sem.acquire({ timeout: 0 });
    await expect(sem.acquire({ timeout: 0 })).rejects.toBeInstanceOf(TimeoutError);
    expect(sem.waiting).toBe(0);
  });

  it.each([-1, NaN])('throws RangeError synchronously for timeout %s', (timeout) => {
    const sem = new Semaphore(1);
    expect(() => sem.acquire({ timeout })).toThrow(RangeError);
    expect(sem.value).toBe(1);
  });

  it('treats null options as none, in acquire() and use()', async () => {
    const sem = new Semaphore(1);
    await sem.acquire(null as never);
    expect(sem.value).toBe(0);
    const used = sem.use(() => 'ok', null as never);
    sem.release();
    await expect(used).resolves.toBe('ok');
    expect(sem.value).toBe(1);
  });

  it('throws TypeError synchronously for a signal that is not an AbortSignal', () => {
    const sem = new Semaphore(1);
    expect(() => sem.acquire({ signal: {} as AbortSignal })).toThrow(TypeError);
  });

  it('leaves one listener while waiting and none after, on a long-lived signal across 10 000 cycles', async () => {
    const sem = new Semaphore(1);
    const ac = new AbortController();
    for (let i = 0; i < 10_000; i++) {
      const a = sem.acquire({ signal: ac.signal });
      const b = sem.acquire({ signal: ac.signal }); // waits: registers a listener
      if (i % 1000 === 0) expect(getEventListeners(ac.signal, 'abort')).toHaveLength(1);
      sem.release();
      await a;
      await b;
      sem.release();
    }
    expect(getEventListeners(ac.signal, 'abort')).toHaveLength(0);
    expect(sem.value).toBe(1);
  });

  it('shares one abort listener among many waiters on the same signal, and removes it', async () => {
    const sem = new Semaphore(0);
    const ac = new AbortController();
    const order: number[] = [];
    const waiters = Array.from({ length: 50 }, (_, i) =>
      sem.acquire({ signal: ac.signal }).catch(() => {
        order.push(i);
      }),
    );
    expect(getEventListeners(ac.signal, 'abort')).toHaveLength(1);
    sem.release(); // the first waiter leaves the queue: the listener stays for the other 49
    await waiters[0];
    expect(getEventListeners(ac.signal, 'abort')).toHaveLength(1);
    ac.abort();
    await Promise.all(waiters);
    expect(order).toEqual(Array.from({ length: 49 }, (_, i) => i + 1));
    expect(getEventListeners(ac.signal, 'abort')).toHaveLength(0);
    expect(sem.waiting).toBe(0);
    sem.release(); // the permit the first waiter got
    expect(sem.value).toBe(1);
  });

  it('does not leave a timer or a waiter behind after a timeout', async () => {
    vi.useFakeTimers();
    const sem = new Semaphore(0);
    const timedOut = expect(sem.acquire({ timeout: 10 })).rejects.toBeInstanceOf(TimeoutError);
    await vi.advanceTimersByTimeAsync(10);
    await timedOut;
    expect(vi.getTimerCount()).toBe(0);
    expect(sem.waiting).toBe(0);
  });
});

describe('Semaphore.tryAcquire()', () => {
  it('takes a free permit and refuses when none is free', () => {
    const sem = new Semaphore(1);
    expect(sem.tryAcquire()).toBe(true);
    expect(sem.tryAcquire()).toBe(false);
    sem.release();
    expect(sem.tryAcquire()).toBe(true);
  });

  it('cannot overtake a queued waiter', async () => {
    const sem = new Semaphore(0);
    const waiter = track(sem.acquire());
    sem.release();
    expect(sem.tryAcquire()).toBe(false);
    await flush();
    expect(waiter.status).toBe('fulfilled');
  });
});

describe('Semaphore.release()', () => {
  it('raises the value above the initial one (unbounded semaphore)', () => {
    const sem = new Semaphore(1);
    sem.release();
    expect(sem.value).toBe(2);
  });
});

describe('Semaphore.use()', () => {
  it('releases after fn resolves, throws, or the wait is aborted', async () => {
    const sem = new Semaphore(1);
    await expect(sem.use(() => 42)).resolves.toBe(42);
    expect(sem.value).toBe(1);
    await expect(
      sem.use(() => {
        throw new Error('boom');
      }),
    ).rejects.toThrow('boom');
    expect(sem.value).toBe(1);
    await sem.acquire();
    const ac = new AbortController();
    const fn = vi.fn();
    const p = sem.use(fn, { signal: ac.signal });
    ac.abort();
    await expect(p).rejects.toBeInstanceOf(DOMException);
    expect(fn).not.toHaveBeenCalled();
    sem.release();
    expect(sem.value).toBe(1);
  });

  it('does not run fn and hands the permit on when a woken waiter is aborted before it resumes', async () => {
    const sem = new Semaphore(1);
    await sem.acquire();
    const ac = new AbortController();
    const fn = vi.fn(() => 'ran');
    const first = sem.use(fn, { signal: ac.signal });
    const second = sem.use(() => 'second');
    sem.release(); // wakes `first`…
    const reason = new Error('late abort');
    ac.abort(reason); // …which is aborted in the same tick.
    await expect(first).rejects.toBe(reason);
    await expect(second).resolves.toBe('second');
    expect(fn).not.toHaveBeenCalled();
    expect([sem.value, sem.waiting]).toEqual([1, 0]);
  });

  it('does no work for an already aborted signal and honours timeout 0', async () => {
    const sem = new Semaphore(1);
    const fn = vi.fn(() => 1);
    const reason = new Error('already');
    await expect(sem.use(fn, { signal: AbortSignal.abort(reason) })).rejects.toBe(reason);
    expect(fn).not.toHaveBeenCalled();
    expect(sem.value).toBe(1);
    await expect(sem.use(fn, { timeout: 0 })).resolves.toBe(1);
    await sem.acquire();
    await expect(sem.use(fn, { timeout: 0 })).rejects.toBeInstanceOf(TimeoutError);
    expect(fn).toHaveBeenCalledTimes(1);
    expect([sem.value, sem.waiting]).toEqual([0, 0]);
  });

  it('never runs more than `value` functions at once', async () => {
    const sem = new Semaphore(3);
    let running = 0;
    let peak = 0;
    await Promise.all(
      Array.from({ length: 50 }, () =>
        sem.use(async () => {
          running++;
          peak = Math.max(peak, running);
          await flush();
          running--;
        }),
      ),
    );
    expect(peak).toBe(3);
    expect(sem.value).toBe(3);
  });

  it('throws TypeError synchronously when fn is not a function', () => {
    const sem = new Semaphore(1);
    expect(() => sem.use(42 as unknown as () => void)).toThrow(TypeError);
    expect(sem.value).toBe(1);
  });
});
