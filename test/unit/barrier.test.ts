import { getEventListeners } from 'node:events';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { Barrier } from '../../src/barrier.js';
import { BrokenBarrierError, TimeoutError } from '../../src/errors.js';
import { flush, rejectionOf } from '../support/async.js';

afterEach(() => {
  vi.useRealTimers();
});

describe('new Barrier()', () => {
  it.each([0, -1, 1.5])('throws RangeError for parties %s', (parties) => {
    expect(() => new Barrier(parties)).toThrow(RangeError);
  });

  it('exposes parties and starts unbroken with nobody waiting', () => {
    const b = new Barrier(3);
    expect([b.parties, b.waiting, b.broken]).toEqual([3, 0, false]);
  });
});

describe('Barrier.wait()', () => {
  it('opens when all parties arrived and resolves with each arrival index', async () => {
    const b = new Barrier(3);
    const first = b.wait();
    const second = b.wait();
    expect(b.waiting).toBe(2);
    let opened = false;
    void first.then(() => (opened = true));
    await flush();
    expect(opened).toBe(false);
    const third = b.wait();
    await expect(Promise.all([first, second, third])).resolves.toEqual([0, 1, 2]);
    expect(b.waiting).toBe(0);
  });

  it('is reusable across cycles', async () => {
    const b = new Barrier(2);
    for (let cycle = 0; cycle < 3; cycle++) {
      await expect(Promise.all([b.wait(), b.wait()])).resolves.toEqual([0, 1]);
    }
    expect(b.broken).toBe(false);
  });

  it('with one party opens at once', async () => {
    await expect(new Barrier(1).wait({ timeout: 0 })).resolves.toBe(0);
  });

  it('breaks when a waiter is aborted: it rejects with its reason, the others with BrokenBarrierError', async () => {
    const b = new Barrier(3);
    const ac = new AbortController();
    const other = b.wait();
    const aborted = b.wait({ signal: ac.signal });
    const reason = new Error('cancel');
    ac.abort(reason);
    await expect(aborted).rejects.toBe(reason);
    await expect(other).rejects.toBeInstanceOf(BrokenBarrierError);
    expect(b.broken).toBe(true);
    expect(b.waiting).toBe(0);
    await expect(b.wait()).rejects.toBeInstanceOf(BrokenBarrierError);
    expect(getEventListeners(ac.signal, 'abort')).toHaveLength(0);
  });

  it('breaks when a waiter times out', async () => {
    vi.useFakeTimers();
    const b = new Barrier(3);
    const other = expect(b.wait()).rejects.toBeInstanceOf(BrokenBarrierError);
    const timed = rejectionOf(b.wait({ timeout: 20 }));
    await vi.advanceTimersByTimeAsync(20);
    const err = await timed;
    expect(err).toBeInstanceOf(TimeoutError);
    expect((err as Error).message).toBe('Barrier.wait() timed out after 20 ms (2 of 3 parties waiting)');
    await other;
    expect(b.broken).toBe(true);
  });

  it('with timeout 0 breaks the barrier unless the caller is the last party', async () => {
    const b = new Barrier(2);
    const other = b.wait();
    await expect(b.wait({ timeout: 0 })).resolves.toBe(1);
    await expect(other).resolves.toBe(0);
    const waiting = b.wait();
    const lonely = new Barrier(2);
    await expect(lonely.wait({ timeout: 0 })).rejects.toBeInstanceOf(TimeoutError);
    expect(lonely.broken).toBe(true);
    await expect(Promise.all([waiting, b.wait()])).resolves.toEqual([0, 1]);
  });

  it('rejects at once for an already aborted signal without breaking the barrier', async () => {
    const b = new Barrier(2);
    const reason = new Error('pre');
    await expect(b.wait({ signal: AbortSignal.abort(reason) })).rejects.toBe(reason);
    expect(b.broken).toBe(false);
  });

  it('lets a waiter aborted after the barrier opened reject, without breaking the next cycle', async () => {
    const b = new Barrier(2);
    const ac = new AbortController();
    const first = b.wait({ signal: ac.signal });
    const second = b.wait();
    ac.abort(new Error('late'));
    await expect(first).rejects.toThrow('late');
    await expect(second).resolves.toBe(1);
    expect(b.broken).toBe(false);
  });

  it('throws RangeError synchronously for a negative timeout', () => {
    expect(() => new Barrier(2).wait({ timeout: -1 })).toThrow(RangeError);
  });
});

describe('Barrier.abort()', () => {
  it('breaks the barrier for waiting and later callers', async () => {
    const b = new Barrier(3);
    const waiting = b.wait();
    b.abort();
    await expect(waiting).rejects.toBeInstanceOf(BrokenBarrierError);
    await expect(b.wait()).rejects.toBeInstanceOf(BrokenBarrierError);
    expect(b.broken).toBe(true);
  });
});

describe('Barrier.reset()', () => {
  it('rejects current waiters and makes a broken barrier usable again', async () => {
    const b = new Barrier(2);
    const waiting = b.wait();
    b.reset();
    await expect(waiting).rejects.toBeInstanceOf(BrokenBarrierError);
    expect(b.broken).toBe(false);
    b.abort();
    b.reset();
    expect(b.broken).toBe(false);
    await expect(Promise.all([b.wait(), b.wait()])).resolves.toEqual([0, 1]);
  });
});
