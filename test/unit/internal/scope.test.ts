import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { TimeoutError } from '../../../src/errors.js';
import { Deadline } from '../../../src/internal/deadline.js';
import { Scope } from '../../../src/internal/scope.js';
import {
  expectNoUnhandledRejection,
  maxListenersWarnings,
  trackListeners,
} from '../helpers/unhandled-rejections.js';

describe('Scope', () => {
  beforeEach(() => vi.useFakeTimers());
  afterEach(() => vi.useRealTimers());

  it('Scope ends with a TimeoutError carrying its message at the deadline, and tells its owner once', () => {
    const onAbort = vi.fn();
    const scope = new Scope({
      deadline: Deadline.after(100),
      timeoutMessage: (ms) => `copy timed out after ${ms} ms`,
      onAbort,
    });
    vi.advanceTimersByTime(99);
    expect(scope.aborted).toBe(false);
    vi.advanceTimersByTime(1);
    expect(scope.aborted).toBe(true);
    expect(scope.reason).toBeInstanceOf(TimeoutError);
    expect((scope.reason as Error).message).toBe('copy timed out after 100 ms');
    expect(scope.signal.aborted).toBe(true);
    expect(onAbort).toHaveBeenCalledTimes(1);
    scope.abort(new Error('later'));
    expect(onAbort).toHaveBeenCalledTimes(1);
  });

  it('Scope waits the whole of a 3e9 ms timeout (above 2^31-1) instead of ending at once', () => {
    const scope = new Scope({ deadline: Deadline.after(3e9) });
    vi.advanceTimersByTime(2_147_483_647 + 1000);
    expect(scope.aborted).toBe(false);
    vi.advanceTimersByTime(3e9);
    expect(scope.aborted).toBe(true);
  });

  it('Scope ends with the caller signal reason, and race() rejects with it while the raced promise is left behind quietly', async () => {
    const controller = new AbortController();
    const scope = new Scope({ signal: controller.signal });
    let rejectLater!: (err: Error) => void;
    const work = new Promise<number>((_, reject) => (rejectLater = reject));
    const raced = scope.race(work);
    const reason = new Error('user gave up');
    controller.abort(reason);
    await expect(raced).rejects.toBe(reason);
    await expectNoUnhandledRejection(async () => {
      rejectLater(new Error('statement cancelled'));
      await Promise.resolve();
    });
  });

  it('Scope.race() settles like the promise when the scope does not end', async () => {
    const scope = new Scope({ deadline: Deadline.after(1000) });
    await expect(scope.race(Promise.resolve(7))).resolves.toBe(7);
    await expect(scope.race(Promise.reject(new Error('sql')))).rejects.toThrow('sql');
    scope.dispose();
    expect(vi.getTimerCount()).toBe(0);
  });

  it('Scope with an already aborted signal ends at once and race() rejects at once', async () => {
    const reason = new Error('already');
    const scope = new Scope({ signal: AbortSignal.abort(reason) });
    expect(scope.aborted).toBe(true);
    await expect(scope.race(new Promise(() => undefined))).rejects.toBe(reason);
  });

  it('Scope.dispose() removes its timer and its listener, and it can no longer end', () => {
    const controller = new AbortController();
    const listeners = trackListeners(controller.signal);
    const onAbort = vi.fn();
    const scope = new Scope({ signal: controller.signal, deadline: Deadline.after(50), onAbort });
    expect(listeners.active()).toBe(1);
    scope.dispose();
    expect(listeners.active()).toBe(0);
    expect(vi.getTimerCount()).toBe(0);
    controller.abort();
    vi.advanceTimersByTime(100);
    expect(onAbort).not.toHaveBeenCalled();
  });

  it('Scope: 10 000 scopes on one shared signal add one listener and raise no MaxListenersExceededWarning', async () => {
    const controller = new AbortController();
    const listeners = trackListeners(controller.signal);
    const warnings = await maxListenersWarnings(async () => {
      const scopes = Array.from({ length: 10_000 }, () => new Scope({ signal: controller.signal }));
      expect(listeners.active()).toBe(1);
      for (const s of scopes) s.dispose();
    });
    expect(warnings).toEqual([]);
    expect(listeners.active()).toBe(0);
  });

  it('Scope: an abort of a shared signal ends every scope on it', () => {
    const controller = new AbortController();
    const scopes = Array.from({ length: 20 }, () => new Scope({ signal: controller.signal }));
    controller.abort(new Error('request ended'));
    expect(scopes.every((s) => s.aborted && (s.reason as Error).message === 'request ended')).toBe(true);
  });
});
