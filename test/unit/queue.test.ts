import { getEventListeners } from 'node:events';
import { afterEach, describe, expect, it, vi } from 'vitest';
import {
  InvalidStateError,
  QueueEmptyError,
  QueueFullError,
  QueueShutDownError,
  TimeoutError,
} from '../../src/errors.js';
import { Queue } from '../../src/queue.js';
import { flush, rejectionOf, track } from '../support/async.js';

afterEach(() => {
  vi.useRealTimers();
});

describe('new Queue()', () => {
  it('is unbounded by default', () => {
    const q = new Queue<number>();
    for (let i = 0; i < 1000; i++) q.putNowait(i);
    expect([q.size, q.maxsize, q.full(), q.empty()]).toEqual([1000, 0, false, false]);
  });

  it.each([-1, 1.5])('throws RangeError for maxsize %s', (maxsize) => {
    expect(() => new Queue({ maxsize })).toThrow(RangeError);
  });
});

describe('Queue.get()', () => {
  it('returns items in FIFO order', async () => {
    const q = new Queue<number>();
    for (const i of [1, 2, 3]) await q.put(i);
    expect([await q.get(), await q.get(), await q.get()]).toEqual([1, 2, 3]);
    expect(q.empty()).toBe(true);
  });

  it('serves waiting getters in FIFO order', async () => {
    const q = new Queue<string>();
    const getters = [q.get(), q.get(), q.get()];
    q.putNowait('a');
    q.putNowait('b');
    q.putNowait('c');
    await expect(Promise.all(getters)).resolves.toEqual(['a', 'b', 'c']);
  });

  it('cannot be barged: an item put for a waiting getter is not available to getNowait()', async () => {
    const q = new Queue<string>();
    const getter = q.get();
    q.putNowait('x');
    expect(() => q.getNowait()).toThrow(QueueEmptyError);
    await expect(getter).resolves.toBe('x');
  });

  it('puts the item back at the front when a woken getter is aborted before it resumes', async () => {
    const q = new Queue<string>();
    const ac = new AbortController();
    const getter = q.get({ signal: ac.signal });
    q.putNowait('first');
    q.putNowait('second');
    ac.abort(new Error('late'));
    await expect(getter).rejects.toThrow('late');
    expect(q.size).toBe(2);
    expect(q.getNowait()).toBe('first');
    expect(q.getNowait()).toBe('second');
  });

  it('hands the item to the next getter when a woken getter is aborted', async () => {
    const q = new Queue<string>();
    const ac = new AbortController();
    const first = q.get({ signal: ac.signal });
    const second = q.get();
    q.putNowait('only');
    ac.abort();
    await expect(first).rejects.toBeInstanceOf(DOMException);
    await expect(second).resolves.toBe('only');
    expect(q.size).toBe(0);
  });

  it('rejects with the reason when aborted while waiting, and leaves no listener', async () => {
    const q = new Queue<number>();
    const ac = new AbortController();
    const p = q.get({ signal: ac.signal });
    const reason = new Error('stop');
    ac.abort(reason);
    await expect(p).rejects.toBe(reason);
    expect(getEventListeners(ac.signal, 'abort')).toHaveLength(0);
    q.putNowait(1);
    expect(q.size).toBe(1);
  });

  it('times out with the state in the message, and with timeout 0 at once', async () => {
    vi.useFakeTimers();
    const q = new Queue<number>({ maxsize: 2 });
    await expect(q.get({ timeout: 0 })).rejects.toBeInstanceOf(TimeoutError);
    const p = rejectionOf(q.get({ timeout: 25 }));
    await vi.advanceTimersByTimeAsync(25);
    const err = await p;
    expect(err).toBeInstanceOf(TimeoutError);
    expect((err as Error).message).toBe('Queue.get() timed out after 25 ms (0 of 2 items, 1 waiting)');
  });

  it('rejects at once with an already aborted signal, taking nothing', async () => {
    const q = new Queue<number>();
    q.putNowait(1);
    const reason = new Error('pre');
    await expect(q.get({ signal: AbortSignal.abort(reason) })).rejects.toBe(reason);
    expect(q.size).toBe(1);
  });

  it('throws RangeError synchronously for a negative timeout', () => {
    expect(() => new Queue().get({ timeout: -1 })).toThrow(RangeError);
    expect(() => new Queue().put(1, { timeout: NaN })).toThrow(RangeError);
  });
});

describe('Queue.put()', () => {
  it('waits while the queue is full and resumes in FIFO order', async () => {
    const q = new Queue<number>({ maxsize: 1 });
    await q.put(1);
    expect(q.full()).toBe(true);
    const p2 = track(q.put(2));
    const p3 = track(q.put(3));
    await flush();
    expect(p2.status).toBe('pending');
    expect(await q.get()).toBe(1);
    await flush();
    expect(p2.status).toBe('fulfilled');
    expect(p3.status).toBe('pending');
    expect(await q.get()).toBe(2);
    expect(await q.get()).toBe(3);
  });

  it('cannot be barged: putNowait() fails while putters wait for the freed slot', async () => {
    const q = new Queue<number>({ maxsize: 1 });
    q.putNowait(1);
    const p2 = q.put(2);
    q.getNowait();
    expect(() => q.putNowait(99)).toThrow(QueueFullError);
    await p2;
    expect(q.getNowait()).toBe(2);
  });

  it('keeps put order: a put made while a woken putter has not resumed queues behind it', async () => {
    const q = new Queue<string>({ maxsize: 2 });
    q.putNowait('a');
    q.putNowait('b');
    const early = q.put('early');
    q.getNowait(); // the freed slot is handed to `early`…
    q.getNowait(); // …and one more slot is free
    const late = q.put('late');
    await Promise.all([early, late]);
    expect([q.getNowait(), q.getNowait()]).toEqual(['early', 'late']);
  });

  it('passes the slot on when a woken putter is aborted before it resumes', async () => {
    const q = new Queue<string>({ maxsize: 1 });
    q.putNowait('a');
    const ac = new AbortController();
    const first = q.put('b', { signal: ac.signal });
    const second = q.put('c');
    expect(q.getNowait()).toBe('a'); // frees the slot for `first`…
    ac.abort(new Error('late')); // …which is aborted in the same tick
    await expect(first).rejects.toThrow('late');
    await second;
    expect(q.size).toBe(1);
    expect(q.getNowait()).toBe('c');
    expect(q.empty()).toBe(true);
  });

  it('frees the slot again when a woken, aborted putter has nobody to pass it to', async () => {
    const q = new Queue<string>({ maxsize: 1 });
    q.putNowait('a');
    const ac = new AbortController();
    const first = q.put('b', { signal: ac.signal });
    q.getNowait();
    ac.abort();
    await expect(first).rejects.toBeInstanceOf(DOMException);
    expect(q.full()).toBe(false);
    q.putNowait('z');
    expect(q.getNowait()).toBe('z');
  });

  it('times out with the state in the message', async () => {
    vi.useFakeTimers();
    const q = new Queue<number>({ maxsize: 1 });
    q.putNowait(0);
    await expect(q.put(1, { timeout: 0 })).rejects.toBeInstanceOf(TimeoutError);
    const timedOut = expect(q.put(1, { timeout: 10 })).rejects.toHaveProperty(
      'message',
      'Queue.put() timed out after 10 ms (1 of 1 items, 1 waiting)',
    );
    await vi.advanceTimersByTimeAsync(10);
    await timedOut;
    expect(q.size).toBe(1);
  });
});

describe('Queue.putNowait()', () => {
  it('throws QueueFullError when full', () => {
    const q = new Queue<number>({ maxsize: 1 });
    q.putNowait(1);
    expect(() => q.putNowait(2)).toThrow(QueueFullError);
  });
});

describe('Queue.getNowait()', () => {
  it('throws QueueEmptyError when empty', () => {
    expect(() => new Queue().getNowait()).toThrow(QueueEmptyError);
  });
});

describe('Queue.taskDone()', () => {
  it('throws InvalidStateError when called too many times', () => {
    const q = new Queue<number>();
    q.putNowait(1);
    q.getNowait();
    q.taskDone();
    expect(() => q.taskDone()).toThrow(InvalidStateError);
  });
});

describe('Queue.join()', () => {
  it('waits until every item put was marked done', async () => {
    const q = new Queue<number>();
    await q.join();
    q.putNowait(1);
    q.putNowait(2);
    const joined = track(q.join());
    q.getNowait();
    q.taskDone();
    await flush();
    expect(joined.status).toBe('pending');
    q.getNowait();
    q.taskDone();
    await flush();
    expect(joined.status).toBe('fulfilled');
  });

  it('times out with the number of unfinished tasks', async () => {
    vi.useFakeTimers();
    const q = new Queue<number>();
    q.putNowait(1);
    await expect(q.join({ timeout: 0 })).rejects.toBeInstanceOf(TimeoutError);
    const timedOut = expect(q.join({ timeout: 5 })).rejects.toHaveProperty(
      'message',
      'Queue.join() timed out after 5 ms (1 unfinished tasks)',
    );
    await vi.advanceTimersByTimeAsync(5);
    await timedOut;
  });

  it('rejects with the reason when aborted after the last taskDone() but before it resumed', async () => {
    const q = new Queue<number>();
    q.putNowait(1);
    q.getNowait();
    const ac = new AbortController();
    const reason = new Error('late');
    const late = q.join({ signal: ac.signal });
    const other = q.join();
    q.taskDone();
    ac.abort(reason);
    await expect(late).rejects.toBe(reason);
    await expect(other).resolves.toBeUndefined();
    expect(getEventListeners(ac.signal, 'abort')).toHaveLength(0);
  });

  it('counts an item handed straight to a getter', async () => {
    const q = new Queue<number>();
    const got = q.get();
    q.putNowait(1);
    await got;
    const joined = track(q.join());
    await flush();
    expect(joined.status).toBe('pending');
    q.taskDone();
    await flush();
    expect(joined.status).toBe('fulfilled');
  });
});

describe('Queue.shutdown()', () => {
  it('rejects put() and putNowait() from then on', async () => {
    const q = new Queue<number>();
    q.shutdown();
    await expect(q.put(1)).rejects.toBeInstanceOf(QueueShutDownError);
    expect(() => q.putNowait(1)).toThrow(QueueShutDownError);
  });

  it('lets getters drain the queue, then rejects get() with QueueShutDownError', async () => {
    const q = new Queue<number>();
    q.putNowait(1);
    q.putNowait(2);
    q.shutdown();
    expect(await q.get()).toBe(1);
    expect(q.getNowait()).toBe(2);
    await expect(q.get()).rejects.toBeInstanceOf(QueueShutDownError);
    expect(() => q.getNowait()).toThrow(QueueShutDownError);
  });

  it('rejects blocked getters and putters with QueueShutDownError', async () => {
    const empty = new Queue<number>();
    const getter = empty.get();
    const full = new Queue<number>({ maxsize: 1 });
    full.putNowait(1);
    const putter = full.put(2);
    empty.shutdown();
    full.shutdown();
    await expect(getter).rejects.toBeInstanceOf(QueueShutDownError);
    await expect(putter).rejects.toBeInstanceOf(QueueShutDownError);
    expect(full.getNowait()).toBe(1);
  });

  it('rejects a putter that was handed a slot but resumes after shutdown', async () => {
    const q = new Queue<number>({ maxsize: 1 });
    q.putNowait(1);
    const putter = q.put(2);
    q.getNowait();
    q.shutdown();
    await expect(putter).rejects.toBeInstanceOf(QueueShutDownError);
    expect(q.empty()).toBe(true);
  });

  it('with immediate discards queued items and counts them done for join()', async () => {
    const q = new Queue<number>();
    q.putNowait(1);
    q.putNowait(2);
    q.putNowait(3);
    expect(q.getNowait()).toBe(1); // taken, not yet done
    const joined = track(q.join());
    q.shutdown(true);
    expect(q.size).toBe(0);
    expect(() => q.getNowait()).toThrow(QueueShutDownError);
    await flush();
    expect(joined.status).toBe('pending'); // item 1 still unfinished
    q.taskDone();
    await flush();
    expect(joined.status).toBe('fulfilled');
    expect(() => q.taskDone()).toThrow(InvalidStateError);
  });

  it('with immediate releases join() at once when nothing was taken', async () => {
    const q = new Queue<number>();
    q.putNowait(1);
    const joined = q.join();
    q.shutdown(true);
    await expect(joined).resolves.toBeUndefined();
  });

  it('with immediate discards an item given back by a woken, aborted getter', async () => {
    const q = new Queue<number>();
    const ac = new AbortController();
    const getter = q.get({ signal: ac.signal });
    q.putNowait(1);
    q.shutdown(true);
    ac.abort();
    await expect(getter).rejects.toBeInstanceOf(DOMException);
    expect(q.size).toBe(0);
    await q.join();
  });
});

describe('Queue[Symbol.asyncIterator]()', () => {
  it('yields items until the queue is shut down and drained', async () => {
    const q = new Queue<number>();
    const seen: number[] = [];
    const consumer = (async () => {
      for await (const item of q) seen.push(item);
    })();
    q.putNowait(1);
    await flush();
    q.putNowait(2);
    q.putNowait(3);
    q.shutdown();
    await consumer;
    expect(seen).toEqual([1, 2, 3]);
  });

  it('loses nothing when the loop is left early', async () => {
    const q = new Queue<number>();
    for (const i of [1, 2, 3]) q.putNowait(i);
    for await (const item of q) {
      expect(item).toBe(1);
      break;
    }
    expect(q.size).toBe(2);
    expect(q.getNowait()).toBe(2);
  });

  it('withdraws a pending get() on return(), leaving no getter behind', async () => {
    const q = new Queue<number>();
    const it = q[Symbol.asyncIterator]();
    const next = it.next();
    await it.return!();
    await expect(next).resolves.toEqual({ done: true, value: undefined });
    q.putNowait(7);
    expect(q.getNowait()).toBe(7);
    await expect(it.next()).resolves.toEqual({ done: true, value: undefined });
  });

  it('gives back an item handed to a pending next() when return() lands in the same tick', async () => {
    const q = new Queue<number>();
    const it = q[Symbol.asyncIterator]();
    const next = it.next();
    await flush();
    q.putNowait(5);
    await it.return!();
    await expect(next).resolves.toEqual({ done: true, value: undefined });
    expect(q.getNowait()).toBe(5);
  });
});
