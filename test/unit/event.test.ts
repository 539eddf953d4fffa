import { getEventListeners } from 'node:events';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { TimeoutError } from '../../src/errors.js';
import { Event } from '../../src/event.js';
import { rejectionOf } from '../support/async.js';

afterEach(() => {
  vi.useRealTimers();
});

describe('Event.wait()', () => {
  it('waits until set() and resolves true for every waiter', async () => {
    const ev = new Event();
    expect(ev.isSet()).toBe(false);
    const waiters = [ev.wait(), ev.wait(), ev.wait()];
    expect(ev.waiting).toBe(3);
    ev.set();
    await expect(Promise.all(waiters)).resolves.toEqual([true, true, true]);
    expect(ev.waiting).toBe(0);
  });

  it('resolves at once while set, and waits again after clear()', async () => {
    vi.useFakeTimers();
    const ev = new Event();
    ev.set();
    await expect(ev.wait({ timeout: 0 })).resolves.toBe(true);
    ev.clear();
    expect(ev.isSet()).toBe(false);
    await expect(ev.wait({ timeout: 0 })).rejects.toBeInstanceOf(TimeoutError);
    const p = rejectionOf(ev.wait({ timeout: 100 }));
    await vi.advanceTimersByTimeAsync(100);
    const err = await p;
    expect(err).toBeInstanceOf(TimeoutError);
    expect((err as Error).message).toBe('Event.wait() timed out after 100 ms (not set, 1 waiting)');
  });

  it('rejects with the reason on abort and removes its listener', async () => {
    const ev = new Event();
    const ac = new AbortController();
    const p = ev.wait({ signal: ac.signal });
    ac.abort(new Error('gone'));
    await expect(p).rejects.toThrow('gone');
    expect(getEventListeners(ac.signal, 'abort')).toHaveLength(0);
    expect(ev.waiting).toBe(0);
  });

  it('rejects with the reason when aborted after set() but before it resumed (the abort wins)', async () => {
    const ev = new Event();
    const ac = new AbortController();
    const reason = new Error('late');
    const late = ev.wait({ signal: ac.signal });
    const other = ev.wait();
    ev.set();
    ac.abort(reason);
    await expect(late).rejects.toBe(reason);
    await expect(other).resolves.toBe(true);
    expect(ev.isSet()).toBe(true);
    expect(getEventListeners(ac.signal, 'abort')).toHaveLength(0);
  });

  it('rejects at once with an already aborted signal even when set', async () => {
    const ev = new Event();
    ev.set();
    const reason = new Error('pre');
    await expect(ev.wait({ signal: AbortSignal.abort(reason) })).rejects.toBe(reason);
  });

  it('throws RangeError synchronously for a negative timeout', () => {
    expect(() => new Event().wait({ timeout: -1 })).toThrow(RangeError);
  });

  it('leaves one listener while waiting and none after, on a long-lived signal across 10 000 waits', async () => {
    const ev = new Event();
    const ac = new AbortController();
    for (let i = 0; i < 10_000; i++) {
      const p = ev.wait({ signal: ac.signal });
      if (i % 1000 === 0) expect(getEventListeners(ac.signal, 'abort')).toHaveLength(1);
      ev.set();
      await p;
      ev.clear();
    }
    expect(getEventListeners(ac.signal, 'abort')).toHaveLength(0);
  });
});
