import { getEventListeners } from 'node:events';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { TimeoutError } from '../../../src/errors.js';
import { ScopedSignal } from '../../../adapters/postgres/scoped-signal.js';
import { rejectionOf } from '../../support/async.js';

afterEach(() => {
  vi.useRealTimers();
});

describe('ScopedSignal', () => {
  it('aborts with TimeoutError at the deadline and calls onAbort once', async () => {
    vi.useFakeTimers();
    const onAbort = vi.fn();
    const scope = new ScopedSignal(undefined, performance.now() + 100, 'withClient()', onAbort);
    const raced = rejectionOf(scope.race(new Promise<never>(() => undefined)));
    await vi.advanceTimersByTimeAsync(100);
    const err = await raced;
    expect(err).toBeInstanceOf(TimeoutError);
    expect((err as Error).message).toBe('withClient() timed out after 100 ms');
    expect(scope.signal.aborted).toBe(true);
    expect(onAbort).toHaveBeenCalledTimes(1);
    scope.dispose();
  });

  it('follows the outer signal and removes its listener on dispose', async () => {
    const outer = new AbortController();
    const scope = new ScopedSignal(outer.signal, Infinity, 'transaction()');
    expect(getEventListeners(outer.signal, 'abort')).toHaveLength(1);
    const raced = rejectionOf(scope.race(new Promise<never>(() => undefined)));
    const reason = new Error('outer');
    outer.abort(reason);
    expect(await raced).toBe(reason);
    expect(scope.signal.reason).toBe(reason);
    scope.dispose();
    expect(getEventListeners(outer.signal, 'abort')).toHaveLength(0);
  });

  it('race() settles like the promise when nothing aborts', async () => {
    const scope = new ScopedSignal(undefined, Infinity, 'x');
    await expect(scope.race(Promise.resolve(7))).resolves.toBe(7);
    await expect(scope.race(Promise.reject(new Error('no')))).rejects.toThrow('no');
    expect(getEventListeners(scope.signal, 'abort')).toHaveLength(0);
    scope.dispose();
  });
});
