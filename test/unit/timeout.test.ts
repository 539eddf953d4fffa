import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { TimeoutError } from '../../src/errors.js';
import { createTask } from '../../src/task.js';
import { sleep, waitFor } from '../../src/timeout.js';

import {
  expectNoUnhandledRejection,
  maxListenersWarnings,
  trackListeners,
} from './helpers/unhandled-rejections.js';
import { deferred, rejectionOf, track } from '../support/async.js';

beforeEach(() => {
  vi.useFakeTimers();
});
afterEach(() => {
  vi.useRealTimers();
});

describe('sleep()', () => {
  it('shares one listener among many sleeps on a long-lived signal, all rejected by its abort', async () => {
    const warnings = await maxListenersWarnings(async () => {
      const ac = new AbortController();
      const listeners = trackListeners(ac.signal);
      const sleeps = Array.from({ length: 30 }, () => sleep(1000, { signal: ac.signal }));
      const done = sleep(10, { signal: ac.signal });
      expect(listeners.active()).toBe(1);
      await vi.advanceTimersByTimeAsync(10);
      await expect(done).resolves.toBeUndefined();
      const reason = new Error('stop');
      ac.abort(reason);
      for (const s of sleeps) await expect(s).rejects.toBe(reason);
      expect(listeners.active()).toBe(0);
      expect(vi.getTimerCount()).toBe(0);
    });
    expect(warnings).toEqual([]);
  });

  it('resolves after ms and not before', async () => {
    const s = track(sleep(100));
    await vi.advanceTimersByTimeAsync(99);
    expect(s.status).toBe('pending');
    await vi.advanceTimersByTimeAsync(1);
    expect(s.status).toBe('fulfilled');
  });

  it('rejects with signal.reason on abort and clears its timer', async () => {
    const ac = new AbortController();
    const p = sleep(1000, { signal: ac.signal });
    expect(vi.getTimerCount()).toBe(1);
    const reason = new Error('stop');
    ac.abort(reason);
    await expect(p).rejects.toBe(reason);
    expect(vi.getTimerCount()).toBe(0);
  });

  it('rejects at once with the reason of an already-aborted signal, starting no timer', async () => {
    const reason = new Error('already');
    await expect(sleep(10, { signal: AbortSignal.abort(reason) })).rejects.toBe(reason);
    expect(vi.getTimerCount()).toBe(0);
  });

  it('removes its listener from a long-lived signal when it resolves', async () => {
    const ac = new AbortController();
    const listeners = trackListeners(ac.signal);
    const p = sleep(10, { signal: ac.signal });
    expect(listeners.active()).toBe(1);
    await vi.advanceTimersByTimeAsync(10);
    await p;
    expect(listeners.active()).toBe(0);
  });

  it('waits forever for Infinity (until aborted) and correctly for delays beyond 2^31-1 ms', async () => {
    const ac = new AbortController();
    const forever = track(sleep(Infinity, { signal: ac.signal }).catch(() => {}));
    const long = track(sleep(2 ** 31 + 1000));
    await vi.advanceTimersByTimeAsync(2 ** 31);
    expect(forever.status).toBe('pending');
    expect(long.status).toBe('pending');
    await vi.advanceTimersByTimeAsync(1000);
    expect(long.status).toBe('fulfilled');
    ac.abort();
    await vi.advanceTimersByTimeAsync(0);
    expect(forever.status).toBe('fulfilled');
  });

  it('validates ms, quoting the bad value', () => {
    expect(() => sleep(-1)).toThrow(RangeError);
    expect(() => sleep(-1)).toThrow(/got -1/);
    expect(() => sleep(NaN)).toThrow(RangeError);
    expect(() => sleep('5' as never)).toThrow(/must be a number of milliseconds, got "5"/);
    expect(() => sleep(undefined as never)).toThrow(TypeError);
  });
});

describe('waitFor()', () => {
  it("resolves with the op's value before the deadline and clears the timer", async () => {
    const p = waitFor(async (signal) => {
      await sleep(10, { signal });
      return 'done';
    }, 100);
    await vi.advanceTimersByTimeAsync(10);
    expect(await p).toBe('done');
    expect(vi.getTimerCount()).toBe(0);
  });

  it("rejects with the op's own error", async () => {
    const err = new Error('op failed');
    await expect(waitFor(Promise.reject(err), 100)).rejects.toBe(err);
    const sync = new Error('sync');
    await expect(
      waitFor(() => {
        throw sync;
      }, 100),
    ).rejects.toBe(sync);
  });

  it('rejects with TimeoutError at the deadline at once, even when the op ignores its signal', async () => {
    const op = deferred<string>();
    let signal!: AbortSignal;
    const p = waitFor(async function loadUser(s) {
      signal = s;
      return op.promise; // ignores the signal
    }, 50);
    const s = track(p);
    await vi.advanceTimersByTimeAsync(50);
    expect(s.status).toBe('rejected');
    const err = await rejectionOf(p);
    expect(err).toBeInstanceOf(TimeoutError);
    expect((err as TimeoutError).message).toBe('waitFor(loadUser) timed out after 50 ms');
    expect(signal.aborted).toBe(true);
    expect(signal.reason).toBe(err);
    // what the op yields later is dropped without an unhandled rejection
    await expectNoUnhandledRejection(() => op.reject(new Error('too late')));
  });

  it('drops a late rejection of a promise op without an unhandled rejection', async () => {
    const op = deferred<number>();
    const p = expect(waitFor(op.promise, 10)).rejects.toThrow('waitFor() timed out after 10 ms');
    await vi.advanceTimersByTimeAsync(10);
    await p;
    await expectNoUnhandledRejection(() => op.reject(new Error('late')));
  });

  it("aborts the op's signal and rejects with the reason when the outer signal aborts", async () => {
    const ac = new AbortController();
    let signal!: AbortSignal;
    const p = waitFor(
      (s) => {
        signal = s;
        return new Promise<never>(() => {});
      },
      1000,
      { signal: ac.signal },
    );
    const reason = new Error('outer');
    ac.abort(reason);
    await expect(p).rejects.toBe(reason);
    expect(signal.reason).toBe(reason);
    expect(vi.getTimerCount()).toBe(0);
  });

  it('leaves no listener on a long-lived outer signal on success, failure or timeout', async () => {
    const ac = new AbortController();
    const listeners = trackListeners(ac.signal);
    await waitFor(Promise.resolve(1), 100, { signal: ac.signal });
    await waitFor(Promise.reject(new Error('x')), 100, { signal: ac.signal }).catch(() => {});
    const timedOut = expect(waitFor(new Promise(() => {}), 5, { signal: ac.signal })).rejects.toBeInstanceOf(
      TimeoutError,
    );
    await vi.advanceTimersByTimeAsync(5);
    await timedOut;
    expect(listeners.active()).toBe(0);
  });

  it('rejects at once for an already-aborted signal without calling the op', async () => {
    const op = vi.fn(async () => 1);
    const reason = new Error('already');
    await expect(waitFor(op, 100, { signal: AbortSignal.abort(reason) })).rejects.toBe(reason);
    expect(op).not.toHaveBeenCalled();
  });

  it('lets an op that is already settled win with ms = 0', async () => {
    const p = waitFor(Promise.resolve('now'), 0);
    await vi.advanceTimersByTimeAsync(0);
    expect(await p).toBe('now');
  });

  it('with ms = 0 lets an op that settles within the microtask queue win, however long its chain', async () => {
    vi.useRealTimers();
    const chained = async (): Promise<string> => {
      for (let i = 0; i < 1000; i++) await Promise.resolve();
      return 'chained';
    };
    await expect(waitFor(chained, 0)).resolves.toBe('chained');
  });

  it('with ms = 0 times out an op that needs a macrotask, whatever the clock says, and aborts it', async () => {
    vi.useRealTimers();
    let opSignal: AbortSignal | undefined;
    const p = waitFor((signal) => {
      opSignal = signal;
      // setImmediate runs well before a 1 ms timer: a timer-based deadline would let it win.
      return new Promise<string>((resolve) => setImmediate(() => resolve('late')));
    }, 0);
    await expect(p).rejects.toThrow('timed out after 0 ms');
    expect(opSignal?.aborted).toBe(true);
  });

  it('never times out with Infinity', async () => {
    const op = deferred<number>();
    const s = track(waitFor(op.promise, Infinity));
    await vi.advanceTimersByTimeAsync(2 ** 32);
    expect(s.status).toBe('pending');
    op.resolve(1);
  });

  it('validates ms and op synchronously', () => {
    expect(() => waitFor(Promise.resolve(1), -5)).toThrow(/got -5/);
    expect(() => waitFor(Promise.resolve(1), NaN)).toThrow(RangeError);
    expect(() => waitFor(Promise.resolve(1), '1' as never)).toThrow(TypeError);
    expect(() => waitFor(42 as never, 1)).toThrow(TypeError);
    expect(() => waitFor({ then: 1 } as never, 1)).toThrow(/got \{"then":1\}/);
  });
});

describe('waitFor() with a Task', () => {
  it('cancels a Task op at the deadline, like asyncio.wait_for', async () => {
    const task = createTask((signal) => sleep(10_000, { signal }));
    const timedOut = expect(waitFor(task, 20)).rejects.toBeInstanceOf(TimeoutError);
    await vi.advanceTimersByTimeAsync(20);
    await timedOut;
    await vi.advanceTimersByTimeAsync(0);
    expect(task.cancelled()).toBe(true);
  });
});
