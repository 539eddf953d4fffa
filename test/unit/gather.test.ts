import { describe, expect, expectTypeOf, it, vi } from 'vitest';
import { CancelledError } from '../../src/errors.js';
import { gather } from '../../src/gather.js';
import { expectNoUnhandledRejection, trackListeners } from './helpers/unhandled-rejections.js';
import { deferred, flush, untilAborted } from '../support/async.js';

describe('gather()', () => {
  it('resolves with results in input order whatever order they settle in', async () => {
    const a = deferred<string>();
    const b = deferred<number>();
    const all = gather([
      a.promise,
      (signal: AbortSignal) => b.promise.then((n) => n + Number(signal.aborted)),
      'plain',
    ]);
    b.resolve(2);
    await flush();
    a.resolve('a');
    expect(await all).toEqual(['a', 2, 'plain']);
  });

  it('types the result as a tuple', async () => {
    const result = await gather([Promise.resolve(1), async () => 'two'] as const);
    expectTypeOf(result).toEqualTypeOf<[number, string]>();
    expect(result).toEqual([1, 'two']);
    const inferred = await gather([Promise.resolve(true), (_signal: AbortSignal) => Number('3'), 'x']);
    expectTypeOf(inferred).toEqualTypeOf<[boolean, number, string]>();
    const settled = await gather([Promise.resolve(1)], { returnExceptions: true });
    expectTypeOf(settled).toEqualTypeOf<[number | Error]>();
  });

  it('resolves with an empty array for no items', async () => {
    expect(await gather([])).toEqual([]);
  });

  it('rejects at the first failure and aborts the function items still running', async () => {
    const boom = new Error('boom');
    const slow = deferred<number>();
    let signal!: AbortSignal;
    const running = gather([
      (s: AbortSignal) => {
        signal = s;
        return untilAborted(s);
      },
      slow.promise,
      async () => {
        throw boom;
      },
    ]);
    await expect(running).rejects.toBe(boom);
    expect(signal.aborted).toBe(true);
    expect(signal.reason).toBeInstanceOf(CancelledError);
    expect((signal.reason as CancelledError).cause).toBe(boom);
    await expectNoUnhandledRejection(() => slow.reject(new Error('late failure is absorbed')));
  });

  it('does not start function items after a synchronous failure', async () => {
    const later = vi.fn(async () => 1);
    const err = new Error('sync');
    await expect(
      gather([
        () => {
          throw err;
        },
        later,
      ]),
    ).rejects.toBe(err);
    expect(later).not.toHaveBeenCalled();
  });

  it('puts failures in their places with returnExceptions and aborts nothing', async () => {
    const err = new Error('second failed');
    let signal!: AbortSignal;
    const result = await gather(
      [
        async (s: AbortSignal) => {
          signal = s;
          await new Promise((r) => setTimeout(r, 2));
          return 'first';
        },
        Promise.reject(err),
        Promise.resolve(3),
      ],
      { returnExceptions: true },
    );
    expect(result).toEqual(['first', err, 3]);
    expect(signal.aborted).toBe(false);
  });

  it('aborts every function item and rejects with the reason when opts.signal aborts', async () => {
    const outer = new AbortController();
    const listeners = trackListeners(outer.signal);
    let signal!: AbortSignal;
    const pending = deferred<number>();
    const running = gather(
      [
        (s: AbortSignal) => {
          signal = s;
          return untilAborted(s);
        },
        pending.promise,
      ],
      { signal: outer.signal, returnExceptions: true },
    );
    const reason = new Error('outer abort');
    outer.abort(reason);
    await expect(running).rejects.toBe(reason);
    expect(signal.reason).toBe(reason);
    expect(listeners.active()).toBe(0);
    await expectNoUnhandledRejection(() => pending.reject(new Error('dropped')));
  });

  it('leaves no listener on a long-lived signal after resolving or rejecting', async () => {
    const outer = new AbortController();
    const listeners = trackListeners(outer.signal);
    await gather([Promise.resolve(1)], { signal: outer.signal });
    await gather([Promise.reject(new Error('x'))], { signal: outer.signal }).catch(() => {});
    expect(listeners.active()).toBe(0);
  });

  it('shares one listener among many pending gathers on a long-lived signal', async () => {
    const outer = new AbortController();
    const listeners = trackListeners(outer.signal);
    const gates = Array.from({ length: 20 }, () => deferred<number>());
    const running = gates.map((g) => gather([g.promise], { signal: outer.signal }));
    expect(listeners.active()).toBe(1);
    gates.forEach((g, i) => g.resolve(i));
    expect(await Promise.all(running)).toEqual(gates.map((_, i) => [i]));
    expect(listeners.active()).toBe(0);
  });

  it('calls no function item and rejects at once when the signal is already aborted', async () => {
    const fn = vi.fn(async () => 1);
    const reason = new Error('already');
    await expectNoUnhandledRejection(async () => {
      await expect(
        gather([fn, Promise.reject(new Error('absorbed'))], { signal: AbortSignal.abort(reason) }),
      ).rejects.toBe(reason);
    });
    expect(fn).not.toHaveBeenCalled();
  });

  it('throws a TypeError for items that are not iterable', () => {
    expect(() => gather(42 as never)).toThrow(/must be an iterable, got 42/);
  });
});
