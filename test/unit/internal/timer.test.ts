import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { delay, MAX_TIMEOUT, now, startTimer, startTimerAt } from '../../../src/internal/timer.js';
import { Deadline } from '../../../src/internal/deadline.js';

const DAY = 86_400_000;

describe('startTimer()', () => {
  beforeEach(() => vi.useFakeTimers());
  afterEach(() => vi.useRealTimers());

  it('startTimer() waits the whole of a 30-day delay instead of firing at once', () => {
    const cb = vi.fn();
    startTimer(30 * DAY, cb);
    vi.advanceTimersByTime(1);
    expect(cb).not.toHaveBeenCalled();
    vi.advanceTimersByTime(MAX_TIMEOUT);
    expect(cb).not.toHaveBeenCalled();
    vi.advanceTimersByTime(30 * DAY - MAX_TIMEOUT - 2);
    expect(cb).not.toHaveBeenCalled();
    vi.advanceTimersByTime(1);
    expect(cb).toHaveBeenCalledTimes(1);
  });

  it('startTimer() never fires for Infinity and arms no timer', () => {
    const cb = vi.fn();
    startTimer(Infinity, cb);
    expect(vi.getTimerCount()).toBe(0);
    vi.advanceTimersByTime(100 * DAY);
    expect(cb).not.toHaveBeenCalled();
  });

  it('startTimer() returns a cancel that also stops a re-armed long timer', () => {
    const cb = vi.fn();
    const cancel = startTimer(3 * MAX_TIMEOUT, cb);
    vi.advanceTimersByTime(MAX_TIMEOUT + 5);
    cancel();
    vi.advanceTimersByTime(3 * MAX_TIMEOUT);
    expect(cb).not.toHaveBeenCalled();
    expect(vi.getTimerCount()).toBe(0);
  });

  it('startTimerAt() fires at a deadline on the now() clock, and at once for one in the past', () => {
    const cb = vi.fn();
    startTimerAt(now() + 50, cb);
    vi.advanceTimersByTime(49);
    expect(cb).not.toHaveBeenCalled();
    vi.advanceTimersByTime(1);
    expect(cb).toHaveBeenCalledTimes(1);
    const late = vi.fn();
    startTimerAt(now() - 10, late);
    vi.advanceTimersByTime(0);
    expect(late).toHaveBeenCalledTimes(1);
  });

  it("delay() resolves after its time with an unref'd timer", async () => {
    let done = false;
    const p = delay(30 * DAY).then(() => (done = true));
    await vi.advanceTimersByTimeAsync(29 * DAY);
    expect(done).toBe(false);
    await vi.advanceTimersByTimeAsync(DAY);
    await p;
    expect(done).toBe(true);
  });
});

describe('Deadline', () => {
  beforeEach(() => vi.useFakeTimers());
  afterEach(() => vi.useRealTimers());

  it('Deadline.after() counts down on the one clock and expires', () => {
    const d = Deadline.after(100);
    expect(d.ms).toBe(100);
    expect(d.remaining()).toBe(100);
    vi.advanceTimersByTime(60);
    expect(d.remaining()).toBe(40);
    expect(d.expired()).toBe(false);
    vi.advanceTimersByTime(40);
    expect(d.expired()).toBe(true);
    expect(d.remaining()).toBe(0);
  });

  it('Deadline.after(Infinity) is NEVER: infinite remaining, never expired', () => {
    const d = Deadline.after(Infinity);
    expect(d).toBe(Deadline.NEVER);
    expect(d.infinite).toBe(true);
    vi.advanceTimersByTime(365 * DAY);
    expect(d.remaining()).toBe(Infinity);
    expect(d.expired()).toBe(false);
  });

  it('Deadline.atMost() keeps the earlier of the two deadlines', () => {
    const d = Deadline.after(1000);
    expect(d.atMost(5000)).toBe(d);
    expect(d.atMost(Infinity)).toBe(d);
    const sooner = d.atMost(10);
    expect(sooner.ms).toBe(10);
    expect(sooner.remaining()).toBe(10);
    expect(Deadline.NEVER.atMost(20).remaining()).toBe(20);
  });

  it('Deadline.after() takes durations above 2^31-1 ms', () => {
    const d = Deadline.after(3e9);
    vi.advanceTimersByTime(MAX_TIMEOUT);
    expect(d.expired()).toBe(false);
    expect(d.remaining()).toBe(3e9 - MAX_TIMEOUT);
  });
});
