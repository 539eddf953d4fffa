import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { backoffDelay, retry } from '../../src/retry.js';

beforeEach(() => {
  vi.useFakeTimers();
});
afterEach(() => {
  vi.useRealTimers();
  vi.restoreAllMocks();
});

describe('retry()', () => {
  it('resolves with the first success, passing the attempt number and a signal', async () => {
    const seen: number[] = [];
    const p = retry(async (attempt, signal) => {
      seen.push(attempt);
      expect(signal).toBeInstanceOf(AbortSignal);
      if (attempt < 2) throw new Error('flaky');
      return 'ok';
    });
    await vi.runAllTimersAsync();
    expect(await p).toBe('ok');
    expect(seen).toEqual([1, 2]);
  });

  it('counts the first try in attempts and rejects with the last error as it is', async () => {
    const errors = [new Error('1'), new Error('2'), new Error('3')];
    const fn = vi.fn(async (attempt: number) => {
      throw errors[attempt - 1];
    });
    const failed = expect(retry(fn, { attempts: 3 })).rejects.toBe(errors[2]);
    await vi.runAllTimersAsync();
    await failed;
    expect(fn).toHaveBeenCalledTimes(3);
  });

  it('sleeps the exponential backoff between tries', async () => {
    const fn = vi.fn(async () => {
      throw new Error('down');
    });
    const failed = expect(
      retry(fn, { attempts: 4, initialDelay: 100, factor: 3, jitter: false }),
    ).rejects.toBeInstanceOf(Error);
    await vi.advanceTimersByTimeAsync(0);
    expect(fn).toHaveBeenCalledTimes(1);
    await vi.advanceTimersByTimeAsync(99);
    expect(fn).toHaveBeenCalledTimes(1);
    await vi.advanceTimersByTimeAsync(1);
    expect(fn).toHaveBeenCalledTimes(2);
    await vi.advanceTimersByTimeAsync(299);
    expect(fn).toHaveBeenCalledTimes(2);
    await vi.advanceTimersByTimeAsync(1);
    expect(fn).toHaveBeenCalledTimes(3);
    await vi.advanceTimersByTimeAsync(900);
    expect(fn).toHaveBeenCalledTimes(4);
    await failed;
  });

  it('rejects at once when retryIf says the error is not worth retrying', async () => {
    const fatal = new Error('bad password');
    const fn = vi.fn(async () => {
      throw fatal;
    });
    const retryIf = vi.fn((err: unknown) => err !== fatal);
    await expect(retry(fn, { retryIf })).rejects.toBe(fatal);
    expect(fn).toHaveBeenCalledOnce();
    expect(retryIf).toHaveBeenCalledWith(fatal, 1);
  });

  it('rejects with signal.reason when aborted during the backoff, starting no further try', async () => {
    const ac = new AbortController();
    const fn = vi.fn(async () => {
      throw new Error('down');
    });
    const reason = new Error('shutdown');
    const aborted = expect(retry(fn, { attempts: 5, signal: ac.signal, jitter: false })).rejects.toBe(reason);
    await vi.advanceTimersByTimeAsync(50);
    ac.abort(reason);
    await aborted;
    await vi.runAllTimersAsync();
    expect(fn).toHaveBeenCalledOnce();
    expect(vi.getTimerCount()).toBe(0);
  });

  it('rejects with signal.reason when the try fails because of the abort', async () => {
    const ac = new AbortController();
    const reason = new Error('stop');
    const p = retry(
      (_attempt, signal) =>
        new Promise((_, reject) =>
          signal.addEventListener('abort', () => reject(new Error('wrapped abort'))),
        ),
      { signal: ac.signal },
    );
    ac.abort(reason);
    await expect(p).rejects.toBe(reason);
  });

  it('never calls fn for an already-aborted signal', async () => {
    const fn = vi.fn(async () => 1);
    const reason = new Error('already');
    await expect(retry(fn, { signal: AbortSignal.abort(reason) })).rejects.toBe(reason);
    expect(fn).not.toHaveBeenCalled();
  });

  it('validates its options synchronously, quoting the value', () => {
    const fn = async () => 1;
    expect(() => retry(fn, { attempts: 0 })).toThrow(/attempts must be an integer .* got 0/);
    expect(() => retry(fn, { attempts: 1.5 })).toThrow(RangeError);
    expect(() => retry(fn, { factor: 0.5 })).toThrow(/factor .* got 0.5/);
    expect(() => retry(fn, { initialDelay: -1 })).toThrow(RangeError);
    expect(() => retry(fn, { retryIf: 'x' as never })).toThrow(TypeError);
    expect(() => retry('x' as never)).toThrow(TypeError);
  });

  it('accepts attempts = Infinity and retries until success', async () => {
    const fn = vi.fn(async (attempt: number) => {
      if (attempt < 20) throw new Error('not yet');
      return attempt;
    });
    const p = retry(fn, { attempts: Infinity, initialDelay: 1, maxDelay: 5 });
    await vi.runAllTimersAsync();
    expect(await p).toBe(20);
  });
});

describe('backoffDelay()', () => {
  it('grows exponentially from initialDelay and is capped by maxDelay without jitter', () => {
    const opts = { initialDelay: 100, factor: 2, maxDelay: 1000, jitter: false } as const;
    expect([1, 2, 3, 4, 5, 50].map((n) => backoffDelay(n, opts))).toEqual([100, 200, 400, 800, 1000, 1000]);
    expect(backoffDelay(1)).toBeLessThan(100); // default: full jitter
  });

  it('applies full jitter in [0, d) and equal jitter in [d/2, d)', () => {
    const random = vi.spyOn(Math, 'random');
    random.mockReturnValue(0);
    expect(backoffDelay(3, { jitter: true })).toBe(0);
    expect(backoffDelay(3, { jitter: 'equal' })).toBe(200);
    random.mockReturnValue(0.999);
    expect(backoffDelay(3, { jitter: 'full' })).toBeCloseTo(399.6);
    expect(backoffDelay(3, { jitter: 'equal' })).toBeCloseTo(399.8);
  });

  it('stays finite for huge attempt numbers and a zero initial delay', () => {
    expect(backoffDelay(10_000, { jitter: false })).toBe(10_000);
    expect(backoffDelay(10_000, { initialDelay: 0, jitter: false })).toBe(0);
  });

  it('rejects bad arguments', () => {
    expect(() => backoffDelay(0)).toThrow(RangeError);
    expect(() => backoffDelay(1, { jitter: 'half' as never })).toThrow(/got "half"/);
    expect(() => backoffDelay(1, { maxDelay: NaN })).toThrow(RangeError);
  });
});
