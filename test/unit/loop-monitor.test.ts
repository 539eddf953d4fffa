import { afterEach, describe, expect, it, vi } from 'vitest';
import { monitorEventLoop } from '../../src/loop-monitor.js';
import type { LoopBlockedInfo } from '../../src/loop-monitor.js';

function busyWait(ms: number): void {
  const end = performance.now() + ms;
  while (performance.now() < end) {
    // deliberately blocking the event loop
  }
}

const pause = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

afterEach(() => {
  vi.restoreAllMocks();
});

describe('monitorEventLoop()', () => {
  it('reports a stall of about three times the threshold through onBlocked and stats()', async () => {
    const seen: LoopBlockedInfo[] = [];
    const monitor = monitorEventLoop({ threshold: 100, onBlocked: (info) => seen.push(info) });
    try {
      await pause(60);
      busyWait(300);
      await pause(120);
      expect(seen.length).toBeGreaterThanOrEqual(1);
      expect(seen[0]!.delay).toBeGreaterThan(100);
      expect(seen[0]!.threshold).toBe(100);
      const stats = monitor.stats();
      expect(stats.blocked).toBe(seen.length);
      expect(stats.maxDelay).toBeGreaterThan(100);
      expect(stats.p99).toBeGreaterThan(0);
    } finally {
      monitor.stop();
    }
  });

  it('emits a process warning when no onBlocked is given', async () => {
    const warn = vi.spyOn(process, 'emitWarning').mockImplementation(() => {});
    const monitor = monitorEventLoop({ threshold: 50 });
    try {
      await pause(30);
      busyWait(200);
      await pause(80);
      expect(warn).toHaveBeenCalledWith(
        expect.stringMatching(/^Event loop blocked for \d+ ms \(threshold 50 ms\)$/),
        { type: 'ConnkitEventLoopBlocked' },
      );
    } finally {
      monitor.stop();
    }
  });

  it('reports nothing after stop(), which is idempotent', async () => {
    const onBlocked = vi.fn();
    const monitor = monitorEventLoop({ threshold: 50, onBlocked });
    monitor.stop();
    monitor.stop();
    busyWait(200);
    await pause(80);
    expect(onBlocked).not.toHaveBeenCalled();
    expect(monitor.stats().blocked).toBe(0);
  });

  it('survives an onBlocked that throws', async () => {
    const warn = vi.spyOn(process, 'emitWarning').mockImplementation(() => {});
    const monitor = monitorEventLoop({
      threshold: 50,
      onBlocked: () => {
        throw new Error('reporter broke');
      },
    });
    try {
      await pause(30);
      busyWait(200);
      await pause(80);
      expect(monitor.stats().blocked).toBeGreaterThanOrEqual(1);
      expect(warn).toHaveBeenCalledWith(
        expect.objectContaining({ message: 'reporter broke' }),
        'ConnkitCallbackWarning',
      );
    } finally {
      monitor.stop();
    }
  });

  it('validates its options', () => {
    expect(() => monitorEventLoop({ threshold: -1 })).toThrow(/got -1/);
    expect(() => monitorEventLoop({ onBlocked: 'x' as never })).toThrow(TypeError);
  });
});
