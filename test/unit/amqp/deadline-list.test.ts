import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { DeadlineList } from '../../../adapters/amqp/deadline-list.js';
import { now } from '../../../src/internal/index.js';

const DAY = 86_400_000;

interface Item {
  name: string;
  done: boolean;
}

function list(): { deadlines: DeadlineList<Item>; expired: string[] } {
  const expired: string[] = [];
  const deadlines = new DeadlineList<Item>(
    (item) => item.done,
    (item) => {
      item.done = true;
      expired.push(item.name);
    },
  );
  return { deadlines, expired };
}

describe('DeadlineList', () => {
  beforeEach(() => vi.useFakeTimers());
  afterEach(() => vi.useRealTimers());

  it('expires items at their deadlines, in order, with one timer', () => {
    const { deadlines, expired } = list();
    const start = now();
    deadlines.add({ name: 'a', done: false }, start + 100);
    deadlines.add({ name: 'b', done: false }, start + 200);
    expect(vi.getTimerCount()).toBe(1);
    vi.advanceTimersByTime(99);
    expect(expired).toEqual([]);
    vi.advanceTimersByTime(1);
    expect(expired).toEqual(['a']);
    vi.advanceTimersByTime(100);
    expect(expired).toEqual(['a', 'b']);
    expect(vi.getTimerCount()).toBe(0);
  });

  it('waits out a deadline 3e9 ms away (past setTimeout’s limit) instead of firing at once', () => {
    const { deadlines, expired } = list();
    deadlines.add({ name: 'far', done: false }, now() + 3e9);
    vi.advanceTimersByTime(30 * DAY);
    expect(expired).toEqual([]);
    vi.advanceTimersByTime(3e9 - 30 * DAY);
    expect(expired).toEqual(['far']);
  });

  it('skips items that are done and drops them from the head when more are added', () => {
    const { deadlines, expired } = list();
    const a = { name: 'a', done: false };
    deadlines.add(a, now() + 100);
    a.done = true;
    deadlines.add({ name: 'b', done: false }, now() + 150);
    expect(deadlines.size).toBe(1);
    vi.advanceTimersByTime(150);
    expect(expired).toEqual(['b']);
  });

  it('forget() keeps the timer, which finds nothing and stops; clear() stops it at once', () => {
    const { deadlines, expired } = list();
    deadlines.add({ name: 'a', done: true }, now() + 100);
    deadlines.forget();
    expect(deadlines.size).toBe(0);
    expect(vi.getTimerCount()).toBe(1);
    vi.advanceTimersByTime(100);
    expect(vi.getTimerCount()).toBe(0);
    deadlines.add({ name: 'b', done: false }, now() + 100);
    deadlines.clear();
    expect(vi.getTimerCount()).toBe(0);
    vi.advanceTimersByTime(200);
    expect(expired).toEqual([]);
  });
});
