import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { watchSilence } from '../../../adapters/amqp/silence-watch.js';

describe('watchSilence()', () => {
  beforeEach(() => vi.useFakeTimers());
  afterEach(() => vi.useRealTimers());

  it('calls onSilent once, between 1 and 1.5 intervals after the last byte arrived', () => {
    const socket = { bytesRead: 0 };
    const onSilent = vi.fn();
    watchSilence(socket, 1_000, onSilent);
    vi.advanceTimersByTime(400);
    socket.bytesRead = 10; // a server heartbeat
    vi.advanceTimersByTime(1_000);
    expect(onSilent).not.toHaveBeenCalled();
    vi.advanceTimersByTime(500);
    expect(onSilent).toHaveBeenCalledTimes(1);
    const silentMs = onSilent.mock.calls[0]![0] as number;
    expect(silentMs).toBeGreaterThan(1_000);
    expect(silentMs).toBeLessThanOrEqual(1_500);
    vi.advanceTimersByTime(10_000);
    expect(onSilent).toHaveBeenCalledTimes(1);
  });

  it('stays quiet while bytes keep arriving (a server beat every half interval)', () => {
    const socket = { bytesRead: 0 };
    const onSilent = vi.fn();
    watchSilence(socket, 1_000, onSilent);
    for (let i = 0; i < 40; i++) {
      vi.advanceTimersByTime(500);
      socket.bytesRead += 8;
    }
    expect(onSilent).not.toHaveBeenCalled();
  });

  it('does not count time this process did not run as silence (a late check starts the count again)', async () => {
    vi.useRealTimers();
    const socket = { bytesRead: 0 };
    const onSilent = vi.fn();
    const stop = watchSilence(socket, 200, onSilent);
    try {
      // The event loop is blocked for 2 intervals: the bytes that came meanwhile are still unread
      // in the kernel when the late check runs, before the poll phase reads them.
      const until = performance.now() + 400;
      while (performance.now() < until) {
        // busy: nothing else runs
      }
      await new Promise((resolve) => setTimeout(resolve, 0));
      expect(onSilent).not.toHaveBeenCalled();
      socket.bytesRead = 1; // now read
      await new Promise((resolve) => setTimeout(resolve, 100));
      expect(onSilent).not.toHaveBeenCalled();
    } finally {
      stop();
    }
  });

  it('the returned function stops the watch; heartbeats off (0) or Infinity watch nothing', () => {
    const socket = { bytesRead: 0 };
    const onSilent = vi.fn();
    const stop = watchSilence(socket, 1_000, onSilent);
    stop();
    stop();
    watchSilence(socket, 0, onSilent);
    watchSilence(socket, Infinity, onSilent);
    vi.advanceTimersByTime(60_000);
    expect(onSilent).not.toHaveBeenCalled();
    expect(vi.getTimerCount()).toBe(0);
  });
});
