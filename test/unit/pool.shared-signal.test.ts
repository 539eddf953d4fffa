import { describe, expect, it } from 'vitest';
import { Pool } from '../../src/pool.js';
import { FakeFactory } from './helpers/pool-factory.js';
import { maxListenersWarnings, trackListeners } from './helpers/unhandled-rejections.js';

describe('Pool with one signal shared by many calls', () => {
  it('Pool.acquire(): 200 callers queued on one signal hold one listener, raise no warning, and leave none', async () => {
    const pool = new Pool(new FakeFactory(), { max: 1 });
    const controller = new AbortController();
    const listeners = trackListeners(controller.signal);
    const warnings = await maxListenersWarnings(async () => {
      const first = await pool.acquire({ signal: controller.signal });
      const queued = Array.from({ length: 200 }, () => pool.acquire({ signal: controller.signal }));
      // The acquire that got a resource holds nothing; every queued one shares one listener.
      expect(listeners.active()).toBeLessThanOrEqual(1);
      await first.release();
      for (const p of queued) await (await p).release();
    });
    expect(warnings).toEqual([]);
    expect(listeners.active()).toBe(0);
    await pool.close();
  });

  it('Pool.acquire(): 100 acquires creating at once on one signal hold one listener and raise no warning', async () => {
    const f = new FakeFactory();
    f.createDelay = 20;
    const pool = new Pool(f, { max: 100 });
    const controller = new AbortController();
    const listeners = trackListeners(controller.signal);
    const warnings = await maxListenersWarnings(async () => {
      const creating = Array.from({ length: 100 }, () => pool.acquire({ signal: controller.signal }));
      expect(f.createCalls).toBe(100);
      expect(listeners.active()).toBe(1);
      for (const p of creating) await (await p).release();
    });
    expect(warnings).toEqual([]);
    expect(listeners.active()).toBe(0);
    await pool.close();
  });

  it('Pool.use(): 10 000 calls on one signal, 64 at a time, leave no listener on it', async () => {
    const pool = new Pool(new FakeFactory(), { max: 4 });
    const controller = new AbortController();
    const listeners = trackListeners(controller.signal);
    let peak = 0;
    const warnings = await maxListenersWarnings(async () => {
      let next = 0;
      const worker = async (): Promise<void> => {
        while (next++ < 10_000) {
          await pool.use(async () => void (peak = Math.max(peak, listeners.active())), {
            signal: controller.signal,
          });
        }
      };
      await Promise.all(Array.from({ length: 64 }, worker));
    });
    expect(warnings).toEqual([]);
    expect(peak).toBeLessThanOrEqual(1);
    expect(listeners.active()).toBe(0);
    await pool.close();
  });

  it('Pool.acquire(): aborting the shared signal rejects every queued caller with its reason', async () => {
    const pool = new Pool(new FakeFactory(), { max: 1 });
    const controller = new AbortController();
    const held = await pool.acquire();
    const queued = Array.from({ length: 20 }, () => pool.acquire({ signal: controller.signal }));
    const reason = new Error('request ended');
    controller.abort(reason);
    for (const p of queued) await expect(p).rejects.toBe(reason);
    await held.release();
    expect(pool.stats()).toMatchObject({ pending: 0, borrowed: 0 });
    await pool.close();
  });
});
