import fc from 'fast-check';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { gather } from '../../src/gather.js';
import { sleep } from '../../src/timeout.js';

beforeEach(() => {
  vi.useFakeTimers();
});
afterEach(() => {
  vi.useRealTimers();
});

const itemSpec = fc.record({
  delay: fc.integer({ min: 0, max: 50 }),
  fails: fc.boolean(),
  asFunction: fc.boolean(),
});

describe('gather() properties', () => {
  it('keeps input order and puts each failure in its own place with returnExceptions', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(itemSpec, { maxLength: 8 }), async (specs) => {
        const items = specs.map((s, i) => {
          const run = (signal?: AbortSignal) =>
            sleep(s.delay, { signal }).then(() => {
              if (s.fails) throw new Error(`e${i}`);
              return i;
            });
          return s.asFunction ? (signal: AbortSignal) => run(signal) : run();
        });
        const p = gather(items, { returnExceptions: true });
        await vi.advanceTimersByTimeAsync(60);
        const result = await p;
        expect(result.map((r) => (r instanceof Error ? r.message : r))).toEqual(
          specs.map((s, i) => (s.fails ? `e${i}` : i)),
        );
      }),
      { numRuns: 60 },
    );
  });

  it('rejects with the earliest failure and aborts every function item still running', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(itemSpec, { minLength: 1, maxLength: 8 }), async (specs) => {
        const signals: (AbortSignal | undefined)[] = [];
        const items = specs.map((s, i) => {
          const run = (signal?: AbortSignal) =>
            sleep(s.delay, { signal }).then(() => {
              if (s.fails) throw new Error(`e${i}`);
              return i;
            });
          return s.asFunction
            ? (signal: AbortSignal) => {
                signals[i] = signal;
                return run(signal);
              }
            : run();
        });
        const p = gather(items).then(
          (v) => ({ ok: true as const, v }),
          (e: unknown) => ({ ok: false as const, e }),
        );
        await vi.advanceTimersByTimeAsync(60);
        const outcome = await p;
        // the first failure in time; between equal delays, whichever timer was created first
        const failing = specs.map((s, i) => ({ ...s, i })).filter((s) => s.fails);
        if (failing.length === 0) {
          expect(outcome).toEqual({ ok: true, v: specs.map((_, i) => i) });
          return;
        }
        const first = failing.reduce((a, b) => (b.delay < a.delay ? b : a));
        const candidates = failing.filter((s) => s.delay === first.delay).map((s) => `e${s.i}`);
        expect(outcome.ok).toBe(false);
        expect(candidates).toContain((outcome as { e: Error }).e.message);
        specs.forEach((s, i) => {
          if (s.asFunction && s.delay > first.delay) expect(signals[i]?.aborted).toBe(true);
        });
      }),
      { numRuns: 60 },
    );
  });
});
