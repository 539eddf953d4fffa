import { describe, expect, it } from 'vitest';
import { SlowTexts } from '../../../adapters/postgres/slow-texts.js';

describe('SlowTexts', () => {
  it('skips() sends a text found slow past the pipeline, letting one run in 64 probe it again', () => {
    const slow = new SlowTexts();
    expect(slow.skips('select report()')).toBe(false);
    slow.add('select report()');
    const runs = Array.from({ length: 64 }, () => slow.skips('select report()'));
    expect(runs.slice(0, 63).every(Boolean)).toBe(true);
    expect(runs[63]).toBe(false); // the probe
    expect(slow.size).toBe(0);
    expect(slow.skips('select report()')).toBe(false);
  });

  it('add() starts the count again, and other texts are not affected', () => {
    const slow = new SlowTexts();
    slow.add('a');
    slow.skips('a');
    slow.add('a');
    expect(Array.from({ length: 63 }, () => slow.skips('a')).every(Boolean)).toBe(true);
    expect(slow.skips('b')).toBe(false);
  });

  it('remembers a bounded number of texts', () => {
    const slow = new SlowTexts();
    for (let i = 0; i < 1_000; i++) slow.add(`select ${i}`);
    expect(slow.size).toBeLessThanOrEqual(256);
  });
});
