import { describe, expect, it, vi } from 'vitest';
import { CancelledError, InvalidStateError } from '../../src/errors.js';
import { createTask, Task } from '../../src/task.js';
import { expectNoUnhandledRejection, trackListeners } from './helpers/unhandled-rejections.js';
import { deferred, rejectionOf, untilAborted } from '../support/async.js';

describe('createTask()', () => {
  it('starts fn synchronously with an AbortSignal and resolves with its value', async () => {
    const fn = vi.fn(async (signal: AbortSignal) => (signal instanceof AbortSignal ? 'ok' : 'no signal'));
    const task = createTask(fn);
    expect(fn).toHaveBeenCalledOnce();
    expect(task).toBeInstanceOf(Task);
    expect(await task).toBe('ok');
    expect(task.done()).toBe(true);
    expect(task.result()).toBe('ok');
  });

  it('rejects with the error fn rejects with, or throws synchronously', async () => {
    const err = new Error('async boom');
    await expect(createTask(() => Promise.reject(err))).rejects.toBe(err);
    const sync = new Error('sync boom');
    const task = createTask(() => {
      throw sync;
    });
    await expect(task).rejects.toBe(sync);
    expect(task.cancelled()).toBe(false);
    expect(task.exception()).toBe(sync);
  });

  it('names tasks Task-N by default and keeps a given name', () => {
    const a = createTask(async () => {});
    const b = createTask(async () => {});
    expect(a.name).toMatch(/^Task-\d+$/);
    expect(Number(b.name.slice(5))).toBe(Number(a.name.slice(5)) + 1);
    expect(createTask(async () => {}, { name: 'worker' }).name).toBe('worker');
  });

  it('raises no unhandled rejection for a failed task nobody awaits', async () => {
    await expectNoUnhandledRejection(async () => {
      const task = createTask(async () => {
        throw new Error('unobserved');
      });
      await new Promise((r) => setTimeout(r, 1));
      expect(task.done()).toBe(true);
    });
  });

  it('rejects bad arguments synchronously', () => {
    expect(() => createTask('nope' as never)).toThrow(TypeError);
    expect(() => createTask(async () => {}, { name: 5 as never })).toThrow(/name must be a string, got 5/);
    expect(() => createTask(async () => {}, { signal: {} as never })).toThrow(TypeError);
  });
});

describe('Task.cancel()', () => {
  it('aborts the signal, waits for fn to settle, then rejects with CancelledError', async () => {
    let signal!: AbortSignal;
    const gate = deferred();
    const task = createTask(async (s) => {
      signal = s;
      await untilAborted(s).catch(() => gate.promise);
      throw s.reason;
    });
    expect(task.cancel()).toBe(true);
    expect(signal.aborted).toBe(true);
    expect(signal.reason).toBeInstanceOf(CancelledError);
    expect(task.cancelling()).toBe(true);
    await Promise.resolve();
    expect(task.done()).toBe(false); // still cleaning up
    gate.resolve();
    await expect(task).rejects.toBeInstanceOf(CancelledError);
    expect(task.cancelled()).toBe(true);
    expect(task.cancelling()).toBe(false);
    expect(() => task.result()).toThrow(CancelledError);
  });

  it('aborts with the given reason and keeps it as the CancelledError cause', async () => {
    const reason = new Error('user left');
    const task = createTask(untilAborted);
    task.cancel(reason);
    const err = await rejectionOf(task);
    expect(err).toBeInstanceOf(CancelledError);
    expect((err as CancelledError).cause).toBe(reason);
    await expect(task).rejects.toBe(err); // the same error on every await
  });

  it('lets a value returned despite the cancel win', async () => {
    const task = createTask(async (signal) => {
      await untilAborted(signal).catch(() => {});
      return 'partial result';
    });
    task.cancel();
    expect(await task).toBe('partial result');
    expect(task.cancelled()).toBe(false);
  });

  it('lets an error other than the abort reason win', async () => {
    const cleanupError = new Error('cleanup failed');
    const task = createTask(async (signal) => {
      await untilAborted(signal).catch(() => {});
      throw cleanupError;
    });
    task.cancel();
    await expect(task).rejects.toBe(cleanupError);
    expect(task.cancelled()).toBe(false);
  });

  it('ends the task cancelled when fn rejects with a CancelledError of its own', async () => {
    const inner = createTask(untilAborted);
    const outer = createTask(() => inner);
    inner.cancel();
    await expect(outer).rejects.toBeInstanceOf(CancelledError);
    expect(outer.cancelled()).toBe(true);
  });

  it('returns false once the task is done', async () => {
    const task = createTask(async () => 1);
    await task;
    expect(task.cancel()).toBe(false);
    expect(task.result()).toBe(1);
  });

  it('raises no unhandled rejection for a cancelled task nobody awaits', async () => {
    await expectNoUnhandledRejection(async () => {
      const task = createTask(untilAborted);
      task.cancel();
      await new Promise((r) => setTimeout(r, 1));
      expect(task.cancelled()).toBe(true);
    });
  });
});

describe('Task.resolve()', () => {
  it('is refused: only fn sets the result', async () => {
    const task = createTask(async () => 1);
    expect(() => task.resolve(2)).toThrow(InvalidStateError);
    expect(() => task.reject(new Error('x'))).toThrow(InvalidStateError);
    expect(await task).toBe(1);
  });
});

describe('createTask() opts.signal', () => {
  it('cancels the task when the outer signal aborts, with the reason as cause', async () => {
    const outer = new AbortController();
    let inner!: AbortSignal;
    const task = createTask(
      (s) => {
        inner = s;
        return untilAborted(s);
      },
      { signal: outer.signal },
    );
    const reason = new Error('shutdown');
    outer.abort(reason);
    expect(inner.reason).toBe(reason);
    const err = await rejectionOf(task);
    expect(err).toBeInstanceOf(CancelledError);
    expect((err as CancelledError).cause).toBe(reason);
  });

  it('never calls fn when the signal is already aborted', async () => {
    const fn = vi.fn(async () => 1);
    const task = createTask(fn, { signal: AbortSignal.abort(new Error('too late')) });
    expect(fn).not.toHaveBeenCalled();
    expect(task.cancelled()).toBe(true);
    await expect(task).rejects.toBeInstanceOf(CancelledError);
  });

  it('shares one listener on a long-lived signal and leaves none once the tasks are done', async () => {
    const outer = new AbortController();
    const listeners = trackListeners(outer.signal);
    const ok = createTask(async () => 1, { signal: outer.signal });
    const bad = createTask(async () => Promise.reject(new Error('x')), { signal: outer.signal });
    const cancelled = createTask(untilAborted, { signal: outer.signal });
    expect(listeners.active()).toBe(1);
    cancelled.cancel();
    await Promise.allSettled([ok, bad, cancelled]);
    expect(listeners.active()).toBe(0);
  });
});
