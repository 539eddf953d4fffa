import { afterEach, describe, expect, it, vi } from 'vitest';
import { CancelledError, InvalidStateError } from '../../src/errors.js';
import { Future } from '../../src/future.js';
import { expectNoUnhandledRejection } from './helpers/unhandled-rejections.js';
import { flush } from '../support/async.js';

afterEach(() => {
  vi.restoreAllMocks();
});

describe('Future.resolve()', () => {
  it('settles every awaiter with the value and makes result() return it', async () => {
    const fut = new Future<number>();
    const a = fut.then((v) => v + 1);
    expect(fut.done()).toBe(false);
    fut.resolve(41);
    expect(fut.done()).toBe(true);
    expect(fut.result()).toBe(41);
    expect(await a).toBe(42);
    expect(await fut).toBe(41);
    expect(fut.exception()).toBeUndefined();
  });

  it('throws InvalidStateError once the future is done', () => {
    const resolved = new Future<number>();
    resolved.resolve(1);
    expect(() => resolved.resolve(2)).toThrow(InvalidStateError);
    expect(() => resolved.reject(new Error('x'))).toThrow(InvalidStateError);
    expect(resolved.result()).toBe(1);
    const cancelled = new Future<number>();
    cancelled.cancel();
    expect(() => cancelled.resolve(1)).toThrow(/already done \(cancelled\)/);
  });
});

describe('Future.reject()', () => {
  it('makes await reject and result() throw the same error', async () => {
    const fut = new Future<number>();
    const err = new Error('boom');
    fut.reject(err);
    await expect(fut).rejects.toBe(err);
    expect(() => fut.result()).toThrow(err);
    expect(fut.exception()).toBe(err);
    expect(fut.cancelled()).toBe(false);
  });

  it('raises no unhandled rejection when nobody awaits the future', async () => {
    await expectNoUnhandledRejection(() => {
      new Future<number>().reject(new Error('never observed'));
      const cancelled = new Future<number>();
      cancelled.cancel('never observed either');
    });
  });

  it('raises no unhandled rejection when awaited with a handler after a tick', async () => {
    const fut = new Future<number>();
    fut.reject(new Error('late'));
    await flush(2);
    await expect(fut).rejects.toThrow('late');
  });
});

describe('Future.cancel()', () => {
  it('returns true once, marks the future cancelled and rejects awaiters with CancelledError', async () => {
    const fut = new Future<number>();
    const waiting = expect(fut).rejects.toBeInstanceOf(CancelledError);
    expect(fut.cancel()).toBe(true);
    expect(fut.cancel()).toBe(false);
    expect(fut.cancelled()).toBe(true);
    expect(fut.done()).toBe(true);
    await waiting;
    expect(() => fut.result()).toThrow(CancelledError);
    expect(() => fut.exception()).toThrow(CancelledError);
  });

  it('uses a string reason as the message and keeps any other reason as the cause', () => {
    const a = new Future<void>();
    a.cancel('shutting down');
    expect(() => a.result()).toThrow('shutting down');
    const reason = new Error('why');
    const b = new Future<void>();
    b.cancel(reason);
    let caught: unknown;
    try {
      b.result();
    } catch (e) {
      caught = e;
    }
    expect(caught).toBeInstanceOf(CancelledError);
    expect((caught as CancelledError).cause).toBe(reason);
  });

  it('returns false on a future that is already resolved, leaving its value', () => {
    const fut = new Future<string>();
    fut.resolve('v');
    expect(fut.cancel()).toBe(false);
    expect(fut.cancelled()).toBe(false);
    expect(fut.result()).toBe('v');
  });
});

describe('Future.result()', () => {
  it('throws InvalidStateError while pending, as does exception()', () => {
    const fut = new Future<number>();
    expect(() => fut.result()).toThrow(InvalidStateError);
    expect(() => fut.exception()).toThrow(InvalidStateError);
  });
});

describe('Future.addDoneCallback()', () => {
  it('runs callbacks asynchronously, in order, with the future', async () => {
    const fut = new Future<number>();
    const calls: string[] = [];
    fut.addDoneCallback((f) => calls.push(`a:${f.result()}`));
    fut.addDoneCallback(() => calls.push('b'));
    fut.resolve(7);
    expect(calls).toEqual([]);
    await Promise.resolve();
    await Promise.resolve();
    expect(calls).toEqual(['a:7', 'b']);
  });

  it('schedules a callback added after completion instead of calling it at once', async () => {
    const fut = new Future<number>();
    fut.cancel();
    const cb = vi.fn();
    fut.addDoneCallback(cb);
    expect(cb).not.toHaveBeenCalled();
    await flush();
    expect(cb).toHaveBeenCalledWith(fut);
  });

  it('keeps running the other callbacks when one throws and reports it as a warning', async () => {
    const warn = vi.spyOn(process, 'emitWarning').mockImplementation(() => {});
    const fut = new Future<number>();
    const after = vi.fn();
    fut.addDoneCallback(() => {
      throw new Error('bad callback');
    });
    fut.addDoneCallback(after);
    fut.resolve(1);
    await flush();
    expect(after).toHaveBeenCalledOnce();
    expect(warn).toHaveBeenCalledWith(
      expect.objectContaining({ message: 'bad callback' }),
      'ConnkitCallbackWarning',
    );
  });

  it('rejects a callback that is not a function with a TypeError', () => {
    expect(() => new Future().addDoneCallback(42 as never)).toThrow(TypeError);
    expect(() => new Future().addDoneCallback('cb' as never)).toThrow('got "cb"');
  });
});

describe('Future.removeDoneCallback()', () => {
  it('removes every pending registration and returns how many', async () => {
    const fut = new Future<void>();
    const cb = vi.fn();
    const other = vi.fn();
    fut.addDoneCallback(cb);
    fut.addDoneCallback(other);
    fut.addDoneCallback(cb);
    expect(fut.removeDoneCallback(cb)).toBe(2);
    fut.resolve();
    await flush();
    expect(cb).not.toHaveBeenCalled();
    expect(other).toHaveBeenCalledOnce();
  });
});

describe('Future.then()', () => {
  it('supports catch and finally like a promise', async () => {
    const fut = new Future<number>();
    const fin = vi.fn();
    const caught = fut.catch((e: unknown) => (e as Error).message).finally(fin);
    fut.reject(new Error('nope'));
    expect(await caught).toBe('nope');
    expect(fin).toHaveBeenCalledOnce();
  });
});
