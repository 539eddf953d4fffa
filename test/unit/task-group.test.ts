import { getEventListeners } from 'node:events';
import { describe, expect, it } from 'vitest';
import { CancelledError, InvalidStateError } from '../../src/errors.js';
import { TaskGroup } from '../../src/task-group.js';
import {
  expectNoUnhandledRejection,
  maxListenersWarnings,
  trackListeners,
} from './helpers/unhandled-rejections.js';
import { deferred, flush, rejectionOf, untilAborted } from '../support/async.js';

describe('TaskGroup.wait()', () => {
  it('resolves once every child has finished', async () => {
    const tg = new TaskGroup();
    const gate = deferred<number>();
    const a = tg.spawn(async () => 1);
    const b = tg.spawn(() => gate.promise);
    let waited = false;
    const waiting = tg.wait().then(() => (waited = true));
    await flush();
    expect(waited).toBe(false);
    expect(tg.size).toBe(1);
    gate.resolve(2);
    await waiting;
    expect([a.result(), b.result()]).toEqual([1, 2]);
    expect(tg.wait()).toBe(tg.wait());
  });

  it('aborts the siblings of a failing child, waits for them and rejects with an AggregateError', async () => {
    const tg = new TaskGroup();
    const boom = new Error('boom');
    const order: string[] = [];
    const sibling = tg.spawn(async (signal) => {
      await untilAborted(signal).catch(() => {});
      await new Promise((r) => setTimeout(r, 5));
      order.push('sibling cleaned up');
      throw signal.reason;
    });
    tg.spawn(async () => {
      await Promise.resolve();
      throw boom;
    });
    const err = await rejectionOf(tg.wait().finally(() => order.push('wait settled')));
    expect(err).toBeInstanceOf(AggregateError);
    expect((err as AggregateError).errors).toEqual([boom]);
    expect(order).toEqual(['sibling cleaned up', 'wait settled']);
    expect(sibling.cancelled()).toBe(true);
    expect(tg.signal.aborted).toBe(true);
  });

  it('collects every failure in the order they happened', async () => {
    const tg = new TaskGroup();
    const first = new Error('first');
    const second = new Error('second in cleanup');
    tg.spawn(async (signal) => {
      await untilAborted(signal).catch(() => {});
      throw second;
    });
    tg.spawn(async () => {
      throw first;
    });
    const err = (await rejectionOf(tg.wait())) as AggregateError;
    expect(err.errors).toEqual([first, second]);
    expect(err.message).toMatch(/2 tasks failed/);
  });

  it('does not count a child cancelled on its own as a failure', async () => {
    const tg = new TaskGroup();
    const child = tg.spawn(untilAborted);
    const other = tg.spawn(async () => 'fine');
    child.cancel();
    await tg.wait();
    expect(child.cancelled()).toBe(true);
    expect(other.result()).toBe('fine');
  });

  it('works with await using (Symbol.asyncDispose)', async () => {
    let a: { result(): number } | undefined;
    {
      await using tg = new TaskGroup();
      a = tg.spawn(async () => {
        await new Promise((r) => setTimeout(r, 2));
        return 5;
      });
    }
    expect(a.result()).toBe(5);
  });

  it('raises no unhandled rejection for failing children that are never awaited directly', async () => {
    await expectNoUnhandledRejection(async () => {
      const tg = new TaskGroup();
      tg.spawn(async () => {
        throw new Error('x');
      });
      tg.spawn(untilAborted);
      await expect(tg.wait()).rejects.toBeInstanceOf(AggregateError);
    });
  });
});

describe('TaskGroup.spawn()', () => {
  it('cancels many children on a failure without a listener per child on one signal', async () => {
    const warnings = await maxListenersWarnings(async () => {
      const tg = new TaskGroup();
      const children = Array.from({ length: 50 }, () => tg.spawn(untilAborted));
      expect(getEventListeners(tg.signal, 'abort')).toHaveLength(0);
      const boom = new Error('boom');
      tg.spawn(() => Promise.reject(boom));
      const err = (await rejectionOf(tg.wait())) as AggregateError;
      expect(err.errors).toEqual([boom]);
      expect(children.every((c) => c.cancelled())).toBe(true);
      const cancelled = (await rejectionOf(Promise.resolve(children[49]))) as Error;
      expect(cancelled).toBeInstanceOf(CancelledError);
      expect(cancelled.cause).toBe(boom);
    });
    expect(warnings).toEqual([]);
  });

  it('throws InvalidStateError once the group is aborting', async () => {
    const tg = new TaskGroup();
    tg.spawn(async () => {
      throw new Error('x');
    });
    await new Promise((r) => setTimeout(r, 1));
    expect(() => tg.spawn(async () => 1)).toThrow(InvalidStateError);
    await expect(tg.wait()).rejects.toBeInstanceOf(AggregateError);
  });

  it('is allowed while wait() is pending, and refused once the group finished', async () => {
    const tg = new TaskGroup();
    const gate = deferred();
    tg.spawn(() => gate.promise);
    const waiting = tg.wait();
    const late = tg.spawn(async () => 'late');
    gate.resolve();
    await waiting;
    expect(late.result()).toBe('late');
    expect(() => tg.spawn(async () => 1)).toThrow(/finished/);
  });

  it('passes the name on to the child task', async () => {
    const tg = new TaskGroup();
    expect(tg.spawn(async () => 1, { name: 'child' }).name).toBe('child');
    await tg.wait();
  });
});

describe('TaskGroup opts.signal', () => {
  it('aborts the children and makes wait() reject with the reason', async () => {
    const outer = new AbortController();
    const tg = new TaskGroup({ signal: outer.signal });
    const child = tg.spawn(untilAborted);
    const reason = new Error('stop');
    outer.abort(reason);
    await expect(tg.wait()).rejects.toBe(reason);
    expect(child.cancelled()).toBe(true);
    expect(() => tg.spawn(async () => 1)).toThrow(InvalidStateError);
  });

  it('shares one listener among many groups on a long-lived signal, and all abort with it', async () => {
    const outer = new AbortController();
    const listeners = trackListeners(outer.signal);
    const groups = Array.from({ length: 20 }, () => new TaskGroup({ signal: outer.signal }));
    const children = groups.map((tg) => tg.spawn(untilAborted));
    expect(listeners.active()).toBe(1);
    const reason = new Error('shutdown');
    outer.abort(reason);
    for (const tg of groups) await expect(tg.wait()).rejects.toBe(reason);
    expect(children.every((c) => c.cancelled())).toBe(true);
    expect(listeners.active()).toBe(0);
  });

  it('removes its listener from a long-lived signal when the group finishes', async () => {
    const outer = new AbortController();
    const listeners = trackListeners(outer.signal);
    const tg = new TaskGroup({ signal: outer.signal });
    tg.spawn(async () => 1);
    expect(listeners.active()).toBeGreaterThan(0);
    await tg.wait();
    expect(listeners.active()).toBe(0);
  });

  it('rejects at once with the reason when the signal is already aborted', async () => {
    const reason = new Error('already');
    const tg = new TaskGroup({ signal: AbortSignal.abort(reason) });
    expect(() => tg.spawn(async () => 1)).toThrow(InvalidStateError);
    await expect(tg.wait()).rejects.toBe(reason);
  });
});

describe('TaskGroup.run()', () => {
  it("resolves with the body's value after the children finish", async () => {
    const value = await TaskGroup.run(async (tg) => {
      const a = tg.spawn(async () => 2);
      const b = tg.spawn(async () => 3);
      await tg.wait();
      return a.result() * b.result();
    });
    expect(value).toBe(6);
  });

  it('aborts the body signal when a child fails and does not count the body rethrowing that abort', async () => {
    const boom = new Error('child failed');
    let bodySignal!: AbortSignal;
    const err = await rejectionOf(
      TaskGroup.run(async (tg, signal) => {
        bodySignal = signal;
        tg.spawn(async () => {
          throw boom;
        });
        await untilAborted(signal); // rejects with the group's abort reason
      }),
    );
    expect(bodySignal.aborted).toBe(true);
    expect(bodySignal.reason).toBeInstanceOf(CancelledError);
    expect((err as AggregateError).errors).toEqual([boom]);
  });

  it('adds an error thrown by the body to the AggregateError after aborting and awaiting the children', async () => {
    const bodyError = new Error('body failed');
    const order: string[] = [];
    let child!: { cancelled(): boolean };
    const err = await rejectionOf(
      TaskGroup.run(async (tg) => {
        child = tg.spawn(async (signal) => {
          await untilAborted(signal).catch(() => {});
          order.push('child cleaned up');
          throw signal.reason;
        });
        throw bodyError;
      }).finally(() => order.push('run settled')),
    );
    expect((err as AggregateError).errors).toEqual([bodyError]);
    expect(child.cancelled()).toBe(true);
    expect(order).toEqual(['child cleaned up', 'run settled']);
  });

  it('rejects with the outer reason when opts.signal aborts', async () => {
    const outer = new AbortController();
    const reason = new Error('outer');
    const run = TaskGroup.run(
      async (tg, signal) => {
        tg.spawn(untilAborted);
        await untilAborted(signal);
      },
      { signal: outer.signal },
    );
    outer.abort(reason);
    await expect(run).rejects.toBe(reason);
  });
});

describe('TaskGroup.run() body awaiting wait()', () => {
  it("passes on wait()'s AggregateError when the body rethrows it, without nesting it", async () => {
    const boom = new Error('boom');
    let waitError: unknown;
    const err = await rejectionOf(
      TaskGroup.run(async (tg) => {
        tg.spawn(async () => {
          throw boom;
        });
        try {
          await tg.wait();
        } catch (e) {
          waitError = e;
          throw e;
        }
      }),
    );
    expect(err).toBe(waitError);
    expect((err as AggregateError).errors).toEqual([boom]);
  });

  it('wraps an error the body throws after the group finished in an AggregateError', async () => {
    const late = new Error('after wait');
    const err = await rejectionOf(
      TaskGroup.run(async (tg) => {
        tg.spawn(async () => 1);
        await tg.wait();
        throw late;
      }),
    );
    expect((err as AggregateError).errors).toEqual([late]);
  });
});
