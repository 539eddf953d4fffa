import { describe, expect, it, vi } from 'vitest';
import { settleWithin } from '../../../adapters/postgres/settle-within.js';

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

  it('waits the whole of a deadline above 2^31-1 ms', async () => {
    vi.useFakeTimers();
    try {
      let result: boolean | undefined;
      void settleWithin(new Promise(() => undefined), 3e9).then((r) => (result = r));
      await vi.advanceTimersByTimeAsync(2 ** 31);
      expect(result).toBeUndefined();
      await vi.advanceTimersByTimeAsync(3e9 - 2 ** 31);
      expect(result).toBe(false);
    } finally {
      vi.useRealTimers();
    }
  });
});
