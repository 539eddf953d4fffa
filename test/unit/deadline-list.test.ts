import { afterEach, describe, expect, it, vi } from 'vitest';
import { DeadlineList } from '../../src/internal/deadline-list.js';
import type { Expiring } from '../../src/internal/deadline-list.js';

afterEach(() => {
  vi.useRealTimers();
});

class Entry implements Expiring {
  deadline = NaN;
  deadlineGroup: object | undefined = undefined;
  constructor(readonly name: string) {}
}

/** A list whose expiries are recorded with the (fake) time they happened at. */
function recording() {
  const start = performance.now();
  const expired: [name: string, at: number][] = [];
  const list = new DeadlineList<Entry>((e) => expired.push([e.name, performance.now() - start]));
  return { list, expired };
}

const DAY = 86_400_000;

function refedTimers(): number {
  return process.getActiveResourcesInfo().filter((r) => r === 'Timeout').length;
}

describe('DeadlineList.add()', () => {
  it('expires entries with one timeout in order, each at its deadline, under a single timer', async () => {
    vi.useFakeTimers();
    const { list, expired } = recording();
    list.add(new Entry('a'), 100);
    await vi.advanceTimersByTimeAsync(30);
    list.add(new Entry('b'), 100);
    list.add(new Entry('c'), 100);
    expect(vi.getTimerCount()).toBe(1);
    await vi.advanceTimersByTimeAsync(69); // t = 99
    expect(expired).toEqual([]);
    await vi.advanceTimersByTimeAsync(1); // t = 100
    expect(expired).toEqual([['a', 100]]);
    await vi.advanceTimersByTimeAsync(30); // t = 130
    expect(expired).toEqual([
      ['a', 100],
      ['b', 130],
      ['c', 130],
    ]);
    expect(list.size).toBe(0);
    expect(vi.getTimerCount()).toBe(0);
  });

  it('keeps a timer per distinct timeout, each firing for its own entries', async () => {
    vi.useFakeTimers();
    const { list, expired } = recording();
    list.add(new Entry('slow'), 100);
    list.add(new Entry('fast'), 30);
    list.add(new Entry('slow2'), 100);
    expect(vi.getTimerCount()).toBe(2);
    await vi.advanceTimersByTimeAsync(100);
    expect(expired).toEqual([
      ['fast', 30],
      ['slow', 100],
      ['slow2', 100],
    ]);
  });

  it('sets the deadline on the performance.now() clock, rounding the timeout up to the ms', () => {
    vi.useFakeTimers();
    const { list } = recording();
    const e = new Entry('a');
    const now = performance.now();
    list.add(e, 9.2);
    expect(e.deadline).toBe(now + 10);
    list.clear();
  });

  it('honours a 30-day timeout (beyond what setTimeout can wait for) to the ms', async () => {
    vi.useFakeTimers();
    const { list, expired } = recording();
    list.add(new Entry('month'), 30 * DAY);
    await vi.advanceTimersByTimeAsync(30 * DAY - 1);
    expect(expired).toEqual([]);
    await vi.advanceTimersByTimeAsync(1);
    expect(expired).toEqual([['month', 30 * DAY]]);
  });

  it('never expires an Infinity timeout and arms no timer for it', async () => {
    vi.useFakeTimers();
    const { list, expired } = recording();
    const e = new Entry('forever');
    list.add(e, Infinity);
    expect(e.deadline).toBe(Infinity);
    expect(vi.getTimerCount()).toBe(0);
    expect(list.size).toBe(0);
    await vi.advanceTimersByTimeAsync(365 * DAY);
    expect(expired).toEqual([]);
    list.delete(e); // a no-op
  });

  it('lets onExpire add entries, which get a timer of their own', async () => {
    vi.useFakeTimers();
    const start = performance.now();
    const seen: [string, number][] = [];
    const list = new DeadlineList<Entry>((e) => {
      seen.push([e.name, performance.now() - start]);
      if (e.name === 'first') list.add(new Entry('again'), 50);
    });
    list.add(new Entry('first'), 50);
    await vi.advanceTimersByTimeAsync(200);
    expect(seen).toEqual([
      ['first', 50],
      ['again', 100],
    ]);
  });
});

describe('DeadlineList.delete()', () => {
  it('drops an entry, and the timer is re-armed for the earliest live deadline', async () => {
    vi.useFakeTimers();
    const { list, expired } = recording();
    const a = new Entry('a');
    list.add(a, 100);
    await vi.advanceTimersByTimeAsync(50);
    list.add(new Entry('b'), 100);
    list.delete(a);
    list.delete(a); // idempotent
    expect(list.size).toBe(1);
    await vi.advanceTimersByTimeAsync(50); // t = 100: a's deadline, nothing due
    expect(expired).toEqual([]);
    await vi.advanceTimersByTimeAsync(50); // t = 150
    expect(expired).toEqual([['b', 150]]);
  });

  it('stops holding the process open once no entry is live', () => {
    const { list } = recording();
    const before = refedTimers();
    const a = new Entry('a');
    list.add(a, 60_000);
    expect(refedTimers()).toBe(before + 1);
    list.delete(a);
    expect(refedTimers()).toBe(before);
    list.add(new Entry('b'), 60_000); // the same timer is armed again for it
    expect(refedTimers()).toBe(before + 1);
    list.clear();
    expect(refedTimers()).toBe(before);
  });

  it('does not pin entries that settled behind a live one', () => {
    vi.useFakeTimers();
    const { list } = recording();
    list.add(new Entry('head'), 1000); // stays live throughout
    for (let i = 0; i < 10_000; i++) {
      const e = new Entry(`e${i}`);
      list.add(e, 1000);
      list.delete(e);
    }
    expect(list.size).toBe(1);
    expect(list.held).toBeLessThan(200); // settled entries were compacted away as they came
    list.clear();
    expect(list.held).toBe(0);
  });
});

describe('DeadlineList.clear()', () => {
  it('cancels every timer and forgets every entry', async () => {
    vi.useFakeTimers();
    const { list, expired } = recording();
    const a = new Entry('a');
    list.add(a, 10);
    list.add(new Entry('b'), 20);
    list.clear();
    expect(vi.getTimerCount()).toBe(0);
    expect(a.deadlineGroup).toBeUndefined();
    await vi.advanceTimersByTimeAsync(100);
    expect(expired).toEqual([]);
    expect(list.size).toBe(0);
  });
});
