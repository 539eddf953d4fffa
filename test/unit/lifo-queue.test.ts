import { describe, expect, it } from 'vitest';
import { LifoQueue } from '../../src/lifo-queue.js';
import { Queue } from '../../src/queue.js';

describe('LifoQueue.get()', () => {
  it('returns the most recently put item first', async () => {
    const q = new LifoQueue<number>();
    for (const n of [1, 2, 3]) await q.put(n);
    expect([await q.get(), await q.get(), await q.get()]).toEqual([3, 2, 1]);
  });

  it('puts an item given back by a woken, aborted getter on top', async () => {
    const q = new LifoQueue<string>();
    const ac = new AbortController();
    const getter = q.get({ signal: ac.signal });
    q.putNowait('handed');
    q.putNowait('later');
    ac.abort();
    await expect(getter).rejects.toBeInstanceOf(DOMException);
    expect(q.getNowait()).toBe('handed');
    expect(q.getNowait()).toBe('later');
  });

  it('is a Queue with bounded size and waiting putters', async () => {
    const q = new LifoQueue<number>({ maxsize: 1 });
    expect(q).toBeInstanceOf(Queue);
    q.putNowait(1);
    const putter = q.put(2);
    expect(q.getNowait()).toBe(1);
    await putter;
    expect(q.getNowait()).toBe(2);
  });
});
