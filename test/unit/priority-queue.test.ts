import { describe, expect, it } from 'vitest';
import { QueueFullError, QueueShutDownError } from '../../src/errors.js';
import { PriorityQueue } from '../../src/priority-queue.js';
import { Queue } from '../../src/queue.js';

describe('PriorityQueue.get()', () => {
  it('returns the smallest item first by natural order', async () => {
    const q = new PriorityQueue<number>();
    for (const n of [5, 1, 4, 2, 3, 0, 9, 7]) q.putNowait(n);
    const out: number[] = [];
    while (!q.empty()) out.push(await q.get());
    expect(out).toEqual([0, 1, 2, 3, 4, 5, 7, 9]);
  });

  it('orders by compare and sorts random input like Array.prototype.sort', () => {
    const q = new PriorityQueue<{ p: number }>({ compare: (a, b) => b.p - a.p });
    const input = Array.from({ length: 500 }, () => ({ p: Math.floor(Math.random() * 100) }));
    for (const x of input) q.putNowait(x);
    const out: number[] = [];
    while (!q.empty()) out.push(q.getNowait().p);
    expect(out).toEqual(input.map((x) => x.p).sort((a, b) => b - a));
  });

  it('gives an item back to the heap when a woken getter is aborted', async () => {
    const q = new PriorityQueue<number>();
    const ac = new AbortController();
    const getter = q.get({ signal: ac.signal });
    q.putNowait(2);
    q.putNowait(1);
    ac.abort();
    await expect(getter).rejects.toBeInstanceOf(DOMException);
    expect([q.getNowait(), q.getNowait()]).toEqual([1, 2]);
  });

  it('is a Queue: maxsize and shutdown apply', () => {
    const q = new PriorityQueue<number>({ maxsize: 1 });
    expect(q).toBeInstanceOf(Queue);
    q.putNowait(3);
    expect(() => q.putNowait(1)).toThrow(QueueFullError);
    q.shutdown(true);
    expect(() => q.getNowait()).toThrow(QueueShutDownError);
  });

  it('throws TypeError for a compare that is not a function', () => {
    expect(() => new PriorityQueue({ compare: 1 as unknown as () => number })).toThrow(TypeError);
  });
});
