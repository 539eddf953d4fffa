import { getEventListeners } from 'node:events';
import { describe, expect, it, vi } from 'vitest';
import { settleWithin, untilAborted } from '../../../adapters/postgres/client-lease.js';
import { expectNoUnhandledRejection } from '../helpers/unhandled-rejections.js';

describe('untilAborted()', () => {
  it('with an already aborted signal rejects with its reason and lets the abandoned promise fail quietly', async () => {
    const ac = new AbortController();
    const reason = new Error('gone');
    ac.abort(reason);
    await expectNoUnhandledRejection(async () => {
      let fail!: (err: Error) => void;
      const abandoned = new Promise<never>((_, reject) => (fail = reject));
      await expect(untilAborted(abandoned, ac.signal)).rejects.toBe(reason);
      fail(new Error('late failure'));
    });
  });

  it('follows the promise and leaves no listener on a long-lived signal', async () => {
    const ac = new AbortController();
    for (let i = 0; i < 100; i++) await untilAborted(Promise.resolve(i), ac.signal);
    await untilAborted(Promise.reject(new Error('x')), ac.signal).catch(() => undefined);
    expect(getEventListeners(ac.signal, 'abort')).toHaveLength(0);
  });

  it('rejects with signal.reason when the signal aborts first', async () => {
    const ac = new AbortController();
    const reason = new Error('stop');
    const p = untilAborted(new Promise(() => undefined), ac.signal);
    ac.abort(reason);
    await expect(p).rejects.toBe(reason);
    expect(getEventListeners(ac.signal, 'abort')).toHaveLength(0);
  });

  it('rejects at once for an already-aborted signal', async () => {
    const reason = new Error('already');
    await expect(untilAborted(Promise.resolve(1), AbortSignal.abort(reason))).rejects.toBe(reason);
  });
});

describe('settleWithin()', () => {
  it('is true when the promise settles in time, either way', async () => {
    expect(await settleWithin(Promise.resolve(), 1000)).toBe(true);
    expect(await settleWithin(Promise.reject(new Error('x')), 1000)).toBe(true);
  });

  it('is false after the deadline', async () => {
    vi.useFakeTimers();
    try {
      const p = settleWithin(new Promise(() => undefined), 5000);
      await vi.advanceTimersByTimeAsync(5000);
      expect(await p).toBe(false);
    } finally {
      vi.useRealTimers();
    }
  });
});
